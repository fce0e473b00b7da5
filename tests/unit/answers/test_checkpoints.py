"""An answer is saved as it grows, at a bounded rate, and what is saved lags the stream by at
most the interval (checked on virtual time, for any arrival of tokens)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, cast

from chainlit.step import StepDict
from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_local_chat.answers.checkpoints import Checkpoints, in_progress
from foundry_local_chat.answers.live import IN_PROGRESS_KEY

INTERVAL = 1.0


class VirtualTime:
    """A clock that moves only when the code under test sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self._moved = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        while self.now < until:
            self._moved.clear()
            await self._moved.wait()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self._moved.set()


def step(text: str) -> StepDict:
    return cast(StepDict, {"id": "a1", "output": text, "metadata": {"reply_model": "m"}})


async def run(
    gaps: list[float], write_seconds: float = 0.0
) -> tuple[list[tuple[float, dict[str, Any]]], str]:
    """Tokens arrive after `gaps`; a save takes `write_seconds` (the answer may grow meanwhile).
    The saves (when each began, what it saved) and the whole text."""
    time = VirtualTime()
    saves: list[tuple[float, dict[str, Any]]] = []

    async def save(saved: dict[str, Any]) -> None:
        saves.append((time.now, saved))
        if write_seconds:
            await time.sleep(write_seconds)

    checkpoints = Checkpoints(save, INTERVAL, time.clock, time.sleep)
    text = ""
    for number, gap in enumerate(gaps):
        time.advance(gap)
        await asyncio.sleep(0)
        text += f" w{number}"
        checkpoints.grew(lambda text=text: step(text))  # type: ignore[misc]
        for _ in range(3):
            await asyncio.sleep(0)  # let a save that is due run
    for _ in range(3):  # the stream stopped: a save under way ends, the one due comes
        time.advance(INTERVAL + write_seconds)
        for _ in range(5):
            await asyncio.sleep(0)
    return saves, text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=2.5), min_size=1, max_size=40))
def test_saves_are_bounded_and_the_last_has_everything(gaps: list[float]) -> None:
    saves, text = asyncio.run(run(gaps))
    assert saves, "the first words are saved"
    assert saves[0][0] == gaps[0], "at once"
    times = [at for at, _ in saves]
    assert all(b - a >= INTERVAL - 1e-9 for a, b in itertools.pairwise(times)), times
    assert all(saved["metadata"][IN_PROGRESS_KEY] for _, saved in saves)
    assert all(saved["streaming"] is False for _, saved in saves)
    assert saves[-1][1]["output"] == text, "once the stream pauses, all of it is saved"
    assert len(saves) <= 1 + sum(gaps) / INTERVAL + 1


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=2.5), min_size=1, max_size=40),
    st.floats(min_value=0.01, max_value=3.0),
)
def test_words_that_come_during_a_slow_save_are_saved_after_it(
    gaps: list[float], write_seconds: float
) -> None:
    saves, text = asyncio.run(run(gaps, write_seconds))
    times = [at for at, _ in saves]
    assert all(b - a >= max(INTERVAL, write_seconds) - 1e-9 for a, b in itertools.pairwise(times))
    assert saves[-1][1]["output"] == text, "a stream that stalls mid-write still has it all saved"


async def test_a_stream_that_stalls_during_a_save_is_saved_whole() -> None:
    """What a stalled stream (a held answer, a slow model) showed last is saved, though no
    token comes after the save that was under way when it arrived."""
    time = VirtualTime()
    saved: list[str] = []
    writing = asyncio.Event()

    async def save(step: dict[str, Any]) -> None:
        saved.append(step["output"])
        writing.set()
        await time.sleep(0.3)

    checkpoints = Checkpoints(save, INTERVAL, time.clock, time.sleep)
    checkpoints.grew(lambda: step("The sun"))
    await writing.wait()
    checkpoints.grew(lambda: step("The sun dipped"))  # while "The sun" is being written
    for _ in range(3):
        time.advance(INTERVAL)
        for _ in range(5):
            await asyncio.sleep(0)
    assert saved == ["The sun", "The sun dipped"]


def test_in_progress_marks_a_copy() -> None:
    original = step("Paris")
    marked = in_progress(original)
    assert marked["metadata"] == {"reply_model": "m", IN_PROGRESS_KEY: True}
    assert original["metadata"] == {"reply_model": "m"}, "the answer's own metadata is untouched"


async def test_the_last_save_drops_a_waiting_checkpoint() -> None:
    time = VirtualTime()
    saved: list[str] = []
    first_saved = asyncio.Event()

    async def save(step: dict[str, Any]) -> None:
        saved.append(step["output"])
        first_saved.set()

    checkpoints = Checkpoints(save, INTERVAL, time.clock, time.sleep)
    checkpoints.grew(lambda: step("one"))
    await first_saved.wait()
    checkpoints.grew(lambda: step("one two"))  # not yet its time: it waits
    await asyncio.sleep(0)
    await checkpoints.settled()  # the answer's last save comes now and has it all
    time.advance(INTERVAL * 2)
    await asyncio.sleep(0)
    assert saved == ["one"]


async def test_without_history_nothing_is_saved() -> None:
    checkpoints = Checkpoints(None)
    checkpoints.grew(lambda: step("Paris"))
    await checkpoints.settled()
    assert checkpoints.saved == 0
