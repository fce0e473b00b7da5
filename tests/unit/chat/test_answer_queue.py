"""The app's answer queue: first come, first served, each waiting answer told its place, and an
answer that is stopped while it waits leaves the line at once."""

from __future__ import annotations

import asyncio

import pytest

from foundry_local_chat.chat.answer_queue import AnswerQueue


class Answer:
    """One chat's answer: records the places it was told, and holds its turn until released."""

    def __init__(self, queue: AnswerQueue, name: str, served: list[str]) -> None:
        self.places: list[int] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.task = asyncio.create_task(self._run(queue, name, served))

    async def _tell(self, ahead: int) -> None:
        self.places.append(ahead)

    async def _run(self, queue: AnswerQueue, name: str, served: list[str]) -> None:
        async with queue.turn(self._tell):
            served.append(name)
            self.started.set()
            await self.release.wait()


async def settled() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_answers_take_turns_in_order_and_hear_their_place() -> None:
    queue, served = AnswerQueue(concurrency=1), []
    first = Answer(queue, "first", served)
    await first.started.wait()
    second, third = Answer(queue, "second", served), Answer(queue, "third", served)
    await settled()
    assert (second.places, third.places) == ([1], [2])
    assert (queue.running, queue.waiting) == (1, 2)

    first.release.set()
    await second.started.wait()
    await settled()
    assert third.places == [2, 1], "the place goes down as the line moves"
    second.release.set()
    third.release.set()
    await third.task
    assert served == ["first", "second", "third"]
    assert first.places == [] and (queue.running, queue.waiting) == (0, 0)


async def test_an_answer_stopped_while_waiting_leaves_the_line() -> None:
    queue, served = AnswerQueue(concurrency=1), []
    first = Answer(queue, "first", served)
    await first.started.wait()
    second, third = Answer(queue, "second", served), Answer(queue, "third", served)
    await settled()
    second.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second.task
    await settled()
    assert third.places == [2, 1] and queue.waiting == 1
    first.release.set()
    await third.started.wait()
    third.release.set()
    await third.task
    assert served == ["first", "third"]


async def test_two_places_serve_two_answers_at_once() -> None:
    queue, served = AnswerQueue(concurrency=2), []
    answers = [Answer(queue, name, served) for name in ("a", "b", "c")]
    await answers[0].started.wait()
    await answers[1].started.wait()
    await settled()
    assert answers[2].places == [2] and not answers[2].started.is_set()
    answers[1].release.set()
    await answers[2].started.wait()
    for answer in answers:
        answer.release.set()
    await asyncio.gather(*(a.task for a in answers))
    assert served == ["a", "b", "c"]


def test_a_queue_admits_at_least_one_answer() -> None:
    with pytest.raises(ValueError, match="at least one"):
        AnswerQueue(concurrency=0)
