"""Which requests a warm session answers, and which go to Foundry's web service as before (no
engine needed: the decision is made on the request alone)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from foundry_local_chat.endpoint.read_speed import DEFAULT_READ_TOKENS_PER_SECOND, ReadSpeed
from foundry_local_chat.endpoint.request_schema import ChatCompletionRequest
from foundry_local_chat.endpoint.session_engine import SESSION_PARAMETERS, messages_of

MODEL = "smollm2-135m-instruct-generic-cpu:1"


def body(**extra: Any) -> dict[str, Any]:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    return {"model": MODEL, "messages": messages, **extra}


def test_a_plain_chat_is_answered_from_a_session() -> None:
    assert messages_of(body(stream=True, temperature=0, max_tokens=64, user="u"), MODEL) == [
        ("system", "Be brief."),
        ("user", "Hi"),
    ]


def test_what_a_session_cannot_answer_as_the_web_service_does_goes_there() -> None:
    assert messages_of(body(stop=["\n"]), MODEL) is None
    assert messages_of(body(tools=[{"type": "function"}]), MODEL) is None
    assert messages_of(body(presence_penalty=0.5), MODEL) is None
    assert messages_of(body(n=2), MODEL) is None
    assert messages_of(body(), "another-model:1") is None
    parts = [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert messages_of({"model": MODEL, "messages": parts}, MODEL) is None
    named = [{"role": "user", "content": "Hi", "name": "ada"}]
    assert messages_of({"model": MODEL, "messages": named}, MODEL) is None
    prefilled = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hel"}]
    assert messages_of({"model": MODEL, "messages": prefilled}, MODEL) is None
    tool = [{"role": "tool", "content": "42", "tool_call_id": "c1"}]
    assert messages_of({"model": MODEL, "messages": tool}, MODEL) is None


def test_text_with_a_nul_goes_to_the_web_service() -> None:
    # The SDK hands text to the engine as a C string, which would end at the NUL.
    nul = [{"role": "user", "content": "before\x00after"}]
    assert messages_of({"model": MODEL, "messages": nul}, MODEL) is None


@given(st.sampled_from(sorted(set(ChatCompletionRequest.model_fields) - SESSION_PARAMETERS)))
def test_every_other_parameter_set_sends_the_request_to_the_web_service(name: str) -> None:
    assert messages_of(body(**{name: "set"}), MODEL) is None


@given(st.text(min_size=1).filter(lambda text: "\x00" not in text))
def test_any_text_is_read_as_it_is(text: str) -> None:
    messages = [{"role": "user", "content": text}]
    assert messages_of({"model": MODEL, "messages": messages}, MODEL) == [("user", text)]


def test_the_read_speed_is_measured_on_real_reads_only() -> None:
    speed = ReadSpeed()
    speed.record(10, 1.0)  # too short to say anything
    assert speed.tokens_per_second == DEFAULT_READ_TOKENS_PER_SECOND and not speed.measured
    speed.record(1000, 2.0)
    assert speed.tokens_per_second == 500 and speed.seconds_for(1000) == 2.0
    speed.record(1000, 10.0)
    assert 100 < speed.tokens_per_second < 500  # a running average, not the last read
