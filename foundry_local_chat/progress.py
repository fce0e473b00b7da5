"""Terminal progress for long start-up work (model download and load)."""

from __future__ import annotations

import sys
from typing import Never

from tqdm import tqdm

from foundry_local_chat.foundry_runtime import Progress


def terminal_progress() -> Progress:
    """A Progress callback that draws one bar per stage with a percent, and a line otherwise."""
    bars: dict[str, tqdm[Never]] = {}  # bars without an iterable: they yield nothing

    def report(stage: str, percent: float | None) -> None:
        if percent is None:
            print(f"foundry-local-chat: {stage}…", file=sys.stderr, flush=True)
            return
        bar = bars.get(stage)
        if bar is None:
            if stage == "ready":
                return
            bar = bars[stage] = tqdm(total=100, desc=stage, unit="%", file=sys.stderr)
        bar.update(max(0.0, percent - bar.n))
        if percent >= 100:
            bar.close()
            del bars[stage]  # a later download (another model) gets a bar of its own

    return report
