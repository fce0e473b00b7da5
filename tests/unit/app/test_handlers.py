"""The chat handlers in-process (the fast tier): app.py's real handlers in a real Chainlit session
whose socket is a list, against a scripted model server. What reaches the model, and what the
person sees, for each kind of turn. The same behaviours through `chainlit run` and the real
model: e2e/test_chat.py, e2e/test_chat_experience.py, e2e/test_chat_survives_input.py."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from foundry_local_chat.chat.backend import BackendKind
from foundry_local_chat.config import BUNDLED_MODEL_ID
from foundry_local_chat.models.facts import KOREAN_MODEL_EXAMPLE
from foundry_local_chat.ui.texts import ENGLISH, ENGLISH_STARTERS_IN_KOREAN, KOREAN, STARTERS, WORDS
from tests.support.fake_chat import ChatApp, FakeChat, chat_app
from tests.support.repetitive_answers import LEGITIMATE, LOOPS, as_model_tokens, looping
from tests.support.scripted_model import ScriptedModel

HANGUL = re.compile(r"[\uac00-\ud7a3]")


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


async def test_a_connection_that_breaks_mid_answer_keeps_the_partial_answer_and_says_so(
    chat: FakeChat, model: ScriptedModel
) -> None:
    model.enqueue("The", " capital", " is", drop_after=2)
    broken = await chat.say("Capital of France?")
    said = WORDS["en"]
    cut = said.answer_cut_short.format(error=said.failed_broken_off)
    assert broken.answer == f"The capital\n\n{cut}"
    assert len(model.requests) == 1, "a stream that began is not asked for again"
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


# ----- an answer that loops, and answers that repeat on purpose (see chat/loop_guard.py) -----


@pytest.fixture
async def guarded_chat(model: ScriptedModel, tmp_path: Path) -> AsyncIterator[FakeChat]:
    async with chat_app(model, tmp_path, LOOP_GUARD="1") as running:
        tab = FakeChat(running)
        await tab.start()
        yield tab
        await tab.close()


async def test_an_answer_that_loops_is_stopped_kept_to_one_copy_and_the_chat_says_so(
    guarded_chat: FakeChat, model: ScriptedModel
) -> None:
    start, span = LOOPS["a line of a poem"]
    model.enqueue(*as_model_tokens(looping("a line of a poem", repeats=100)))
    turn = await guarded_chat.say("Write a poem about a river.")

    assert turn.answer == start + span.strip()
    assert turn.notices == [WORDS["en"].loop_stopped]
    assert model.closed_early == 1, "the request was closed: the model stopped"
    messages = turn.of("new_message")
    answer_at = max(i for i, m in enumerate(messages) if m["id"] == turn.reply["id"])
    notice_at = next(i for i, m in enumerate(messages) if m["output"] == turn.notices[0])
    assert notice_at > answer_at  # the line comes under the answer
    assert "tokens" in turn.speed_line  # the answer is finished like any other
    model.enqueue("Fine.")
    await guarded_chat.say("Thanks.")
    sent = model.requests[-1]["messages"]
    assert {"role": "assistant", "content": turn.answer} in sent  # what was kept, no notice
    assert all(m["content"] != turn.notices[0] for m in sent)


async def test_a_korean_chat_hears_why_the_answer_stopped_in_korean(
    model: ScriptedModel, tmp_path: Path
) -> None:
    async with chat_app(model, tmp_path, LOOP_GUARD="1") as running:
        chat = FakeChat(running, language="ko-KR")
        await chat.start()
        model.enqueue(*as_model_tokens(looping("Korean-looking syllables", repeats=100)))
        turn = await chat.say("파이썬에서 리스트를 정렬하는 방법은?")
        await chat.close()
    assert turn.notices == [WORDS[KOREAN].loop_stopped]
    assert turn.answer == "귰사: 2018年3/4, 정담, 이믌  2019-2020, 어둘,"


@pytest.mark.parametrize("name", LEGITIMATE)
async def test_an_answer_that_repeats_on_purpose_streams_whole(
    guarded_chat: FakeChat, model: ScriptedModel, name: str
) -> None:
    model.enqueue(*as_model_tokens(LEGITIMATE[name]))
    turn = await guarded_chat.say("Go on.")
    assert turn.answer == LEGITIMATE[name]
    assert turn.notices == [] and model.closed_early == 0


async def test_a_loop_is_stopped_with_streaming_off_too(
    guarded_chat: FakeChat, model: ScriptedModel
) -> None:
    await guarded_chat.change_settings({"streaming": False})
    model.enqueue(looping("a phrase", repeats=100))
    turn = await guarded_chat.say("Write about autumn.")
    assert turn.answer == "In the gentle embrace of autumn, the leaves fall to the ground, a " \
        "wanderer lost in the twilight,"  # fmt: skip
    assert turn.notices == [WORDS["en"].loop_stopped]


async def test_by_default_only_a_small_models_loops_are_stopped(
    chat: FakeChat, model: ScriptedModel, tmp_path: Path
) -> None:
    loop = looping("a phrase", repeats=60)
    model.enqueue(*as_model_tokens(loop))
    unknown = await chat.say("Write about autumn.")  # tiny:1: its size is not known
    assert unknown.answer == loop and unknown.notices == []

    bundled = ScriptedModel(BUNDLED_MODEL_ID)
    async with chat_app(bundled, tmp_path / "bundled") as running:
        small = FakeChat(running)
        await small.start()
        bundled.enqueue(*as_model_tokens(loop))
        stopped = await small.say("Write about autumn.")
        await small.close()
    assert stopped.notices == [WORDS["en"].loop_stopped]


# ----- what the model can do, on the welcome screen -----


async def welcome_of(app: ChatApp, language: str) -> tuple[str, list[tuple[str, str]]]:
    """The default profile's description and starters, as the browser gets them."""
    profiles = await app.module.chat_profiles(None, language)
    [default] = [profile for profile in profiles if profile.default]
    starters = [(s.label, s.message) for s in default.starters or []]
    fallback = [(s.label, s.message) for s in await app.module.starters(None, language)]
    assert fallback == starters
    return default.markdown_description, starters


