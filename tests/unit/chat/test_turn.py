"""The chat turn's pure parts: which messages reach the model, stats, and error wording."""

from __future__ import annotations

import httpx2
import pytest
from openai import APIConnectionError, APIStatusError

from foundry_local_chat.chat.turn import (
    REPLY_MODEL_KEY,
    ReplyStats,
    build_messages,
    chat_error,
    turn_role,
)
from foundry_local_chat.ui.chat_view import speed_line, why_it_failed
from foundry_local_chat.ui.texts import ENGLISH, KOREAN, WORDS


def test_only_user_messages_and_model_answers_are_conversation() -> None:
    assert turn_role("user_message", {}) == "user"
    assert turn_role("assistant_message", {REPLY_MODEL_KEY: "m"}) == "assistant"
    assert turn_role("assistant_message", {}) is None  # app notices, "Task manually stopped."
    assert turn_role("assistant_message", None) is None
    assert turn_role("run", {}) is None


def test_messages_start_with_the_system_prompt_and_skip_empty_turns() -> None:
    history = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "  "},
        {"role": "assistant", "content": "Hello!"},
    ]
    assert build_messages("Be brief.", history) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
    ]
    assert build_messages("", history)[0] == {"role": "user", "content": "Hi"}


def test_stats_measure_time_to_first_token_and_decode_speed() -> None:
    stats = ReplyStats(model="m", started=10.0)
    stats.first_token_at, stats.finished_at, stats.chunks = 10.2, 11.2, 51
    assert stats.ttft_seconds == pytest.approx(0.2)
    assert stats.tokens_per_second == pytest.approx(50.0)
    assert stats.total_seconds == pytest.approx(1.2)
    assert (
        speed_line(stats, WORDS[ENGLISH])
        == "first token 200 ms · 50.0 tok/s · 51 tokens · 1.20 s · m"
    )
    stats.completion_tokens = 101  # the server's count wins over the chunk count
    assert stats.tokens_per_second == pytest.approx(100.0)


def test_stats_without_tokens_do_not_invent_a_speed() -> None:
    stats = ReplyStats(model="m", started=1.0)
    stats.finished_at = 2.0
    assert stats.ttft_seconds is None and stats.tokens_per_second is None
    assert speed_line(stats, WORDS[ENGLISH]) == "0 tokens · 1.00 s · m"


def test_errors_are_explained_without_a_stack_trace() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    refused = APIConnectionError(request=request)
    english = WORDS[ENGLISH]
    assert why_it_failed(chat_error(refused), english) == (
        "the model server cannot be reached (is it running?)"
    )
    response = httpx2.Response(
        400, request=request, json={"error": {"message": "Model not loaded"}}
    )
    rejected = APIStatusError("bad", response=response, body={"message": "Model not loaded"})
    assert why_it_failed(chat_error(rejected), english) == (
        "the model server refused the request (400): Model not loaded"
    )
    assert why_it_failed(chat_error(rejected), WORDS[KOREAN]).startswith("모델 서버가 요청을")


async def test_an_unknown_model_is_not_asked_again_without_streaming() -> None:
    from types import SimpleNamespace

    from foundry_local_chat.chat.turn import ChatError, ChatOptions, stream_reply
    from foundry_local_chat.config import GenerationDefaults

    request = httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    calls: list[dict[str, object]] = []

    async def create(**body: object) -> None:
        calls.append(body)
        response = httpx2.Response(404, request=request, json={"error": {"message": "no model"}})
        raise APIStatusError("no model", response=response, body={"message": "no model"})

    completions = SimpleNamespace(create=create, with_raw_response=SimpleNamespace(create=create))
    client = SimpleNamespace(chat=SimpleNamespace(completions=completions))
    options = ChatOptions.defaults("gone:1", "", GenerationDefaults())
    with pytest.raises(ChatError) as failed:
        async for _ in stream_reply(client, options, [], ReplyStats(model="gone:1")):  # type: ignore[arg-type]
            pass
    assert (failed.value.status, failed.value.detail) == (404, "no model")
    assert [call.get("stream") for call in calls] == [True]  # no second, non-streaming try
