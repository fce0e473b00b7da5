"""Benchmark: a chat's title with the bundled model (issue 22). What the model writes for typical
first questions and what the app keeps of it (chat/titles.py), how long a title takes, and what a
title being written does to the next answer's first token.

Through the real endpoint (`serve`, the bundled model), with the app's own code:

- titles: for each question, write_title (greedy, one line, at most 16 tokens) and title_from
  (cleaned, or the first message instead); whether the model's title was kept, and how long it
  took;
- the follow-up's first token, in rounds, each round in three ways, in turns: a new
  conversation's first question is answered, then its follow-up is sent at once and the time to
  its first token measured
  - without a title;
  - with the title written meanwhile and cancelled by the follow-up (chat/idle_work.py, as the
    app does);
  - with the title written meanwhile and left to finish (what Ollama users report).

Writes docs/benchmarks/titles.md.

    .venv/bin/python -m bench.bench_titles [--rounds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable
from tempfile import TemporaryDirectory

from openai import AsyncOpenAI

from bench.report import table, write_report
from foundry_local_chat.chat.idle_work import IdleWork
from foundry_local_chat.chat.titles import title_from, write_title
from foundry_local_chat.config import Settings
from foundry_local_chat.models.bundled import is_built
from foundry_local_chat.ui.texts import ENGLISH, STARTERS
from tests.support.processes import clean_env, free_port, start_endpoint

QUESTIONS = [message for _, message in STARTERS[ENGLISH]] + [
    "What is the capital of France?",
    "How many plums does the cake need?",
    "hi",
    "Write a poem about the sea",
    "Can you help me plan a three day trip to Kyoto in autumn with kids?",
    "why does my docker container exit immediately after starting",
    "I need a recipe for vegan lasagna",
    "My cat keeps scratching the sofa, what can I do?",
    "How do I reverse a list in Python?",
    "What are the health benefits of green tea?",
    "Summarize the French revolution in three sentences.",
    "Translate 'good morning' into Spanish.",
]
FIRST, FOLLOW_UP = "What is the capital of France?", "And of Spain?"
ANSWER_TOKENS = 32


async def first_token(client: AsyncOpenAI, model: str, messages: list[dict[str, str]],
                      key: str) -> tuple[float, str]:  # fmt: skip
    """Seconds to the answer's first text, and the whole answer."""
    started, first, text = time.perf_counter(), None, ""
    stream = await client.chat.completions.create(
        model=model, messages=messages, max_tokens=ANSWER_TOKENS, temperature=0,  # type: ignore[arg-type]
        stream=True, extra_body={"prompt_cache_key": key},
    )  # fmt: skip
    async with stream:
        async for chunk in stream:
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta and first is None:
                first = time.perf_counter() - started
            text += delta or ""
    return (first if first is not None else time.perf_counter() - started), text


async def follow_up(client: AsyncOpenAI, model: str, way: str, idle: IdleWork) -> float:
    """One round's follow-up first token, in one of the three ways."""
    key = uuid.uuid4().hex
    _, answer = await first_token(client, model, [{"role": "user", "content": FIRST}], key)
    conversation = [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": FOLLOW_UP},
    ]
    title: asyncio.Task[object] | None = None

    def write() -> Awaitable[str]:
        return write_title(client, model, FIRST)

    if way != "without a title":
        title = asyncio.create_task(idle.when_idle(write) if way.endswith("cancelled") else write())
        await asyncio.sleep(0.05)  # the title's request is on its way when the follow-up comes
    try:
        async with idle.answering():
            seconds, _ = await first_token(client, model, conversation, key)
    finally:
        if title is not None:
            title.cancel()
            await asyncio.gather(title, return_exceptions=True)
    return seconds


async def measure(client: AsyncOpenAI, model: str, rounds: int) -> str:
    rows = []
    kept, took = 0, []
    for question in QUESTIONS:
        started = time.perf_counter()
        written = await write_title(client, model, question)
        took.append(time.perf_counter() - started)
        title = title_from(written, question)
        kept += title.by_model
        rows.append((f"`{question}`", f"`{written.strip()}`", f"**{title.text}**",
                     "the model's" if title.by_model else "first message",
                     f"{took[-1] * 1000:.0f} ms"))  # fmt: skip
    ways = ["without a title", "title written meanwhile, cancelled",
            "title written meanwhile, left to finish"]  # fmt: skip
    times: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(rounds):
        for way in ways:
            times[way].append(await follow_up(client, model, way, IdleWork()))
    follow_ups = table(
        ["the follow-up was sent", "first token, median", "fastest", "slowest"],
        [(way, f"{statistics.median(t) * 1000:.0f} ms", f"{min(t) * 1000:.0f} ms",
          f"{max(t) * 1000:.0f} ms") for way, t in times.items()],
    )  # fmt: skip
    return f"""
## Titles the bundled model writes

The model's title was kept for {kept} of {len(QUESTIONS)} questions; the others keep their
first message (shortened to 60 characters). A title took {statistics.median(took) * 1000:.0f} ms
(median; {min(took) * 1000:.0f}–{max(took) * 1000:.0f} ms).

{table(["first question", "the model wrote", "the chat's title", "title", "took"], rows)}

## The next answer, while a title is written

{rounds} rounds, each way in turn: a new conversation's first question ("{FIRST}") is answered
({ANSWER_TOKENS} tokens at most), then the follow-up ("{FOLLOW_UP}") is sent 50 ms after the
title's request.

{follow_ups}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    arguments = parser.parse_args()
    if not is_built(Settings.from_env().bundled_model_dir):
        raise SystemExit("the bundled model is not built: run `make model` first")
    with TemporaryDirectory() as data:
        env = clean_env({"FOUNDRY_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
                         "FOUNDRY_OFFLINE": "1", "APP_DATA_DIR": data})  # fmt: skip
        endpoint = start_endpoint(env)
        try:
            client = AsyncOpenAI(base_url=endpoint.url, api_key="bench")
            body = asyncio.run(measure(client, endpoint.model, arguments.rounds))
        finally:
            endpoint.process.stop()
    path = write_report("titles", "Chat titles with the bundled model", body)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
