"""The endpoint's request checks (request_schema.py): whatever a client sends, a refusal names
the parameter and the reason in a few words, and never sends the client's megabytes back."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_local_chat.request_schema import check_chat_request

USER = {"role": "user", "content": "Hi"}


def test_a_huge_value_is_named_shortened() -> None:
    error = check_chat_request({"model": "m", "messages": [{"role": "x" * 1_000_000}]})
    assert error is not None and error.param == "messages[0].role"
    assert "must be one of" in error.message and len(error.message) < 200


def test_an_integer_too_long_to_print_is_described_by_its_size() -> None:
    error = check_chat_request({"model": "m", "messages": [USER], "max_tokens": 10**5000})
    assert error is not None and error.param == "max_tokens"
    assert "got an integer of" in error.message and len(error.message) < 200


def test_a_huge_unknown_key_is_shortened_in_the_parameters_path() -> None:
    error = check_chat_request({"model": "m", "messages": [USER], "logit_bias": {"k" * 10**5: 1}})
    assert error is not None and error.param is not None
    assert len(error.param) < 80 and len(error.message) < 200


# Built, not sampled: hypothesis prints a sampled value, and Python refuses to print such an int.
huge = st.builds(lambda n: "x" * n, st.integers(10**4, 10**5)) | st.builds(
    lambda n: 10**n, st.integers(300, 6000)
)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | huge,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text() | huge.filter(
        lambda v: isinstance(v, str)), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip
PARAMETERS = [
    "messages", "max_tokens", "temperature", "stop", "logit_bias", "metadata",
    "response_format", "tool_choice", "stream_options", "n", "other",
]  # fmt: skip


@given(
    body=st.fixed_dictionaries(
        {"model": st.just("m") | values},
        optional={
            "messages": st.lists(
                st.fixed_dictionaries({}, optional={"role": values, "content": values}) | values,
                max_size=3,
            ),
            **{name: values for name in PARAMETERS if name != "messages"},
        },
    )
)
@settings(max_examples=150)
def test_any_body_is_accepted_or_refused_in_a_few_words(body: dict[str, Any]) -> None:
    error = check_chat_request(body)
    if error is None:
        return
    assert error.status == 400
    assert 0 < len(error.message) < 400
    assert error.param is None or len(error.param) < 200
