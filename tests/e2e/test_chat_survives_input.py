"""A chat survives any input: an over-long paste, a conversation that outgrows the context and
invalid Unicode are each handled in the chat, and the next message answers normally.

Through the socket.io path a browser uses, against the real bundled model (the recording proxy
shows exactly what reached the model server)."""

from __future__ import annotations

from typing import Any

import pytest

from foundry_local_chat.chat.context_window import MIN_ANSWER_TOKENS, read_window
from foundry_local_chat.config import DEFAULT_SYSTEM_PROMPT, Settings
from tests.support.apps import PASSWORD, AppFactory, shared_proxy, signed_in_app
from tests.support.chainlit_client import ChainlitApi, ChainlitSession, messages_of
from tests.support.recording_proxy import RecordingProxy

HUGE_PASTE = "The quick brown fox jumps over the lazy dog. " * 2300  # about 100 KB
APP_NOTICE = "Foundry Local Chat"

# Tests with the same settings share one app (each in its own chat), and all one proxy, reset
# for each test.
proxy = pytest.fixture(shared_proxy)


def notices(chat: ChainlitSession) -> list[str]:
    return [
        data["output"]
        for name, data in chat.history
        if name == "new_message" and data.get("name") == APP_NOTICE
    ]


def users_in(body: dict[str, Any] | None) -> list[str]:
    assert body is not None
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


async def test_a_message_too_long_for_the_model_is_refused_and_the_chat_goes_on(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, MAX_TOKENS="32")
    async with ChainlitSession(url) as chat:
        await chat.ready()
        refused = await chat.ask(HUGE_PASTE)
        after = await chat.ask("What is the capital of France?")
        again = await chat.ask("And of Italy?")

    assert refused.of("stream_start") == [], "nothing was answered for the refused message"
    [refusal] = [n for n in notices(chat) if "too long for the model" in n]
    tokens, limit = exact_size_and_limit(DEFAULT_SYSTEM_PROMPT)
    assert f"it is {tokens:,} tokens, and at most {limit:,} fit" in refusal
    assert "the model reads 8,192 tokens at once" in refusal
    assert "Paris" in after.answer()["output"]
    assert again.answer()["output"]
    # The refused message never reached the model server, then or with later turns.
    bodies = [r.body for r in proxy.chat_requests()]
    assert len(bodies) == 2
    assert all(HUGE_PASTE not in users_in(body) for body in bodies)
    assert users_in(bodies[1]) == ["What is the capital of France?", "And of Italy?"]


def exact_size_and_limit(system_prompt: str) -> tuple[int, int]:
    """The refused message's size and the most that fits, counted as Foundry Local counts."""
    window = read_window(Settings.from_env().bundled_model_dir)
    assert window is not None
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    around = window.count_tokens(system) if system else 0
    alone = window.count_tokens([*system, {"role": "user", "content": HUGE_PASTE}])
    return alone - around, window.context_length - MIN_ANSWER_TOKENS - around


async def test_a_korean_chat_is_told_in_korean_without_a_system_prompt(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, SYSTEM_PROMPT="")
    async with ChainlitSession(url, language="ko-KR") as chat:
        await chat.ready()
        await chat.ask(HUGE_PASTE)
    [refusal] = [n for n in notices(chat) if n.startswith("**이 메시지는 모델이 읽기에 너무")]
    tokens, limit = exact_size_and_limit("")
    assert f"{tokens:,} 토큰인데 최대 {limit:,} 토큰까지" in refusal
    assert proxy.chat_requests() == []


async def test_a_conversation_that_outgrows_the_context_leaves_out_its_oldest_turns(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    window = read_window(Settings.from_env().bundled_model_dir)
    assert window is not None
    # The app keeps 7,700 of the 8,192 tokens for the answer, so a few short turns outgrow the
    # context; the proxy lets the model write only 16 tokens of each answer.
    proxy.max_tokens_cap = 16
    chapter = "Remember this sentence about the sea and the ships. " * 12  # ~130 tokens
    url = module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, MAX_TOKENS="7700")
    async with ChainlitSession(url) as chat:
        await chat.ready()
        for number in range(1, 5):
            reply = await chat.ask(f"Part {number}. {chapter}")
            assert reply.answer()["output"], f"part {number} was answered"
        last = await chat.ask("What is the capital of France?")

    told = [n for n in notices(chat) if "left out of what it is sent" in n]
    assert len(told) == 1, "the chat says so once"
    bodies = [r.body for r in proxy.chat_requests()]
    assert len(bodies) == 5
    assert [len(users_in(b)) for b in bodies[:2]] == [1, 2]  # all turns while they fit
    for body in bodies:
        assert body is not None
        prompt = window.count_tokens(body["messages"])
        assert prompt + body["max_tokens"] <= window.context_length
    assert users_in(bodies[-1])[-1] == "What is the capital of France?"
    assert not any(u.startswith("Part 1.") for u in users_in(bodies[-1])), "oldest left out"
    assert last.answer()["output"]
    assert "context " in last.stats()["summary"], "the speed line shows how full the context is"


async def test_a_huge_paste_is_refused_without_losing_the_connection(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, MAX_TOKENS="32")
    huge = "x " * 1_500_000  # 3 MB: beyond socket.io's default limit, which drops the socket
    async with ChainlitSession(url) as chat:
        await chat.ready()
        await chat.ask(huge)
        after = await chat.ask("What is the capital of France?")
    [refusal] = [n for n in notices(chat) if "too long for the model" in n]
    assert "it is at least " in refusal  # too long to be worth counting exactly
    assert "Paris" in after.answer()["output"]
    assert len(proxy.chat_requests()) == 1


async def test_a_lone_surrogate_is_repaired_and_the_chat_goes_on(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, MAX_TOKENS="32")
    async with ChainlitSession(url) as chat:
        await chat.ready()
        broken = await chat.ask("What is the capital \ud800 of France?")
        after = await chat.ask("And of Italy?")
    assert any("not valid text" in n for n in notices(chat))
    assert "Paris" in broken.answer()["output"]
    assert after.answer()["output"]
    assert users_in(proxy.chat_requests()[-1].body) == [
        "What is the capital \N{REPLACEMENT CHARACTER} of France?",
        "And of Italy?",
    ]


async def test_history_keeps_the_repaired_and_the_refused_messages(
    chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Any, history_database: dict
) -> None:
    url = signed_in_app(chainlit_app, proxy, tmp_path, "ada", MAX_TOKENS="32", **history_database)
    http = ChainlitApi(url)
    token = await http.sign_in("ada", PASSWORD)
    async with ChainlitSession(url, token=token) as chat:
        await chat.ready()
        await chat.ask("Hello \udfff there")
        await chat.ask(HUGE_PASTE)
    [thread] = await http.threads()
    thread_id = thread["id"]
    users = [text for kind, text in messages_of(thread) if kind == "user_message"]
    assert users == ["Hello \N{REPLACEMENT CHARACTER} there", HUGE_PASTE]
    refused = [s for s in thread["steps"] if s["output"] == HUGE_PASTE]
    assert refused[0]["metadata"].get("refused") is True

    async with ChainlitSession(url, token=token, thread_id=thread_id) as resumed:
        await resumed.ready()
        await resumed.ask("What is the capital of France?")
    assert HUGE_PASTE not in users_in(proxy.chat_requests()[-1].body)
