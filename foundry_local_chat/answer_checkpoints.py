"""Nothing written is lost: an answer is saved while it grows, at a bounded rate (its first
words at once, then at most once per `interval`, and never two saves of it at a time), marked
as in progress. Its last save (finished, stopped or cut) replaces the mark; an answer still
marked when the app starts again was cut by a crash (see interrupted_answers.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from chainlit.data import get_data_layer
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.step import StepDict

from foundry_local_chat.live_answers import IN_PROGRESS_KEY

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0

SaveStep = Callable[[dict[str, Any]], Awaitable[None]]


def in_progress(step: StepDict) -> dict[str, Any]:
    """The step as saved while it is being written (not streaming: whoever reads it from the
    history sees it as far as it was saved)."""
    metadata = {**(step.get("metadata") or {}), IN_PROGRESS_KEY: True}
    return {**cast(dict[str, Any], step), "streaming": False, "metadata": metadata}


async def save_to_history(step: dict[str, Any]) -> None:
    """Upsert the step (Chainlit's create_step is an upsert), without the chat-state save the
    app's data layer adds to each message: a growing answer changes no setting."""
    layer = get_data_layer()
    if isinstance(layer, SQLAlchemyDataLayer):
        await SQLAlchemyDataLayer.create_step(layer, cast(StepDict, step))
    elif layer is not None:
        await layer.create_step(cast(StepDict, step))


class Checkpoints:
    def __init__(
        self,
        save: SaveStep | None,
        interval: float = CHECKPOINT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._save = save
        self.interval = interval
        self._clock = clock
        self._last: float | None = None
        self._pending: asyncio.Task[None] | None = None
        self.saved = 0  # checkpoints started

    def grew(self, step: Callable[[], StepDict]) -> bool:
        """The answer grew: save it if it is time (True when a save started)."""
        if self._save is None or (self._pending is not None and not self._pending.done()):
            return False
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        self.saved += 1
        self._pending = asyncio.create_task(self._checkpoint(in_progress(step())))
        return True

    async def _checkpoint(self, step: dict[str, Any]) -> None:
        assert self._save is not None
        try:
            await self._save(step)
        except Exception as error:  # the data layer tells the chat; the answer goes on
            log.warning("saving the answer as it grows failed: %s", error)

    async def settled(self) -> None:
        """Wait for the save under way, if any."""
        if self._pending is not None:
            await asyncio.wait({self._pending})