async def test_the_welcome_says_what_the_bundled_model_can_do_and_korean_gets_english_questions(
    tmp_path: Path,
) -> None:
    bundled = ScriptedModel(BUNDLED_MODEL_ID)
    async with chat_app(bundled, tmp_path) as running:
        chat = FakeChat(running)
        await chat.start()  # the first chat asks BASE_URL which model answers
        korean, korean_starters = await welcome_of(running, "ko-KR")
        english, english_starters = await welcome_of(running, "en-US")
        await chat.close()

    assert WORDS[KOREAN].bundled_model_can in korean
    assert WORDS[KOREAN].model_writes_no_korean.format(model=KOREAN_MODEL_EXAMPLE) in korean
    assert korean_starters == ENGLISH_STARTERS_IN_KOREAN
    assert all(HANGUL.search(label) and not HANGUL.search(ask) for label, ask in korean_starters)
    assert WORDS[ENGLISH].bundled_model_can in english
    assert "Korean" not in english
    assert english_starters == STARTERS[ENGLISH]


async def test_a_model_nothing_is_known_of_gets_the_chats_own_starters(app: ChatApp) -> None:
    chat = FakeChat(app)
    await chat.start()
    korean, starters = await welcome_of(app, "ko")
    await chat.close()
    assert starters == STARTERS[KOREAN]
    assert WORDS[KOREAN].model_writes_no_korean.split("**")[1] not in korean
    assert "`tiny:1`" in korean  # named, with nothing more said of it


async def test_an_answer_given_again_keeps_its_versions_and_sends_the_one_shown(
    chat: FakeChat, model: ScriptedModel
) -> None:
    model.enqueue("Paris.")
    first = await chat.say("What is the capital of France?")
    assert first.reply is not None
    answer_id = first.reply["id"]
    actions = [data for event, data in first.events if event == "action"]
    assert [(a["name"], a["forId"]) for a in actions] == [("regenerate", answer_id)]

    model.enqueue("Paris, on the Seine.")
    again = await chat.act("regenerate", answer_id)
    assert [data["id"] for event, data in again.events if event == "delete_message"] == [answer_id]
    assert again.answer == "Paris, on the Seine."
    assert model.requests[-1]["messages"][1:] == [
        {"role": "user", "content": "What is the capital of France?"}
    ]
    [stats] = [e["props"] for e in again.of("element") if e.get("name") == "AnswerStats"]
    assert (stats["versions"], stats["shown"]) == (2, 1)
    assert again.reply is not None
    versions = again.reply["metadata"]["versions"]
    assert [v["content"] for v in versions] == ["Paris.", "Paris, on the Seine."]

    shown = await chat.act("show_version", "", {"answer": again.reply["id"], "index": 0})
    [updated] = [data for event, data in shown.events if event == "update_message"]
    assert updated["output"] == "Paris."
    [stats] = [e["props"] for e in shown.of("element") if e.get("name") == "AnswerStats"]
    assert (stats["versions"], stats["shown"]) == (2, 0)

    model.enqueue("You are welcome.")
    await chat.say("Thanks.")
    assert model.requests[-1]["messages"][1:] == [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "Thanks."},
    ]
    # Only the latest answer is given again.
    refused = await chat.act("regenerate", again.reply["id"])
    assert refused.notices == [WORDS["en"].regenerate_only_latest]
