"""The owner of the Foundry Local runtime: one model preparation at a time, each reporting its
progress only to the chat that asked for it. A stand-in runtime blocks like the SDK does (in a
worker thread); the real runtime's downloads are in e2e/test_catalog_models.py."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from foundry_local_chat.config import Settings
from foundry_local_chat.models.foundry_runtime import FoundryRuntime, Progress
from foundry_local_chat.models.local_models import LocalModels, MonotonicProgress


class BlockingRuntime(FoundryRuntime):
    """prepare_model reports a download, then blocks its worker thread until released."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.release = {"a:1": threading.Event(), "b:1": threading.Event()}
        self.entered = {"a:1": threading.Event(), "b:1": threading.Event()}
        self.order: list[str] = []

    def prepare_model(self, name: str, progress: Progress | None = None) -> None:
        assert progress is not None
        self.order.append(name)
        self.entered[name].set()
        progress("download", 40.0)
        self.release[name].wait(timeout=30)
        progress("ready", 100.0)


async def test_two_chats_prepare_one_model_after_the_other_each_seeing_its_own_progress(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({"APP_DATA_DIR": str(tmp_path), "FOUNDRY_LOCAL": "0"})
    runtime = BlockingRuntime(settings)
    local = LocalModels(settings, runtime)
    seen: dict[str, list[tuple[str, float | None]]] = {"a:1": [], "b:1": []}
    reported = {"a:1": asyncio.Event(), "b:1": asyncio.Event()}

    def reporter(name: str) -> Progress:
        def report(stage: str, percent: float | None) -> None:
            seen[name].append((stage, percent))
            reported[name].set()

        return report

    first = asyncio.create_task(local.prepare("a:1", reporter("a:1")))
    await asyncio.to_thread(runtime.entered["a:1"].wait, 30)
    second = asyncio.create_task(local.prepare("b:1", reporter("b:1")))
    await reported["b:1"].wait()  # it says it waits, and holds no thread of the runtime
    assert not runtime.entered["b:1"].is_set(), "the second waits for the first"
    runtime.release["a:1"].set()
    await first
    await asyncio.to_thread(runtime.entered["b:1"].wait, 30)
    runtime.release["b:1"].set()
    await second

    assert runtime.order == ["a:1", "b:1"]
    assert seen["a:1"] == [("checking the model cache", None), ("download", 40.0), ("ready", 100)]
    assert seen["b:1"][0] == ("waiting for another model to be ready", None)
    assert seen["b:1"][1:] == [("checking the model cache", None), ("download", 40.0),
                               ("ready", 100)]  # fmt: skip


def test_progress_never_goes_back_within_a_stage() -> None:
    shown: list[tuple[str, float | None]] = []
    progress = MonotonicProgress(lambda stage, percent: shown.append((stage, percent)))
    for stage, percent in [("download", 18.0), ("download", 13.0), ("download", 40.0),
                           ("load", None), ("ready", 100.0)]:  # fmt: skip
        progress(stage, percent)
    assert shown == [("download", 18.0), ("download", 40.0), ("load", None), ("ready", 100.0)]
