"""Nothing written is lost: an answer is saved while it grows, at a bounded rate (its first
words at once, then at most once per `interval`, and never two saves of it at a time), marked
as in progress. Its last save (finished, stopped or cut) replaces the mark; an answer still
marked when the app starts again was cut by a crash (see answers/interrupted.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from chainlit.data import get_data_layer
from chainlit.step import StepDict

from foundry_local_chat.answers.live import IN_PROGRESS_KEY

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0

SaveStep = Callable[[dict[str, Any]], Awaitable[None]]


def in_progress(step: StepDict) -> dict[str, Any]:
    """The step as saved while it is being written (not streaming: whoever reads it from the
    history sees it as far as it was saved)."""
    metadata = {**(step.get("metadata") or {}), IN_PROGRESS_KEY: True}
    return {**cast(dict[str, Any], step), "streaming": False, "metadata": metadata}


async def save_to_history(step: dict[str, Any]) -> None:
    """Upsert the step (Chainlit's create_step is an upsert) through the app's data layer, so
    every rule it has for a save holds for these too."""
    layer = get_data_layer()
    if layer is not None:
        await layer.create_step(cast(StepDict, step))


class Checkpoints:
    """The saves of one answer: the first words at once; later words at most `interval` after
    the previous save (a save waits for its time, so what is saved lags the stream by at most
    `interval` plus one save), and never two saves of it at a time."""

    def __init__(
        self,
        save: SaveStep | None,
        interval: float = CHECKPOINT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._save = save
        self._sleep = sleep
        self.interval = interval
        self._clock = clock
        self._last: float | None = None
        self._pending: asyncio.Task[None] | None = None
        self._step: Callable[[], StepDict] | None = None
        self._writing = False
        self._growths = 0  # how many times the answer grew; a save knows which it has
        self._settling = False
        self.saved = 0  # checkpoints written

    def grew(self, step: Callable[[], StepDict]) -> None:
        """The answer grew: it is saved now, or when its time comes."""
        self._step = step
        self._growths += 1
        if self._save is None or (self._pending is not None and not self._pending.done()):
            # A save waiting takes the answer as it is by then; one under way saves again
            # after it (a stalled stream sends no next token to wake a save).
            return
        self._pending = asyncio.create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        assert self._save is not None and self._step is not None
        saved_growths = -1
        while saved_growths != self._growths and not self._settling:
            if self._last is not None:
                wait = self._last + self.interval - self._clock()
                if wait > 0:
                    await self._sleep(wait)  # the write rate's bound, not a wait for something
            self._last = self._clock()
            self._writing = True
            saved_growths = self._growths
            try:
                await self._save(in_progress(self._step()))
                self.saved += 1
            except Exception as error:  # the data layer tells the chat; the answer goes on
                log.warning("saving the answer as it grows failed: %s", error)
            finally:
                self._writing = False

    async def settled(self) -> None:
        """Before the answer's last save: a save waiting for its time is dropped (the last save
        has all of it), one under way is waited for."""
        self._settling = True
        pending = self._pending
        if pending is None or pending.done():
            return
        if not self._writing:
            pending.cancel()
        await asyncio.wait({pending})
