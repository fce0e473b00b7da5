"""Work that waits for the model to be idle and gives way to every answer (a chat's title).

Ollama users report a chat's title being generated while they already wait for their next
answer. Here such work runs only while no answer of this app is being written or waiting for its
turn, one job at a time; an answer that comes meanwhile cancels the job at once (its request to
the model server is closed) and goes first, and the job is tried again at the next idle moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 3  # a job cancelled this often by answers is given up


class GaveWay(Exception):  # an outcome, not an error
    """The job was cancelled by answers every time it was tried."""


class IdleWork:
    def __init__(self) -> None:
        self._answers = 0  # being written or waiting for their turn
        self._idle = asyncio.Event()
        self._idle.set()
        self._one_job = asyncio.Lock()
        self._job: asyncio.Task[object] | None = None

    @property
    def answers(self) -> int:
        return self._answers

    @property
    def busy_with_a_job(self) -> bool:
        return self._job is not None and not self._job.done()

    @contextlib.asynccontextmanager
    async def answering(self) -> AsyncIterator[None]:
        """Hold this around an answer, from before it waits for its turn until it ends: a job
        under way is cancelled (and its end awaited) first, and none starts meanwhile."""
        self._answers += 1
        self._idle.clear()
        try:
            await self._cancel_the_job()
            yield
        finally:
            self._answers -= 1
            if self._answers == 0:
                self._idle.set()

    async def _cancel_the_job(self) -> None:
        job = self._job
        if job is None or job.done():
            return
        job.cancel()
        # Its finally blocks close its request; the answer goes once they have run. Shielded:
        # an answer stopped meanwhile must not leave the job half-cancelled.
        await asyncio.shield(asyncio.wait({job}))

    async def when_idle(self, work: Callable[[], Awaitable[T]], attempts: int = ATTEMPTS) -> T:
        """Run `work` once no answer is being written or waiting; if an answer comes meanwhile,
        `work` is cancelled and run again at the next idle moment. Raises GaveWay after
        `attempts` cancellations; `work`'s own errors propagate."""
        for attempt in range(1, attempts + 1):
            async with self._one_job:
                while self._answers:
                    await self._idle.wait()
                # Nothing is answering, and this step does not yield: the job starts before
                # any answer can, and every answer from now on cancels it.
                job = self._job = asyncio.ensure_future(work())
                try:
                    await asyncio.wait({job})
                finally:
                    self._job = None
                    if not job.done():  # this waiter itself was cancelled
                        job.cancel()
                if not job.cancelled():
                    return job.result()
            log.info("idle work gave way to an answer (attempt %d of %d)", attempt, attempts)
        raise GaveWay(f"cancelled by answers {attempts} times")
