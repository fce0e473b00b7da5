"""Liveness and readiness as data: each component's state and, when it is not ready, why.

`/healthz` only says the process answers. `/readyz` runs the checks (a 1-token completion, a
database round trip) at most once per `cache_seconds`, one run at a time: a probe that comes
while a check runs waits for that run instead of starting another, so probes cost no model work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

HEALTHY = {"status": "ok"}


@dataclass(frozen=True)
class Component:
    name: str
    ready: bool
    reason: str = ""  # why it is not ready, or what it is doing ("answering")

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"ready": self.ready}
        if self.reason:
            entry["reason"] = self.reason
        return entry


@dataclass(frozen=True)
class Readiness:
    components: tuple[Component, ...]
    checked_at: float  # time.time() of the check

    @property
    def ready(self) -> bool:
        return all(component.ready for component in self.components)

    @property
    def status(self) -> int:
        return 200 if self.ready else 503

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not ready",
            "components": {c.name: c.as_json() for c in self.components},
            "checked_at": self.checked_at,
        }

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)


Check = Callable[[], Awaitable[tuple[Component, ...]]]


class CachedReadiness:
    """Runs `check` at most once per `cache_seconds` (on the event loop it is awaited on)."""

    def __init__(
        self,
        check: Check,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._last: Readiness | None = None
        self._last_at = 0.0
        self._running: asyncio.Future[Readiness] | None = None
        self.runs = 0  # how many checks actually ran (the rest were served from the cache)

    def forget(self) -> None:
        """The next probe checks again (something changed that the cache cannot know)."""
        self._last = None

    async def get(self) -> Readiness:
        if self._last is not None and self._clock() - self._last_at < self.cache_seconds:
            return self._last
        if self._running is None:
            self._running = asyncio.ensure_future(self._run())
        running = self._running
        try:
            return await asyncio.shield(running)
        finally:
            if running.done() and self._running is running:
                self._running = None

    async def _run(self) -> Readiness:
        self.runs += 1
        components = await self._check()
        self._last = Readiness(components, time.time())
        self._last_at = self._clock()
        return self._last
