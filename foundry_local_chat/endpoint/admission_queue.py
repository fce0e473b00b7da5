"""A bounded first-in-first-out queue in front of Foundry Local's generator.

Foundry Local answers one completion after another; without a bound, twenty concurrent chats all
waited, ever longer, and nobody was told. The gateway lets `concurrency` completions through at a
time, keeps up to `max_waiting` more in arrival order, and refuses the rest at once with an
estimate of when to come back. A waiting request whose client leaves (its handler is cancelled)
leaves the queue at once.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from foundry_local_chat.errors import FoundryLocalChatError

FIRST_ESTIMATE_S = 7.0  # before any measure: 512 tokens (MAX_TOKENS' default) at ≈80 tokens/s
SMOOTHING = 0.3  # weight of the latest completion's duration in the running estimate


@dataclass
class QueueFull(FoundryLocalChatError):
    active: int
    waiting: int
    retry_after_s: int


class AdmissionQueue:
    """Lives on the gateway's event loop; `state_changed` lets other threads watch it."""

    def __init__(self, concurrency: int, max_waiting: int) -> None:
        if concurrency < 1 or max_waiting < 0:
            raise ValueError("concurrency must be at least 1 and max_waiting at least 0")
        self.concurrency = concurrency
        self.max_waiting = max_waiting
        self.active = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.seconds_per_completion = FIRST_ESTIMATE_S
        self.state_changed = threading.Condition()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def retry_after_s(self) -> int:
        """Seconds until a place is likely free: the work ahead, shared by the parallel slots."""
        ahead = self.active + self.waiting
        return max(1, math.ceil(self.seconds_per_completion * ahead / self.concurrency))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the `concurrency` places for the body of the `async with`; may wait, FIFO.

        Raises QueueFull when `max_waiting` requests already wait."""
        await self._acquire()
        started = time.monotonic()
        try:
            yield
        finally:
            elapsed = time.monotonic() - started
            self.seconds_per_completion += SMOOTHING * (elapsed - self.seconds_per_completion)
            self._release()

    async def _acquire(self) -> None:
        if self.active < self.concurrency and not self._waiting:
            self.active += 1
            self._changed()
            return
        if len(self._waiting) >= self.max_waiting:
            raise QueueFull(self.active, len(self._waiting), self.retry_after_s())
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        self._changed()
        try:
            await turn  # _release hands its place over: `active` stays counted
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # the place came just as the client left
                self._release()
            elif turn in self._waiting:  # else _release already dropped it, being cancelled
                self._waiting.remove(turn)
                self._changed()
            raise

    def _release(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                self._changed()
                return
        self.active -= 1
        self._changed()

    def _changed(self) -> None:
        with self.state_changed:
            self.state_changed.notify_all()

    def wait_until(self, active: int, waiting: int, timeout: float) -> None:
        """Block (another thread) until this many requests are admitted and waiting."""
        with self.state_changed:
            if not self.state_changed.wait_for(
                lambda: (self.active, self.waiting) == (active, waiting), timeout
            ):
                raise TimeoutError(
                    f"the queue has {self.active} admitted and {self.waiting} waiting, not "
                    f"{active} and {waiting}, after {timeout} s"
                )
