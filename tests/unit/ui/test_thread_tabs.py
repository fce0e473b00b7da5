"""Every open tab of a thread sees it, in-process: app.py's handlers in real Chainlit sessions
(one per tab, signed in as the same user on the same thread), a scripted model whose answer is
held mid-stream. Only the owner's tabs see or stop the answer; a second message while it is
written is refused; the answer is cut only when no tab is left, and says why."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from chainlit.context import init_ws_context
from chainlit.session import WebsocketSession, ws_sessions_id, ws_sessions_sid
from chainlit.user import User
from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_local_chat.answers import abandoned as left_chats
from foundry_local_chat.answers.live import CUT_KEY, CutReason
from foundry_local_chat.ui.texts import words_for
from foundry_local_chat.ui.thread_tabs import ThreadEmitter, ThreadTabs
from tests.support.fake_chat import ChatApp, FakeChat, Turn, chat_app
from tests.support.scripted_model import ScriptedModel, ScriptedReply

GRACE_SECONDS = 0.05
SAID = words_for("en-US")


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
async def app(model: ScriptedModel, tmp_path: Path) -> AsyncIterator[ChatApp]:
    settings = {"ABANDONED_ANSWER_GRACE_SECONDS": str(GRACE_SECONDS)}
    async with chat_app(model, tmp_path, **settings) as running:
        yield running


def tab(app: ChatApp, thread: str, user: str = "alice", language: str = "en-US") -> FakeChat:
    chat = FakeChat(app, language)
    chat.session.user = User(identifier=user)
    chat.session.thread_id = thread
    return chat


async def held_answer(
    model: ScriptedModel, chat: FakeChat, *rest: str
) -> tuple[asyncio.Task[Turn], ScriptedReply, asyncio.Event]:
    release = asyncio.Event()
    reply = model.enqueue("Once", *rest, hold=release)
    turn = asyncio.create_task(chat.say("Tell a long story."))
    await reply.started.wait()
    await chat.wait_for(lambda event: event[0] in ("stream_start", "stream_token"))
    return turn, reply, release


async def leave(app: ChatApp, chat: FakeChat) -> None:
    init_ws_context(chat.session)
    await app.module.browser_left()


async def grace_over() -> None:
    await asyncio.gather(*left_chats._timers)


async def cut_turn(chat: FakeChat, turn: asyncio.Task[Turn]) -> Turn:
    """What a turn whose answer was cut sent (its task ends cancelled, as Chainlit expects)."""
    with pytest.raises(asyncio.CancelledError):
        await turn
    return Turn(events=list(chat.events))


def streamed(chat: FakeChat) -> str:
    """What the tab was streamed, in order: each stream's start, then its tokens."""
    parts = {"stream_start": "output", "stream_token": "token"}
    return "".join(data[parts[event]] for event, data in chat.events if event in parts)


async def test_the_other_tabs_see_the_turn_and_only_the_owners(
    app: ChatApp, model: ScriptedModel
) -> None:
    thread = str(uuid.uuid4())
    asking, watching, stranger = tab(app, thread), tab(app, thread), tab(app, thread, "mallory")
    turn, _, release = await held_answer(model, asking, " upon", " a time.")
    question = await watching.wait_for(lambda e: e[0] == "new_message")
    assert question[1]["output"] == "Tell a long story."
    assert ("task_start", {}) in watching.events, "the other tab's stop button shows"
    release.set()
    answered = await turn
    assert answered.answer == "Once upon a time."
    assert streamed(watching) == "Once upon a time."
    final = [d for e, d in watching.events if e == "new_message" and "reply_model" in d["metadata"]]
    assert final[-1]["output"] == "Once upon a time."
    assert stranger.events == [], "another user's tab on the same thread id sees nothing"

    # The other tab asks next: its request carries the whole thread.
    model.enqueue("The end.")
    await watching.say("And then?")
    sent = [m["content"] for m in model.requests[-1]["messages"]]
    assert sent[-3:] == ["Tell a long story.", "Once upon a time.", "And then?"]
    assert "And then?" in [d["output"] for e, d in asking.events if e == "new_message"]
    assert streamed(asking) == "Once upon a time.The end.", "and the answer streams there too"


@pytest.mark.parametrize("language", ["en-US", "ko-KR"])
async def test_a_second_message_while_the_answer_is_written_is_refused(
    app: ChatApp, model: ScriptedModel, language: str
) -> None:
    thread = str(uuid.uuid4())
    first, second = tab(app, thread), tab(app, thread, language=language)
    turn, _, release = await held_answer(model, first, " more")
    refused = await second.say("Are you there?")
    assert refused.notices == [words_for(language).one_answer_at_a_time]
    assert len(model.requests) == 1, "never two answers in one thread"
    assert second.last_message.metadata and second.last_message.metadata.get("refused")
    release.set()
    assert (await turn).answer == "Once more"
    model.enqueue("Yes.")
    assert (await second.say("Are you there?")).answer == "Yes.", "once it is done, it is free"


