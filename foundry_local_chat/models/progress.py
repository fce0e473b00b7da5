"""Terminal progress for long start-up work (model download and load): bars for people, or
log records (one JSON line each) with LOG_FORMAT=json."""

from __future__ import annotations

import logging
import sys
from typing import Never

from tqdm import tqdm

from foundry_local_chat.log_format import LogFormat
from foundry_local_chat.models.foundry_runtime import Progress

log = logging.getLogger(__name__)
LOGGED_STEP = 10  # percent between two logged lines of one stage


def terminal_progress(log_format: LogFormat = LogFormat.TEXT) -> Progress:
    """A Progress callback that draws one bar per stage with a percent, and a line otherwise;
    for JSON logs, a log record per stage and per LOGGED_STEP percent instead."""
    if log_format is LogFormat.JSON:
        return _logged_progress()
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


def _logged_progress() -> Progress:
    logged: dict[str, float] = {}  # the last percent logged, by stage

    def report(stage: str, percent: float | None) -> None:
        if percent is None:
            log.info("start-up: %s", stage)
            return
        last = logged.get(stage)
        if last is None or percent >= min(100.0, last + LOGGED_STEP) or percent < last:
            logged[stage] = percent
            log.info("start-up: %s %.0f%%", stage, percent)

    return report
