"""Hypothesis strategies for what a socket.io client may send: any JSON the wire can carry."""

from __future__ import annotations

from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["message", "id", "output", "createdAt", "type", "x"]),
                      inner, max_size=4),
    max_leaves=8,
)  # fmt: skip
payloads = st.lists(json_values, max_size=2).map(tuple)
