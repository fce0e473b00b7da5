"""The endpoint's request checks (endpoint/request_schema.py): whatever a client sends, a
refusal names the parameter and the reason in a few words, and never sends the client's megabytes
back."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_local_chat.endpoint.request_schema import check_chat_request

USER = {"role": "user", "content": "Hi"}


def asking(messages: list[Any] | None = None, **parameters: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [USER] if messages is None else messages, **parameters}


# What a client reads for each rule (worded as before the schema was pydantic's).
REFUSALS = [
    ({"messages": [USER]}, "model", "is required"),
    ({"model": "m"}, "messages", "is required"),
    (asking(model=None), "model", "is required"),
    (asking(model=""), "model", "must not be empty"),
    (asking([]), "messages", "must not be empty"),
    (asking(max_tokens="16"), "max_tokens", "must be an integer, got string"),
    (asking(max_tokens=True), "max_tokens", "must be an integer, got boolean"),
    (asking(max_tokens=0), "max_tokens", "must be between 1 and 2147483647, got 0"),
    (asking(temperature="0.5"), "temperature", "must be a number, got string"),
    (asking(temperature=5), "temperature", "must be between 0 and 2, got 5"),
    (
        asking(temperature=10**400),
        "temperature",
        "must be between 0 and 2, got an integer of 1332 bits",
    ),
    (asking(stream="true"), "stream", "must be a boolean, got string"),
    (asking(n=0), "n", "must be between 1 and 128, got 0"),
    (asking(wizardry=1), "wizardry", "unrecognized request argument"),
    (
        asking([{"role": "wizard", "content": "x"}]),
        "messages[0].role",
        "must be one of system, user, assistant, tool, developer, got 'wizard'",
    ),
    (asking([{"content": "x"}]), "messages[0].role", "is required"),
    (
        asking([{"role": "user"}]),
        "messages[0].content",
        "is required (a string or an array of text parts)",
    ),
    (
        asking([{"role": "user", "content": [{"type": "refusal", "refusal": "no"}]}]),
        "messages[0].content[0].type",
        "must be one of text, got 'refusal'",
    ),
    (
        asking([{"role": "assistant", "content": [{"type": "refusal"}]}]),
        "messages[0].content[0].refusal",
        "must be a string, got null",
    ),
    (
        asking([{"role": "user", "content": [{"type": "input_audio"}]}]),
        "messages[0].content[0].type",
        "input_audio parts are not supported: the model reads text only",
    ),
    (
        asking([{"role": "user", "content": "x", "tool_calls": []}]),
        "messages[0].tool_calls",
        "only assistant messages have tool calls",
    ),
    (
        asking([{"role": "assistant", "tool_calls": [{}]}, {"role": "tool", "content": "r"}]),
        "messages[1].tool_call_id",
        "must be a string, got null",
    ),
    (asking(stop=["a", "b", "c", "d", "e"]), "stop", "has at most 4 sequences, got 5"),
    (asking(stop=["a", ""]), "stop[1]", "must not be empty"),
    (
        asking(stream_options={"include_usage": "yes"}),
        "stream_options.include_usage",
        "must be a boolean, got string",
    ),
    (
        asking(stream_options={"include_usage": 1, "other": True}),
        "stream_options.other",
        "unknown parameter (known: include_usage, include_obfuscation)",
    ),
    (asking(logit_bias={"x": 1}), "logit_bias.x", "keys must be token ids (digits)"),
    (
        asking(logit_bias={"50256": -101}),
        "logit_bias.50256",
        "must be between -100 and 100, got -101",
    ),
    (asking(metadata={"k": 1}), "metadata.k", "must be a string, got integer"),
    (asking(response_format={}), "response_format.type", "must be a string, got null"),
    (
        asking(tool_choice="maybe"),
        "tool_choice",
        "must be one of none, auto, required, got 'maybe'",
    ),
    (asking(tool_choice=[1]), "tool_choice", "must be an object, got array"),
    (
        asking(reasoning_effort="max"),
        "reasoning_effort",
        "must be one of minimal, low, medium, high, got 'max'",
    ),
    (asking(tools=[1]), "tools[0]", "must be an object, got integer"),
    # several problems: the first one a reader meets, in the body's order
    (asking(max_tokens="16", n=0), "max_tokens", "must be an integer, got string"),
    ({"model": "m", "n": 0, "messages": [{"role": "x"}]}, "n", "must be between 1 and 128, got 0"),
]


@pytest.mark.parametrize(("body", "param", "problem"), REFUSALS)
def test_a_refusal_names_the_parameter_and_the_rule(
    body: dict[str, Any], param: str, problem: str
) -> None:
    error = check_chat_request(body)
    assert error is not None and error.status == 400 and error.code == "invalid_request_parameter"
    assert (error.param, error.message) == (param, f"{param}: {problem}")


@pytest.mark.parametrize(
    "body",
    [
        asking(),
        asking(
            [
                {"role": "system", "content": "Be brief.", "name": "rules"},
                {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {}}]},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]},
                {"role": "tool", "content": "sunny", "tool_call_id": "c"},
                {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
            ],
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=16,
            temperature=0,
            top_p=1.0,
            stop="\n",
            logit_bias={"50256": -100},
            tool_choice={"type": "function"},
            seed=-(2**63),
            n=None,
        ),
    ],
)
def test_a_well_formed_request_passes(body: dict[str, Any]) -> None:
    assert check_chat_request(body) is None


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
