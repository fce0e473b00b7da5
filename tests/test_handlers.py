"""The chat handlers in-process (the fast tier): app.py's real handlers in a real Chainlit session
whose socket is a list, against a scripted model server. What reaches the model, and what the
person sees, for each kind of turn. The same behaviours through `chainlit run` and the real
model: test_chat_e2e.py, test_chat_experience.py, test_chat_survives_input.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from foundry_local_chat.ui_text import KOREAN, WORDS
from tests.support.fake_chat import ChatApp, FakeChat, chat_app
from tests.support.scripted_model import ScriptedModel


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel("tiny:1", served=["tiny:1", "other:1"])


@pytest.fixture
async def app(model: ScriptedModel, tmp_path: Path) -> AsyncIterator[ChatApp]:
    async with chat_app(model, tmp_path, SYSTEM_PROMPT="Be brief.") as running:
        yield running


@pytest.fixture
async def chat(app: ChatApp) -> AsyncIterator[FakeChat]:
    tab = FakeChat(app)
    await tab.start()
    yield tab
    await tab.close()


async def test_a_turn_streams_the_answer_and_carries_the_conversation(
    chat: FakeChat, model: ScriptedModel
) -> None:
    model.enqueue("Hello", " Ada", "!")
    first = await chat.say("My name is Ada.")
    model.enqueue("You are Ada.")
    await chat.say("What is my name?")

    assert first.tokens == [" Ada", "!"]  # the first token opens the stream (stream_start)
    assert first.answer == "Hello Ada!"
    assert model.requests[1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hello Ada!"},
        {"role": "user", "content": "What is my name?"},
    ]
    assert model.requests[1]["stream"] is True and model.requests[1]["max_tokens"] == 512


async def test_the_speed_line_names_the_model_and_the_context_used(
    chat: FakeChat, model: ScriptedModel
) -> None:
    model.enqueue("Paris.", prompt_tokens=20)
    turn = await chat.say("Capital of France?")
    line = turn.speed_line
    assert line.startswith("first token ") and line.endswith(" · tiny:1")
    assert " tok/s" not in line  # one token is no speed
    assert "1 tokens" in line


async def test_settings_shape_the_next_request(chat: FakeChat, model: ScriptedModel) -> None:
    panel = await chat.change_settings(
        {"model": "other:1", "system_prompt": "Answer in French.", "temperature": 1.2,
         "max_tokens": 48, "streaming": True}
    )  # fmt: skip
    assert panel.notices == []
    model.enqueue("Bonjour.")
    await chat.say("Hello")
    request = model.requests[-1]
    assert (request["model"], request["temperature"], request["max_tokens"]) == ("other:1", 1.2, 48)
    assert request["messages"][0] == {"role": "system", "content": "Answer in French."}


async def test_settings_that_cannot_apply_are_refused_and_the_old_ones_stay(
    chat: FakeChat, model: ScriptedModel
) -> None:
    refused = await chat.change_settings({"model": "gone:1", "temperature": 9})
    [notice] = refused.notices
    assert (
        notice.startswith("**Settings not applied:**") and "Temperature 9 is outside 0–2" in notice
    )
    model.enqueue("Still here.")
    await chat.say("Hi")
    assert model.requests[-1]["model"] == "tiny:1" and model.requests[-1]["temperature"] == 0.3


async def test_streaming_off_sends_one_request_and_shows_the_answer_whole(
    chat: FakeChat, model: ScriptedModel
) -> None:
    await chat.change_settings({"streaming": False})
    model.enqueue("Paris", " is the capital.")
    turn = await chat.say("Capital of France?")
    assert turn.tokens == [] and turn.answer == "Paris is the capital."
    assert "stream" not in model.requests[-1]
    assert turn.speed_line.startswith("not streamed: waited ")


async def test_thinking_goes_into_its_own_step(chat: FakeChat, model: ScriptedModel) -> None:
    model.enqueue("<think>", "Paris is in France", "</think>", "Paris.")
    turn = await chat.say("Capital of France?")
    assert turn.answer == "Paris."
    steps = [s for s in turn.of("new_message") if s.get("type") == "tool"]
    assert steps and steps[0]["name"] == "Thinking"
    assert model.requests[-1]["messages"][-1]["content"] == "Capital of France?"


async def test_a_failure_mid_answer_keeps_the_partial_answer_and_the_next_turn_works(
    chat: FakeChat, model: ScriptedModel
) -> None:
    model.enqueue("The", " capital", " is", fail_after=2)
    broken = await chat.say("Capital of France?")
    assert broken.answer is not None
    assert broken.answer.startswith("The capital\n\n⚠️ The answer was cut short:")
    model.enqueue("Rome.")
    assert (await chat.say("And of Italy?")).answer == "Rome."


async def test_a_busy_server_is_told_as_busy_with_when_to_try_again(
    chat: FakeChat, model: ScriptedModel
) -> None:
    model.fail(429, "queue full", code="rate_limit_exceeded", headers={"Retry-After": "12"})
    turn = await chat.say("Hello")
    assert turn.notices == [WORDS["en"].server_busy.format(seconds=12)]
    assert turn.reply is None


async def test_a_message_the_server_finds_too_long_is_never_sent_again(
    chat: FakeChat, model: ScriptedModel
) -> None:
    model.fail(400, "context too long", code="context_length_exceeded")
    refused = await chat.say("a very long message")
    assert refused.notices[0].startswith("**This message did not fit in the model's context**")
    assert len(model.requests) == 1, "not retried without streaming"
    model.enqueue("Hi.")
    await chat.say("Hello")
    users = [m["content"] for m in model.requests[-1]["messages"] if m["role"] == "user"]
    assert users == ["Hello"]


async def test_a_lone_surrogate_is_repaired_before_anything_is_sent(
    chat: FakeChat, model: ScriptedModel
) -> None:
    model.enqueue("Hi.")
    turn = await chat.say("Hello \ud800 there")
    assert turn.notices == [WORDS["en"].unicode_repaired]
    assert model.requests[-1]["messages"][-1]["content"] == "Hello \N{REPLACEMENT CHARACTER} there"


async def test_a_korean_chat_hears_the_app_in_korean(app: ChatApp, model: ScriptedModel) -> None:
    chat = FakeChat(app, language="ko-KR")
    await chat.start()
    refused = await chat.change_settings({"temperature": 9})
    assert refused.notices[0].startswith("**설정이 적용되지 않았습니다:** 온도 값 9")
    model.enqueue("파리.")
    turn = await chat.say("프랑스의 수도는?")
    assert turn.speed_line.startswith(WORDS[KOREAN].first_token.split(" {")[0])
    await chat.close()


async def test_answers_take_turns_and_the_waiting_one_hears_its_place(
    app: ChatApp, model: ScriptedModel
) -> None:
    # Two chats on Foundry Local's queue: the first answer holds the model until released.
    queue = app.state.answer_queues
    from foundry_local_chat.backend import BackendKind

    app.state.answer_queues = {**queue, BackendKind.REMOTE: queue[BackendKind.FOUNDRY_LOCAL]}
    first, second = FakeChat(app), FakeChat(app)
    await first.start()
    await second.start()
    release = asyncio.Event()
    long_story = model.enqueue("Long", " story", hold=release)
    model.enqueue("Paris.")
    holding = asyncio.create_task(first.say("Tell a long story."))
    await long_story.started.wait()
    waiting = asyncio.create_task(second.say("Capital of France?"))
    await second.wait_for(lambda event: "ahead of yours" in str(event[1]))
    release.set()
    await holding
    turn = await waiting
    [place] = [m for m in turn.of("new_message") if "ahead of yours" in m["output"]]
    assert place["output"] == WORDS["en"].one_answer_ahead
    assert place["id"] in [m["id"] for m in turn.of("delete_message")]
    assert turn.answer == "Paris."
    await first.close()
    await second.close()


async def test_the_welcome_screen_names_what_actually_answers(app: ChatApp) -> None:
    profiles = await app.module.chat_profiles(None, "en-US")
    described = {profile.name: profile.markdown_description for profile in profiles}
    assert "**BASE_URL** · `http://model.test/v1` · `tiny:1`" in described["Remote"]
    assert "Foundry Local is switched off" in described["Foundry Local"]
    assert WORDS["en"].history_off in described["Auto"]
