"""Answers being written, by thread: at most one per thread, seen and stopped only by its owner;
and what a tab that opens a thread is shown of them (reattach)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from chainlit.step import StepDict
from chainlit.types import ThreadDict
from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_local_chat.answers.live import (
    CUT_KEY,
    IN_PROGRESS_KEY,
    CutReason,
    LiveAnswer,
    LiveAnswers,
    ThreadBusy,
)
from foundry_local_chat.ui.reattach import NOTE_ELEMENT, shown_on_resume
from foundry_local_chat.ui.texts import words_for

THREADS = st.sampled_from(["t1", "t2", "t3"])
OWNERS = st.sampled_from(["alice", "bob", None])
OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["claim", "release", "cut", "finish"]), THREADS, OWNERS),
    max_size=30,
)


@settings(max_examples=80, deadline=None)
@given(OPERATIONS)
def test_at_most_one_answer_per_thread_and_only_its_owner_sees_it(
    operations: list[tuple[str, str, str | None]],
) -> None:
    async def run() -> None:
        answers = LiveAnswers()
        claimed: list[LiveAnswer] = []
        never = asyncio.Event()
        for operation, thread, owner in operations:
            running = answers.of(thread)
            if operation == "claim":
                task = asyncio.create_task(never.wait())
                try:
                    claimed.append(answers.claim(thread, owner, task))
                    assert running is None, "a thread with a running answer cannot be claimed"
                except ThreadBusy:
                    assert running is not None
                    task.cancel()
            elif running is not None and operation == "release":
                answers.release(running)
            elif running is not None and operation == "cut":
                assert running.cut(CutReason.NOBODY_WATCHING)
                await asyncio.sleep(0)
                assert running.cut_reason == CutReason.NOBODY_WATCHING
                assert not running.cut(CutReason.STOPPED), "an ended answer cannot be cut again"
            elif running is not None:
                running.task.cancel()
                await asyncio.sleep(0)
            for name in ("t1", "t2", "t3"):
                live = [a for a in claimed if a.thread_id == name and a.running]
                assert len(live) <= 1
                assert answers.of(name) is (live[0] if live else None)
                for viewer in ("alice", "bob", None):
                    seen = answers.seen_by(name, viewer)
                    assert seen is None or (viewer is not None and seen.owner == viewer)
        never.set()
        for answer in claimed:
            answer.task.cancel()

    asyncio.run(run())


async def test_the_first_reason_to_cut_stays() -> None:
    answers = LiveAnswers()
    task = asyncio.create_task(asyncio.Event().wait())
    answer = answers.claim("t", "alice", task)
    with pytest.raises(ThreadBusy):
        answers.claim("t", "alice", asyncio.create_task(asyncio.sleep(0)))
    assert answer.cut(CutReason.NOBODY_WATCHING)
    answer.cut(CutReason.STOPPED)
    assert answer.cut_reason == CutReason.NOBODY_WATCHING
    answers.release(answer)
    assert answers.of("t") is None and len(answers) == 0


# ----- what a tab that opens the thread is shown -----


def step(step_id: str, output: str, **metadata: Any) -> dict[str, Any]:
    return {
        "id": step_id, "threadId": "t", "type": "assistant_message", "output": output,
        "name": "model", "streaming": False, "metadata": {"reply_model": "m", **metadata},
    }  # fmt: skip


STEPS = st.lists(
    st.builds(
        step,
        st.uuids().map(str),
        st.text(max_size=20),
        **{IN_PROGRESS_KEY: st.booleans(), CUT_KEY: st.sampled_from([None, "app stopped"])},
    ),
    max_size=6,
    unique_by=lambda s: s["id"],
)


@settings(max_examples=100, deadline=None)
@given(STEPS, st.booleans(), st.booleans(), st.sampled_from(["en-US", "ko-KR"]))
def test_a_resumed_thread_shows_the_live_answer_once_and_notes_the_others(
    steps: list[dict[str, Any]], live_is_stored: bool, has_live: bool, language: str
) -> None:
    thread = cast(ThreadDict, {"id": "t", "steps": steps, "elements": []})
    written = None
    stored = steps[-1] if live_is_stored and steps else None
    if has_live:
        written = step(stored["id"] if stored else "live", "as far as written")
    said = words_for(language)
    shown = shown_on_resume(thread, cast(StepDict | None, written), said)

    assert thread["steps"] is steps and thread["elements"] == [], "the thread is not changed"
    if written is not None:
        [live] = [s for s in shown["steps"] if s["id"] == written["id"]]
        assert live["output"] == "as far as written" and live["streaming"] is True
        assert IN_PROGRESS_KEY not in live["metadata"]
    notes = {e["forId"]: e["props"]["summary"] for e in shown["elements"] or []}
    for shown_step in shown["steps"]:
        metadata = shown_step["metadata"]
        if written is not None and shown_step["id"] == written["id"]:
            assert shown_step["id"] not in notes
        elif metadata.get(IN_PROGRESS_KEY):
            assert notes[shown_step["id"]] == said.being_written
        elif metadata.get(CUT_KEY) == CutReason.APP_STOPPED:
            assert notes[shown_step["id"]] == said.cut_app_stopped
        else:
            assert shown_step["id"] not in notes
    assert all(e["name"] == NOTE_ELEMENT for e in shown["elements"] or [])
    assert len(shown["steps"]) == len(steps) + (written is not None and stored is None)
