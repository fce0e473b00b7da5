"""No work for nobody: an answer nobody watches is cancelled once a grace period has passed
without any tab of its thread coming back.

Chainlit keeps a chat's task running when its socket closes (the session waits an hour for a
reconnect). The model server generates one answer after another, so an abandoned answer would
be paid for by every chat queued behind it. Cancelling the task closes its request to the model
server (the stream is closed on cancellation), which stops the generation there.

Coming back is any tab of the answer's owner on its thread: the same tab reconnecting after a
network blip (the same session with a new socket), a reload, the thread reopened from the
sidebar, a second tab (each a new session on the thread, see ui/thread_tabs.py). Each tab that
closes starts the grace period again; the answer is cut only when, at its end, no tab is open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from chainlit.session import WebsocketSession

from foundry_local_chat.answers.live import CutReason, LiveAnswer

log = logging.getLogger(__name__)

_timers: set[asyncio.Task[None]] = set()


def _later(work: Callable[[], None], seconds: float) -> None:
    async def run() -> None:
        await asyncio.sleep(seconds)  # the grace period itself, not a wait for something
        work()

    timer = asyncio.create_task(run())
    _timers.add(timer)
    timer.add_done_callback(_timers.discard)


def cut_unless_watched(
    answer: LiveAnswer,
    grace_seconds: float,
    watched: Callable[[], bool],
    on_cancel: Callable[[], None] = lambda: None,
) -> None:
    """A tab of the answer's thread closed: after `grace_seconds`, cut the answer if `watched()`
    says no tab shows it (and tell `on_cancel`, e.g. a metric)."""

    def check() -> None:
        if answer.running and watched():
            log.info("thread %s: a tab shows its answer; it goes on", answer.thread_id)
        if answer.running and not watched():
            log.info("thread %s: no tab shows its answer; the answer is cut", answer.thread_id)
            answer.unwatched_seconds = grace_seconds
            if answer.cut(CutReason.NOBODY_WATCHING):
                on_cancel()

    _later(check, grace_seconds)


def cancel_unless_back(
    session: WebsocketSession, grace_seconds: float, on_cancel: Callable[[], None] = lambda: None
) -> None:
    """Called when the session's socket closed while it runs something that is not an answer
    (e.g. preparing a model): cancel its running task if the same socket is still the
    session's after `grace_seconds`."""
    task = session.current_task
    if task is None or task.done():
        return
    left_socket = session.socket_id

    def check() -> None:
        if session.socket_id == left_socket and not task.done():
            log.info("chat %s: the browser left; its task is cancelled", session.id)
            task.cancel()
            on_cancel()

    _later(check, grace_seconds)
