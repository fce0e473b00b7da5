"""Conversations kept warm in Foundry Local's sessions, through the real endpoint (`serve`) and
the bundled model: a follow-up reads only its new message, every turn the engine cannot
continue has its path, and one client's conversation never serves another.

`usage.prompt_tokens_details.cached_tokens` says how many prompt tokens the engine did not read
again (OpenAI's own field); the endpoint's metrics count the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI

from tests.support.metrics_text import sample
from tests.support.processes import Endpoint, start_bundled_endpoint

SYSTEM = {"role": "system", "content": "You are a helpful assistant. Answer in one sentence."}
pytestmark = [pytest.mark.e2e]  # runs `serve`

GREEDY = {"temperature": 0.0, "max_tokens": 200}


@pytest.fixture(scope="module")
def warm_endpoint(
    bundled_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Endpoint]:
    running = start_bundled_endpoint(
        tmp_path_factory.mktemp("warm"), ENDPOINT_WARM_CONVERSATIONS="3"
    )
    yield running
    running.process.stop()


@pytest.fixture
def endpoint(warm_endpoint: Endpoint) -> Endpoint:  # the module's, under the usual name
    return warm_endpoint


def client(endpoint: Endpoint, key: str = "any") -> AsyncOpenAI:
    return AsyncOpenAI(base_url=endpoint.url, api_key=key, max_retries=0)


async def ask(
    endpoint: Endpoint,
    messages: list[dict[str, str]],
    scope: str,
    key: str = "any",
    **options: object,
) -> tuple[str, int, int, str]:
    """One streamed turn: the answer, its prompt tokens, how many were reused, finish reason."""
    stream = await client(endpoint, key).chat.completions.create(
        model=endpoint.model, messages=messages, stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True}, extra_body={"prompt_cache_key": scope},
        **{**GREEDY, **options},  # type: ignore[arg-type]
    )  # fmt: skip
    text, finish, prompt, reused = [], "", 0, 0
    async for chunk in stream:
        if chunk.usage is not None:
            prompt = chunk.usage.prompt_tokens
            details = chunk.usage.prompt_tokens_details
            reused = details.cached_tokens or 0 if details else 0
        if chunk.choices:
            text.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
    return "".join(text), prompt, reused, finish


async def conversation(
    endpoint: Endpoint, scope: str, questions: list[str]
) -> list[dict[str, str]]:
    messages = [SYSTEM]
    for question in questions:
        messages.append({"role": "user", "content": question})
        answer, *_ = await ask(endpoint, messages, scope)
        messages.append({"role": "assistant", "content": answer})
    return messages


def metric(endpoint: Endpoint, name: str) -> float:
    exposition = httpx.get(f"{endpoint.url.removesuffix('/v1')}/metrics").text
    value = sample(exposition, f"foundry_local_chat_endpoint_warm_{name}")
    assert value is not None, f"no metric warm_{name}"
    return value


async def test_a_follow_up_reads_only_its_new_message(endpoint: Endpoint) -> None:
    hits = metric(endpoint, "hits_total")
    messages = [SYSTEM, {"role": "user", "content": "What is the capital of France?"}]
    first, prompt, reused, finish = await ask(endpoint, messages, "follow-up")
    assert (reused, finish) == (0, "stop")
    messages += [{"role": "assistant", "content": first},
                 {"role": "user", "content": "And of Spain?"}]  # fmt: skip
    _, follow_prompt, follow_reused, _ = await ask(endpoint, messages, "follow-up")
    # Everything before the new question was kept: its prompt and the answer as generated.
    assert prompt < follow_reused < follow_prompt
    assert follow_prompt - follow_reused < 30  # the new question and its template, no more
    assert metric(endpoint, "hits_total") == hits + 1


async def test_reuse_does_not_change_the_prompt_the_model_reads(endpoint: Endpoint) -> None:
    messages = await conversation(
        endpoint, "same-prompt", ["Name a red fruit.", "And a yellow one?"]
    )
    question = [*messages, {"role": "user", "content": "And a green one?"}]
    _, warm_prompt, warm_reused, _ = await ask(endpoint, question, "same-prompt")
    _, cold_prompt, cold_reused, _ = await ask(endpoint, question, "someone-else")
    assert warm_reused > 0 and cold_reused == 0
    assert warm_prompt == cold_prompt  # token for token the same conversation


async def test_an_answer_cut_by_the_token_limit_is_read_again_once(endpoint: Endpoint) -> None:
    messages = [SYSTEM, {"role": "user", "content": "Tell me about the sea."}]
    cut, *_, finish = await ask(endpoint, messages, "cut", max_tokens=5)
    assert finish == "length"
    messages += [{"role": "assistant", "content": cut}, {"role": "user", "content": "Thanks."}]
    answer, _, reused, _ = await ask(endpoint, messages, "cut")
    assert reused == 0  # the engine dropped its cache with the cut turn: read once more...
    messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": "Bye."}]
    _, _, reused, _ = await ask(endpoint, messages, "cut")
    assert reused > 0  # ...and warm again after it


async def test_a_stopped_answer_is_read_again_once(endpoint: Endpoint) -> None:
    messages = [SYSTEM, {"role": "user", "content": "Name a dragon."}]
    name, _, _, finish = await ask(endpoint, messages, "stopped")  # a warm conversation...
    assert finish == "stop"
    messages.append({"role": "assistant", "content": name})
    long_question = {"role": "user", "content": "Now write another long story, about a knight."}
    stream = await client(endpoint).chat.completions.create(
        model=endpoint.model, messages=[*messages, long_question],  # type: ignore[list-item]
        stream=True, extra_body={"prompt_cache_key": "stopped"}, temperature=0.0, max_tokens=400,
    )  # fmt: skip
    partial = ""
    async for chunk in stream:
        partial += chunk.choices[0].delta.content or "" if chunk.choices else ""
        if len(partial) > 20:
            break
    await stream.close()  # the user pressed stop: the client goes away mid-answer
    await asyncio.to_thread(endpoint.process.wait_for_line, r"client left a stream", 20)
    follow_up = [*messages, long_question, {"role": "assistant", "content": partial},
                 {"role": "user", "content": "Stop."}]  # fmt: skip
    answer, _, reused, _ = await ask(endpoint, follow_up, "stopped")
    assert answer
    assert reused == 0  # the engine keeps nothing of a cancelled turn, nor its cache


async def test_regenerate_and_edit_keep_the_turns_before_them(endpoint: Endpoint) -> None:
    messages = await conversation(
        endpoint, "edit", ["Name a planet.", "Name a star.", "Name a moon."]
    )
    third_turn = messages[:-1]  # the same request again: regenerate the last answer
    _, prompt, reused, _ = await ask(endpoint, third_turn, "edit")
    assert 0 < reused < prompt and prompt - reused < 30
    edited = [
        *messages[:3],
        {"role": "user", "content": "Name an ocean."},
    ]  # the 2nd question edited
    _, edited_prompt, edited_reused, _ = await ask(endpoint, edited, "edit")
    assert 0 < edited_reused < edited_prompt and edited_prompt - edited_reused < 30
    assert edited_reused < reused  # kept up to the edited turn, not beyond


async def test_one_clients_conversation_never_serves_another(endpoint: Endpoint) -> None:
    messages = await conversation(endpoint, "alice", ["My password is swordfish. Say ok."])
    follow_up = [*messages, {"role": "user", "content": "What did I say?"}]
    for scope, key in (("bob", "any"), ("alice", "another key")):
        _, _, reused, _ = await ask(endpoint, follow_up, scope, key=key)
        assert reused == 0, f"{scope} with key {key!r} continued alice's conversation"
    _, _, reused, _ = await ask(endpoint, follow_up, "alice")
    assert reused > 0


async def test_two_chats_at_once_each_stay_warm(endpoint: Endpoint) -> None:
    first = [SYSTEM, {"role": "user", "content": "Name a colour."}]
    second = [SYSTEM, {"role": "user", "content": "Name an animal."}]
    answers = await asyncio.gather(ask(endpoint, first, "chat-1"), ask(endpoint, second, "chat-2"))
    another = {"role": "user", "content": "Another?"}
    turns = [
        [*first, {"role": "assistant", "content": answers[0][0]}, another],
        [*second, {"role": "assistant", "content": answers[1][0]}, another],
    ]
    again = await asyncio.gather(
        ask(endpoint, turns[0], "chat-1"), ask(endpoint, turns[1], "chat-2")
    )
    assert all(reused > 0 for _, _, reused, _ in again)


async def test_the_least_recently_used_conversation_makes_room(endpoint: Endpoint) -> None:
    # The module's endpoint keeps 3: a fourth and fifth conversation push the oldest out.
    evictions = metric(endpoint, "evictions_total")
    oldest = await conversation(endpoint, "oldest", ["Say one."])
    for scope in ("newer-1", "newer-2", "newer-3"):
        await conversation(endpoint, scope, ["Say two."])
    assert metric(endpoint, "evictions_total") >= evictions + 1
    assert metric(endpoint, "conversations") <= 3
    assert metric(endpoint, "pool_bytes") == metric(endpoint, "conversations") * 377_487_360
    _, _, reused, _ = await ask(
        endpoint, [*oldest, {"role": "user", "content": "Again."}], "oldest"
    )
    assert reused == 0  # evicted: read again, and answered all the same


async def test_a_restarted_endpoint_reads_the_whole_conversation_once(
    bundled_model_dir: Path, tmp_path: Path
) -> None:
    first = start_bundled_endpoint(tmp_path / "a")
    try:
        messages = await conversation(first, "resumed", ["Name a fruit."])
    finally:
        first.process.stop()
    second = start_bundled_endpoint(tmp_path / "b")
    try:
        follow_up = [*messages, {"role": "user", "content": "Another one?"}]
        answer, _, reused, _ = await ask(second, follow_up, "resumed")
        assert answer and reused == 0
        follow_up += [
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "And one more?"},
        ]
        _, _, reused, _ = await ask(second, follow_up, "resumed")
        assert reused > 0
    finally:
        second.process.stop()


async def test_reuse_off_serves_every_request_as_before(
    bundled_model_dir: Path, tmp_path: Path
) -> None:
    cold = start_bundled_endpoint(tmp_path, ENDPOINT_WARM_CONVERSATIONS="0")
    try:
        messages = await conversation(cold, "off", ["Name a fruit."])
        _, _, reused, _ = await ask(
            cold, [*messages, {"role": "user", "content": "Another?"}], "off"
        )
        assert reused == 0
        metrics = await asyncio.to_thread(httpx.get, f"{cold.url.removesuffix('/v1')}/metrics")
        assert "warm_hits" not in metrics.text
    finally:
        cold.process.stop()


async def test_a_new_conversation_takes_a_spare_session_made_ready_at_start(
    bundled_model_dir: Path, tmp_path: Path
) -> None:
    # A new session's first answer pays for allocating its cache; one is made ready at start
    # (and again after a new conversation took it) while the pool has room.
    fresh = start_bundled_endpoint(tmp_path)
    try:
        await asyncio.to_thread(fresh.process.wait_for_line, r"a spare session is ready", 60)
        messages = await conversation(fresh, "first", ["Name a fruit."])
        await asyncio.to_thread(fresh.process.wait_for_line, r"takes the spare session", 10)
        await asyncio.to_thread(fresh.process.wait_for_line, r"a spare session is ready", 60)
        more = [*messages, {"role": "user", "content": "More?"}]
        _, _, reused, _ = await ask(fresh, more, "first")
        assert reused > 0  # the spare's own warm-up answer left nothing in the conversation
    finally:
        fresh.process.stop()
