"""A chat's title, in-process: what the model wrote is cleaned into a title or refused for the
first message, the request asks for one short line, and title work waits for the model to be
idle and gives way to every answer (tests/browser/test_chat_titles.py: the real model, the
sidebar, both databases)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai import AsyncOpenAI

from foundry_local_chat.chat.idle_work import GaveWay, IdleWork
from foundry_local_chat.chat.titles import (
    MAX_TITLE_CHARS,
    QUESTION_CHARS,
    TITLE_MAX_TOKENS,
    Title,
    clean_title,
    fallback_title,
    title_from,
    title_prompt,
    write_title,
)
from tests.support.scripted_model import ScriptedModel


def scripted_client(model: ScriptedModel) -> AsyncOpenAI:
    return AsyncOpenAI(base_url="http://model.test/v1", api_key="x", http_client=model.http_client)


KYOTO = "Can you help me plan a three day trip to Kyoto in autumn with kids?"


@pytest.mark.parametrize(
    ("question", "written", "title"),
    [
        # What SmolLM2-135M, the bundled model, wrote for these (greedy, tests/test_browser_…).
        (KYOTO, "The topic of this question: Planning a three-day trip to Kyoto",
         "Planning a three-day trip to Kyoto"),
        ("What is a Python list? Answer in two sentences.",
         "The topic of this question: What is a Python list? The answer", "What is a Python list?"),
        ("Write a poem about the sea", "The Topic: The Sea and the World Awaits",
         "The Sea and the World Awaits"),
        ("How do I reverse a list in Python?", "The topic of reversing a list in Python: ",
         "Reversing a list in Python"),
        # What larger models write.
        ("What is the capital of France?", '**Title:** "Capital of France"', "Capital of France"),
        ("What is the capital of France?", "# Capital of France.\nThe capital is Paris.",
         "Capital of France"),
        ("What is the capital of France?", "<think>the user asks</think>France's capital",
         "France's capital"),
        ("What is the capital of France?", "[Capital of France](https://example.org)",
         "Capital of France"),
        ("고양이는 왜 상자를 좋아하나요?", "제목: 고양이와 상자", "고양이와 상자"),
        ("고양이는 왜 상자를 좋아하나요?", "「고양이가 상자를 좋아하는 이유」",
         "고양이가 상자를 좋아하는 이유"),
    ],
)  # fmt: skip
def test_what_the_model_wrote_becomes_one_short_clean_line(
    question: str, written: str, title: str
) -> None:
    assert title_from(written, question) == Title(title, by_model=True)


@pytest.mark.parametrize(
    ("question", "written"),
    [
        ("What is the capital of France?", ""),
        ("What is the capital of France?", "   \n\n  "),
        ("What is the capital of France?", "France France France France"),  # a loop
        ("What is the capital of France?", "paris lyon paris lyon paris lyon"),
        ("What is the capital of France?", "...!?"),
        # Words about something else (the bundled model, greedy).
        ("What is the capital of France?",
         "The answer to this question should be in French and contain exactly 5"),
        ("How many plums does the cake need?",
         "The answer to this question involves some math and logic, but it's"),
        ("hi", "The topic: The topic of this question: What's the topic of"),
        ("Explain what a black hole is in two sentences.",
         "The topic of this question: What about two sentences? The topic can"),
        ("Explain photosynthesis in one sentence.", "The topic of this sentence: "),
        ("고양이는 왜 상자를 좋아하나요?", "Cats and boxes"),  # not in the chat's language
    ],
)  # fmt: skip
def test_nonsense_gives_the_first_message_instead(question: str, written: str) -> None:
    assert clean_title(written, question) is None
    assert title_from(written, question) == Title(question, by_model=False)


def test_a_long_title_or_first_message_is_cut_at_a_word() -> None:
    long = "Why does your Docker container exit immediately after starting and what to do"
    title = title_from(f"Topic: {long}", "why does my docker container exit immediately")
    assert title == Title("Why does your Docker container exit immediately after…", True)
    question = "word " * 40 + "\n\nand more"
    assert fallback_title(question) == ("word " * 12).strip() + "…"
    assert len(fallback_title("x" * 500)) == MAX_TITLE_CHARS


@given(st.text(max_size=300), st.text(min_size=1, max_size=200))
def test_a_title_is_one_bounded_line_whatever_was_written(written: str, question: str) -> None:
    title = title_from(written, question)
    assert len(title.text) <= MAX_TITLE_CHARS
    assert "\n" not in title.text and "\r" not in title.text
    assert not any(ord(c) < 32 or c in "\u202e\u2066" for c in title.text)
    title.text.encode("utf-8")  # no lone surrogate reaches the database


def test_the_model_reads_the_question_only_on_one_line_and_in_its_language() -> None:
    [english] = title_prompt(KYOTO + "\n\n" + "x" * 1000)
    assert english["role"] == "user" and "topic" in english["content"]
    assert KYOTO in english["content"] and "\n" not in english["content"]
    assert len(english["content"]) < QUESTION_CHARS + 200
    [korean] = title_prompt("고양이는 왜 상자를 좋아하나요?")
    assert "한국어" in korean["content"]


async def test_the_title_request_asks_for_one_short_line() -> None:
    model = ScriptedModel()
    model.enqueue("Topic: Trip", " to Kyoto", "\n")
    client = scripted_client(model)
    assert await write_title(client, model.model, KYOTO) == "Topic: Trip to Kyoto\n"
    [request] = model.requests
    assert request["stop"] == ["\n"]  # one line; the endpoint keeps it out of its conversations
    assert request["max_tokens"] == TITLE_MAX_TOKENS and request["temperature"] == 0
    assert request["stream"] is True


async def test_a_cancelled_title_request_is_closed_at_once() -> None:
    model = ScriptedModel()
    hold = asyncio.Event()
    reply = model.enqueue("Trip", " to Kyoto", hold=hold)
    client = scripted_client(model)
    writing = asyncio.create_task(write_title(client, model.model, KYOTO))
    await reply.started.wait()
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    assert model.closed_early == 1


class Job:
    """Title work: records each start, and ends when released (or when cancelled)."""

    def __init__(self) -> None:
        self.starts = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = 0

    async def __call__(self) -> str:
        self.starts += 1
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            self.started.clear()
            raise
        return "done"


async def test_title_work_waits_while_an_answer_is_written() -> None:
    idle, job = IdleWork(), Job()
    answer_may_end = asyncio.Event()

    async def answer() -> None:
        async with idle.answering():
            await answer_may_end.wait()

    answering = asyncio.create_task(answer())
    await asyncio.sleep(0)
    working = asyncio.create_task(idle.when_idle(job))
    for _ in range(5):
        await asyncio.sleep(0)
    assert job.starts == 0, "it started while an answer was being written"
    answer_may_end.set()
    await answering
    await job.started.wait()
    job.release.set()
    assert await working == "done"


async def test_an_answer_cancels_title_work_under_way_and_it_runs_again_when_idle() -> None:
    idle, job = IdleWork(), Job()
    working = asyncio.create_task(idle.when_idle(job))
    await job.started.wait()
    async with idle.answering():
        assert job.cancelled == 1, "the answer began before the title work gave way"
        assert not idle.busy_with_a_job
    await job.started.wait()  # the next idle moment
    assert job.starts == 2
    job.release.set()
    assert await working == "done"


async def test_title_work_that_keeps_giving_way_is_given_up() -> None:
    idle, job = IdleWork(), Job()
    working = asyncio.create_task(idle.when_idle(job, attempts=2))
    for _ in range(2):
        await job.started.wait()
        async with idle.answering():
            pass
    with pytest.raises(GaveWay):
        await working
    assert (job.starts, job.cancelled) == (2, 2)


async def test_one_title_at_a_time() -> None:
    idle, first, second = IdleWork(), Job(), Job()
    one = asyncio.create_task(idle.when_idle(first))
    two = asyncio.create_task(idle.when_idle(second))
    await first.started.wait()
    for _ in range(5):
        await asyncio.sleep(0)
    assert second.starts == 0
    first.release.set()
    await second.started.wait()
    second.release.set()
    assert await asyncio.gather(one, two) == ["done", "done"]
