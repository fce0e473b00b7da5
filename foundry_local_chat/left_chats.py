"""No work for nobody: an answer whose browser left is cancelled once a grace period has passed
without the browser coming back.

Chainlit keeps a chat's task running when its socket closes (the session waits an hour for a
reconnect). The model server generates one answer after another, so an abandoned answer would
be paid for by every chat queued behind it. Cancelling the task closes its request to the model
server (the stream is closed on cancellation), which stops the generation there. A browser that
reconnects within the grace period (a network blip) gets the same session back, with a new
socket id, and its answer goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from chainlit.session import WebsocketSession

log = logging.getLogger(__name__)

_timers: set[asyncio.Task[None]] = set()


def cancel_unless_back(
    session: WebsocketSession, grace_seconds: float, on_cancel: Callable[[], None] = lambda: None
) -> None:
    """Called when the session's socket closed: cancel its running task if the same socket is
    still the session's after `grace_seconds` (and tell `on_cancel`, e.g. a metric)."""
    task = session.current_task
    if task is None or task.done():
        return
    left_socket = session.socket_id

    async def cancel_later() -> None:
        await asyncio.sleep(grace_seconds)
        if session.socket_id == left_socket and not task.done():
            log.info("chat %s: the browser left; its answer is cancelled", session.id)
            task.cancel()
            on_cancel()

    timer = asyncio.create_task(cancel_later())
    _timers.add(timer)
    timer.add_done_callback(_timers.discard)