async def test_an_answer_is_cut_only_when_no_tab_is_left_and_says_why(
    app: ChatApp, model: ScriptedModel
) -> None:
    thread = str(uuid.uuid4())
    asking, watching = tab(app, thread), tab(app, thread)
    turn, _, _ = await held_answer(model, asking, " upon", " a time.")
    await leave(app, asking)  # a reload: the asking tab is gone, the other one watches
    await grace_over()
    assert not turn.done(), "a tab of the thread is open: the answer goes on"
    await leave(app, watching)
    await grace_over()
    answered = await cut_turn(asking, turn)
    assert model.closed_early == 1, "its request to the model was closed"
    assert answered.reply is not None and answered.reply["output"] == "Once"
    assert answered.reply["metadata"][CUT_KEY] == CutReason.NOBODY_WATCHING
    note = SAID.cut_nobody_watching.format(seconds=f"{GRACE_SECONDS:g}")
    assert answered.speed_line.startswith(note), answered.speed_line
    assert app.state.metrics.abandoned._value.get() == 1  # type: ignore[attr-defined]


async def test_without_sign_in_only_the_asking_tab_counts(
    app: ChatApp, model: ScriptedModel
) -> None:
    thread = str(uuid.uuid4())
    asking, other = FakeChat(app), FakeChat(app)
    asking.session.thread_id = other.session.thread_id = thread
    turn, _, _ = await held_answer(model, asking)
    assert other.events == []
    await leave(app, asking)
    await grace_over()
    answered = await cut_turn(asking, turn)
    assert answered.reply is not None
    assert answered.reply["metadata"][CUT_KEY] == CutReason.NOBODY_WATCHING


async def test_stop_in_another_tab_stops_the_answer(app: ChatApp, model: ScriptedModel) -> None:
    thread = str(uuid.uuid4())
    asking, watching = tab(app, thread), tab(app, thread)
    turn, _, _ = await held_answer(model, asking, " more")
    init_ws_context(watching.session)
    await app.module.stopped()
    answered = await cut_turn(asking, turn)
    assert answered.reply is not None
    assert answered.reply["metadata"][CUT_KEY] == CutReason.STOPPED
    assert answered.speed_line.startswith(SAID.stopped)
    assert any(e == "new_message" and d["id"] == answered.reply["id"] for e, d in watching.events)


async def test_a_tab_that_opens_the_thread_is_attached_to_the_answer(
    app: ChatApp, model: ScriptedModel
) -> None:
    thread = str(uuid.uuid4())
    asking = tab(app, thread)
    turn, _, release = await held_answer(model, asking, " upon", " a time.")
    opening = tab(app, thread)
    emitter = ThreadEmitter(
        opening.session, app.state.tabs, app.state.live_answers, lambda: SAID, fan_out=False
    )
    question: dict[str, Any] = {"id": "q", "type": "user_message", "output": "Tell a long story."}
    await emitter.task_end()  # Chainlit ends on_chat_resume's task: the answer's goes on
    await emitter.resume_thread({"id": thread, "steps": [question], "elements": []})  # type: ignore[typeddict-item]
    [(event, shown), (after, _)] = opening.events
    assert (event, after) == ("resume_thread", "task_start")
    assert [s["output"] for s in shown["steps"]] == ["Tell a long story.", "Once"]
    assert shown["steps"][-1]["streaming"] is True
    release.set()
    await turn
    assert "".join(d["token"] for e, d in opening.events if e == "stream_token") == " upon a time."


# ----- which tabs are the thread's (any set of sessions) -----

SESSIONS = st.lists(
    st.tuples(
        st.sampled_from(["t1", "t2"]), st.sampled_from(["alice", "bob", None]), st.booleans()
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(SESSIONS, st.sampled_from(["t1", "t2"]), st.sampled_from(["alice", "bob", None]))
def test_a_threads_tabs_are_its_owners_open_ones(
    sessions: list[tuple[str, str | None, bool]], thread: str, owner: str | None
) -> None:
    async def noop(*_: Any) -> None:
        return None

    made: list[tuple[WebsocketSession, str, str | None, bool]] = []
    for thread_id, user, still_open in sessions:
        session = WebsocketSession(
            id=str(uuid.uuid4()), socket_id=str(uuid.uuid4()), emit=noop,  # type: ignore[arg-type]
            emit_call=noop, user_env={}, client_type="webapp", thread_id=thread_id,
            user=User(identifier=user) if user else None,
        )  # fmt: skip
        made.append((session, thread_id, user, still_open))
    tabs = ThreadTabs(lambda: [session for session, *_ in made])
    for session, *_, still_open in made:
        if not still_open:
            tabs.left(session)
    but = made[0][0] if made else None
    found = tabs.tabs(thread, owner, but=but)
    expected = [
        session
        for session, thread_id, user, still_open in made
        if owner is not None and user == owner and thread_id == thread and still_open
        and session is not but
    ]  # fmt: skip
    assert found == expected
    for session, *_ in made:
        ws_sessions_id.pop(session.id, None)
        ws_sessions_sid.pop(session.socket_id, None)
