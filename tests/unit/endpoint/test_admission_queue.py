"""The bounded FIFO queue on its own: the hand-over of a place in the moments the HTTP tests cannot
arrange (tests/unit/endpoint/test_gateway.py shows the queue through the gateway)."""

from __future__ import annotations

import asyncio

import pytest

from foundry_local_chat.endpoint.admission_queue import AdmissionQueue, QueueFull


async def one_loop_turn() -> None:
    """Let each task that is ready run up to its next await: deterministic, not a timed wait
    (each use is followed by an assertion on the queue's state)."""
    await asyncio.sleep(0)


async def hold(queue: AdmissionQueue, release: asyncio.Event, log: list[str], name: str) -> None:
    async with queue.slot():
        log.append(name)
        await release.wait()


async def test_places_go_in_arrival_order_and_the_rest_are_refused() -> None:
    queue, release, log = AdmissionQueue(concurrency=1, max_waiting=2), asyncio.Event(), []
    tasks = []
    for name in ("a", "b", "c"):
        tasks.append(asyncio.create_task(hold(queue, release, log, name)))
        await one_loop_turn()
    assert (queue.active, queue.waiting, log) == (1, 2, ["a"])
    with pytest.raises(QueueFull) as full:
        async with queue.slot():
            pass
    assert (full.value.active, full.value.waiting) == (1, 2)
    assert full.value.retry_after_s >= 1
    release.set()
    await asyncio.gather(*tasks)
    assert log == ["a", "b", "c"] and (queue.active, queue.waiting) == (0, 0)


async def test_a_place_handed_to_a_client_that_just_left_goes_to_the_next() -> None:
    queue, log = AdmissionQueue(concurrency=1, max_waiting=2), []
    held = queue.slot()
    await held.__aenter__()  # the test holds the one place
    leaving = asyncio.create_task(hold(queue, asyncio.Event(), log, "leaving"))
    last = asyncio.create_task(hold(queue, asyncio.Event(), log, "last"))
    await one_loop_turn()
    assert (queue.active, queue.waiting) == (1, 2)
    await held.__aexit__(None, None, None)  # the place is handed to `leaving`, not yet running …
    leaving.cancel()  # … whose client leaves before it can use it
    with pytest.raises(asyncio.CancelledError):
        await leaving
    await one_loop_turn()
    assert log == ["last"]  # the place went on to the next in line, not lost
    assert (queue.active, queue.waiting) == (1, 0)
    last.cancel()
    with pytest.raises(asyncio.CancelledError):
        await last
    assert (queue.active, queue.waiting) == (0, 0)


async def test_a_waiting_client_that_leaves_is_removed_at_once() -> None:
    queue, release = AdmissionQueue(concurrency=1, max_waiting=1), asyncio.Event()
    first = asyncio.create_task(hold(queue, release, [], "first"))
    await one_loop_turn()
    waiting = asyncio.create_task(hold(queue, asyncio.Event(), [], "waiting"))
    await one_loop_turn()
    assert queue.waiting == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert (queue.active, queue.waiting) == (1, 0)
    release.set()
    await first
    assert queue.active == 0


def test_impossible_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        AdmissionQueue(concurrency=0, max_waiting=1)
    with pytest.raises(ValueError):
        AdmissionQueue(concurrency=1, max_waiting=-1)
