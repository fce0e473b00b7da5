"""Every open tab of a thread sees it: what one tab's turn shows (the question, the streamed
answer, notices, the stop button) is shown in the thread's other open tabs too, and a tab that
opens the thread while its answer is being written is attached to it.

Chainlit keeps one WebsocketSession per tab and sends each event to one socket. `ThreadEmitter`
is Chainlit's emitter for a tab, whose message events also go to the other tabs whose session
is on the same thread and signed in as the same user; never to anyone else, and not at all
without sign-in (then nobody owns a thread). The other tabs' conversations (cl.chat_context)
get the messages too, so a question sent from any tab is answered with the whole thread.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Any

from chainlit.chat_context import chat_contexts
from chainlit.emitter import ChainlitEmitter
from chainlit.message import Message
from chainlit.session import WebsocketSession, ws_sessions_id
from chainlit.types import ThreadDict

from foundry_local_chat.answers.live import LiveAnswer, LiveAnswers
from foundry_local_chat.ui.reattach import shown_on_resume
from foundry_local_chat.ui.texts import Words

log = logging.getLogger(__name__)

FANNED_OUT = frozenset({
    "new_message", "update_message", "delete_message", "stream_start", "stream_token",
    "element", "task_start", "task_end",
})  # fmt: skip
"""What one tab's turn shows that the thread's other tabs show too (not: settings, asks,
navigation, first_interaction, which belong to the tab itself)."""

CONVERSATION = ("user_message", "assistant_message")


def user_of(session: Any) -> str | None:
    user = getattr(session, "user", None)
    identifier = getattr(user, "identifier", None)
    return identifier if isinstance(identifier, str) else None


def _all_sessions() -> Iterable[WebsocketSession]:
    return list(ws_sessions_id.values())


class ThreadTabs:
    """Which tabs (chat sessions) are open on a thread. A session's socket that closed is
    remembered until the session reconnects with a new one (Chainlit keeps the session)."""

    def __init__(self, sessions: Callable[[], Iterable[WebsocketSession]] = _all_sessions) -> None:
        self._sessions = sessions
        self._left: dict[str, str] = {}  # session id → the socket id that closed

    def left(self, session: WebsocketSession) -> None:
        self._left[session.id] = session.socket_id

    def open(self, session: Any) -> bool:
        return isinstance(session, WebsocketSession) and self._left.get(session.id) != (
            session.socket_id
        )

    def tabs(
        self, thread_id: str | None, owner: str | None, but: object = None
    ) -> list[WebsocketSession]:
        """The owner's open tabs on the thread (none without an owner), except `but`."""
        if owner is None or not thread_id:
            return []
        return [
            session
            for session in self._sessions()
            if session is not but
            and session.thread_id == thread_id
            and user_of(session) == owner
            and self.open(session)
        ]

    def of_user(self, owner: str | None) -> list[WebsocketSession]:
        """The owner's open tabs, whatever thread they show (none without an owner)."""
        if owner is None:
            return []
        return [s for s in self._sessions() if user_of(s) == owner and self.open(s)]

    def watched(self, answer: LiveAnswer) -> bool:
        """Is any tab still open that shows the answer: the one that asked, or any other tab of
        its owner on its thread?"""
        return self.open(answer.writer) or bool(self.tabs(answer.thread_id, answer.owner))


async def send(session: WebsocketSession, event: str, data: Any) -> None:
    """One event to one tab (Chainlit's annotation of session.emit omits its awaitable)."""
    sent: Any = session.emit(event, data)
    if inspect.isawaitable(sent):
        await sent


def mirror(tab: WebsocketSession, event: str, step: Any) -> None:
    """Keep the other tab's conversation (what its next question is sent with) in step."""
    if not isinstance(step, dict) or step.get("type") not in CONVERSATION:
        return
    messages = chat_contexts.setdefault(tab.id, [])
    known = next((m for m in messages if m.id == step.get("id")), None)
    if event == "delete_message":
        if known is not None:
            messages.remove(known)
        return
    if event not in ("new_message", "update_message"):
        return
    if known is None:
        messages.append(Message.from_dict(step))  # type: ignore[arg-type]
        return
    known.content = step.get("output", known.content)
    known.metadata = step.get("metadata", known.metadata)


class ThreadEmitter(ChainlitEmitter):
    """Chainlit's emitter for one tab. With `fan_out`, its turn is shown in the thread's other
    open tabs too. As the emitter of a tab that resumes a thread, it re-attaches the tab to the
    answer being written: the thread is shown with the answer as written so far, and the stop
    button stays until the answer ends."""

    def __init__(
        self,
        session: WebsocketSession,
        tabs: ThreadTabs,
        answers: LiveAnswers,
        words: Callable[[], Words],
        fan_out: bool = True,
    ) -> None:
        super().__init__(session)
        self.tabs = tabs
        self.answers = answers
        self.words = words
        self.fan_out = fan_out

    @property
    def emit(self) -> Callable[[str, Any], Any]:
        return self._emit

    async def _emit(self, event: str, data: Any) -> None:
        await send(self.session, event, data)
        if self.fan_out and event in FANNED_OUT:
            await self.to_other_tabs(event, data)

    async def to_other_tabs(self, event: str, data: Any) -> None:
        for tab in self.tabs.tabs(self.session.thread_id, user_of(self.session), but=self.session):
            mirror(tab, event, data)
            try:
                await send(tab, event, data)
            except Exception as error:  # a tab that is going away must not break the turn
                log.warning("could not show the thread in another tab: %s", error)

    def _live(self) -> LiveAnswer | None:
        live = self.answers.seen_by(self.session.thread_id, user_of(self.session))
        return live if live is not None and live.writer is not self.session else None

    async def resume_thread(self, thread_dict: ThreadDict) -> None:
        # Taken and sent with no await in between: the answer's later tokens reach this tab
        # (it is one of the thread's tabs already) after the thread, never before it.
        live = self._live()
        written = live.snapshot() if live is not None and live.snapshot is not None else None
        shown = shown_on_resume(thread_dict, written, self.words())
        await send(self.session, "resume_thread", shown)
        if live is not None:
            await send(self.session, "task_start", {})  # the stop button, live

    async def task_end(self) -> None:
        if self._live() is not None:
            return  # this tab shows an answer still being written: its end comes with it
        await self.emit("task_end", {})
