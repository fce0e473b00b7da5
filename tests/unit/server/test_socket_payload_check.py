"""The socket.io payload check alone, fuzzed: it never raises, and a well-formed message passes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from foundry_local_chat.server.socket_payloads import client_message
from foundry_local_chat.ui.texts import words_for

ENGLISH, KOREAN = words_for("en-US").malformed_payload, words_for("ko-KR").malformed_payload


def step(**changes: Any) -> dict[str, Any]:
    good = {
        "id": str(uuid.uuid4()), "threadId": "", "name": "User", "type": "user_message",
        "output": "Hello", "createdAt": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    return {key: value for key, value in {**good, **changes}.items() if value is not ...}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["message", "id", "output", "createdAt", "type", "x"]),
                      inner, max_size=4),
    max_leaves=8,
)  # fmt: skip


payloads = st.lists(json_values, max_size=2).map(tuple)


@given(args=payloads)
def test_the_check_never_raises(args: tuple[Any, ...]) -> None:
    assert client_message(args) is not None  # nothing random is a well-formed message


def test_a_well_formed_message_passes_the_check() -> None:
    assert client_message(({"message": step(), "fileReferences": [{"id": "f"}]},)) is None
    assert client_message(({"message": step(), "fileReferences": None},)) is None
