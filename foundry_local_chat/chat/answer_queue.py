"""First come, first served: the answers of this app's chats take turns at one model server.

Foundry Local generates one answer after another, so answers sent at once would only wait inside
the server, where nobody can tell how long. Waiting here instead, each chat knows how many
answers are ahead of it, and a chat that is closed or stopped leaves the line at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

AheadReport = Callable[[int], Awaitable[None]]
"""Told how many answers are ahead (running or waiting), each time that number changes."""


class AnswerQueue:
    def __init__(self, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("an answer queue admits at least one answer at a time")
        self.concurrency = concurrency
        self._running = 0
        self._waiting: list[object] = []
        self._changed = asyncio.Event()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @asynccontextmanager
    async def turn(self, report: AheadReport) -> AsyncIterator[None]:
        """Wait for this answer's turn (reporting its place while it waits), then hold it."""
        await self._wait_for_turn(report)
        try:
            yield
        finally:
            self._running -= 1
            self._announce_change()

    async def _wait_for_turn(self, report: AheadReport) -> None:
        ticket = object()
        self._waiting.append(ticket)
        last_ahead: int | None = None
        try:
            while True:
                place = self._waiting.index(ticket)
                if place == 0 and self._running < self.concurrency:
                    break
                ahead = self._running + place
                changed = self._changed
                if ahead != last_ahead:
                    last_ahead = ahead
                    await report(ahead)
                if changed is self._changed:  # nothing moved while the report was shown
                    await changed.wait()
        except BaseException:
            self._waiting.remove(ticket)
            self._announce_change()
            raise
        self._waiting.remove(ticket)
        self._running += 1
        self._announce_change()

    def _announce_change(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
