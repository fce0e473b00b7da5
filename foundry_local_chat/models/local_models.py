"""The owner of this process's Foundry Local runtime: starts and stops it, and prepares models
(download, load) one at a time, each reporting its progress to whoever asked for it.

Process-wide (the SDK's manager is a singleton); per-chat state never lives here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from foundry_local_chat.config import Settings
from foundry_local_chat.models.foundry_runtime import (
    FoundryRuntime,
    FoundryStartError,
    Progress,
    RunningEndpoint,
)

log = logging.getLogger(__name__)


class MonotonicProgress:
    """Passes a Progress on, dropping percents that go back within a stage: the SDK downloads
    files in parallel, and their reports arrive out of order."""

    def __init__(self, report: Progress) -> None:
        self._report = report
        self.last: tuple[str, float | None] = ("waiting", None)

    def __call__(self, stage: str, percent: float | None) -> None:
        last_stage, last_percent = self.last
        if (
            stage == last_stage
            and percent is not None
            and last_percent is not None
            and percent < last_percent
        ):
            return
        self.last = (stage, percent)
        self._report(stage, percent)


def on_this_loop(report: Progress) -> Progress:
    """A Progress the SDK's worker thread may call: `report` runs on the calling event loop."""
    loop = asyncio.get_running_loop()

    def report_on_loop(stage: str, percent: float | None) -> None:
        loop.call_soon_threadsafe(report, stage, percent)

    return report_on_loop


class LocalModels:
    def __init__(self, settings: Settings, runtime: FoundryRuntime | None = None) -> None:
        self.settings = settings
        self.runtime = runtime or FoundryRuntime(settings)
        self.error: str | None = None  # why Foundry Local is unavailable, once started
        self._started = asyncio.Event()
        self._preparing = asyncio.Lock()
        self._model_dirs: dict[str, Path] = {}
        self._startup_listeners: list[Progress] = []
        self._startup = MonotonicProgress(self._tell_startup_listeners)

    @property
    def endpoint(self) -> RunningEndpoint | None:
        return self.runtime.endpoint

    @property
    def started(self) -> bool:
        return self._started.is_set()

    @property
    def startup_progress(self) -> tuple[str, float | None]:
        return self._startup.last

    def on_startup_progress(self, listener: Progress) -> Callable[[], None]:
        """Listen to the start's progress (every chat waiting for it sees the same start);
        returns the function that stops listening."""
        self._startup_listeners.append(listener)
        return lambda: self._startup_listeners.remove(listener)

    def _tell_startup_listeners(self, stage: str, percent: float | None) -> None:
        for listener in list(self._startup_listeners):
            listener(stage, percent)

    async def start(self) -> None:
        """Start the runtime in a worker thread (the SDK blocks); never raises: a failure is
        kept in `error` for the chats to explain."""
        if not self.settings.use_foundry_local:  # the resolver knows why from the settings
            self._started.set()
            return
        try:
            async with self._preparing:
                endpoint = await asyncio.to_thread(self.runtime.start, on_this_loop(self._startup))
            log.info("Foundry Local serves %s at %s", endpoint.model_id, endpoint.url)
        except FoundryStartError as error:
            self.error = str(error)
            log.warning("Foundry Local is unavailable: %s", error, exc_info=error.__cause__)
        finally:
            self._started.set()

    async def wait_started(self) -> None:
        await self._started.wait()

    async def prepare(self, model: str, progress: Progress) -> None:
        """Make a catalog model servable (download, load), reporting to `progress` on this loop.
        One preparation at a time: a second waits for the first. Raises FoundryStartError."""
        report = MonotonicProgress(progress)
        if self._preparing.locked():
            report("waiting for another model to be ready", None)
        async with self._preparing:
            report("checking the model cache", None)
            await asyncio.to_thread(self.runtime.prepare_model, model, on_this_loop(report))

    async def model_dir(self, model: str) -> Path | None:
        """The folder of a downloaded model; looked up in the SDK once per model, as every
        chat turn asks for it."""
        if model not in self._model_dirs:
            found = await asyncio.to_thread(self.runtime.model_dir, model)
            if found is None:  # not downloaded yet: ask again next time
                return None
            self._model_dirs[model] = found
        return self._model_dirs[model]

    def stop(self) -> None:
        self.runtime.stop()
