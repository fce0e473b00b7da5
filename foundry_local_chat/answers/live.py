"""Answers being written: at most one per thread, known by the thread, so that a tab that opens
the thread (a reload, the sidebar, a second tab) finds it, and so that a second message sent
while it runs is refused instead of answered in between.

An answer belongs to the chat session whose task writes it, and to that session's user (its
owner); only tabs of the same owner may watch or stop it. Without sign-in there is no owner:
nobody else can find the answer, and only the tab that asked counts as watching it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chainlit.step import StepDict

from foundry_local_chat.errors import FoundryLocalChatError


class CutReason(StrEnum):
    """Why an answer ended before the model finished it (stored in the answer's metadata)."""

    STOPPED = "stopped"  # someone pressed stop, in any tab of the thread
    NOBODY_WATCHING = "nobody watching"  # every tab of the thread was gone for the grace period
    APP_STOPPED = "app stopped"  # the app stopped or crashed while writing it


CUT_KEY = "cut"
"""Metadata key of an answer that was cut: its CutReason."""

IN_PROGRESS_KEY = "in_progress"
"""Metadata key of an answer saved while it is still being written."""


class ThreadBusy(FoundryLocalChatError, RuntimeError):
    """The thread's answer is still being written."""


Snapshot = Callable[[], StepDict]
"""The answer as written so far, as a Chainlit step dict."""


@dataclass(eq=False)
class LiveAnswer:
    thread_id: str
    owner: str | None  # the user's identifier; None without sign-in
    task: asyncio.Task[Any]  # the turn that writes it: cancelling it ends the answer
    writer: Any = None  # the chat session whose task it is
    snapshot: Snapshot | None = None  # set once the answer's first words are on screen
    cut_reason: CutReason | None = None
    unwatched_seconds: float | None = None  # cut after no tab showed it for this long
    _ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def running(self) -> bool:
        return not self.task.done() and not self._ended.is_set()

    def cut(self, reason: CutReason) -> bool:
        """End the answer early for `reason` (the first reason given stays). False when it had
        already ended."""
        if not self.running:
            return False
        if self.cut_reason is None:
            self.cut_reason = reason
        self.task.cancel()
        return True

    def may_be_seen_by(self, user: str | None) -> bool:
        """Only the owner's tabs may watch or stop it, and only when there is an owner."""
        return self.owner is not None and user == self.owner


class LiveAnswers:
    """The answers this process is writing, by thread."""

    def __init__(self) -> None:
        self._by_thread: dict[str, LiveAnswer] = {}

    def claim(
        self, thread_id: str, owner: str | None, task: asyncio.Task[Any], writer: Any = None
    ) -> LiveAnswer:
        """Register `task` as the thread's answer. Raises ThreadBusy while another one runs.
        Synchronous, so two messages arriving together cannot both claim the thread."""
        current = self._by_thread.get(thread_id)
        if current is not None and current.running and current.task is not task:
            raise ThreadBusy(f"thread {thread_id} has an answer being written")
        answer = LiveAnswer(thread_id, owner, task, writer)
        self._by_thread[thread_id] = answer
        return answer

    def release(self, answer: LiveAnswer) -> None:
        """The answer ended (finished, cut, failed)."""
        answer._ended.set()
        if self._by_thread.get(answer.thread_id) is answer:
            del self._by_thread[answer.thread_id]

    def of(self, thread_id: str | None) -> LiveAnswer | None:
        """The thread's answer while it is being written."""
        answer = self._by_thread.get(thread_id or "")
        return answer if answer is not None and answer.running else None

    def seen_by(self, thread_id: str | None, user: str | None) -> LiveAnswer | None:
        """The thread's answer being written, if `user` may watch it."""
        answer = self.of(thread_id)
        return answer if answer is not None and answer.may_be_seen_by(user) else None

    def __len__(self) -> int:
        return sum(1 for answer in self._by_thread.values() if answer.running)
