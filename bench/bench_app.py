"""Benchmark: what the app and the endpoint's gateway add on top of Foundry Local, and start time.

Starts `chainlit run app.py` (which serves the bundled model through Foundry Local in-process),
then runs the same prompts (a) straight against Foundry Local's own web service (behind the
gateway), (b) against the public endpoint (the gateway) with the openai SDK, and (c) through the
whole app over socket.io, as a browser does. Prints the figures, writes them to
bench/results/app.json and, dated, to docs/benchmarks/app.md (committed; the README links to it).

    .venv/bin/python -m bench.bench_app [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from openai import AsyncOpenAI

from bench.report import table, write_report
from foundry_local_chat.chat.turn import ChatOptions, ReplyStats, build_messages, stream_reply
from foundry_local_chat.config import DEFAULT_SYSTEM_PROMPT, GenerationDefaults, Settings
from foundry_local_chat.models.bundled import MANIFEST
from tests.support.chainlit_client import ChainlitSession
from tests.support.processes import clean_env, free_port, start_chainlit

PROMPTS = [
    "Explain how a rainbow forms.",
    "Write a short story about a robot learning to paint.",
    "Give me five tips for learning a new language.",
    "Describe the water cycle.",
]
MAX_TOKENS = 128


async def direct(client: AsyncOpenAI, model: str, prompt: str) -> dict[str, float]:
    """The same request the app makes (system prompt, sampling), straight to the endpoint."""
    messages = build_messages(DEFAULT_SYSTEM_PROMPT, [{"role": "user", "content": prompt}])
    stats = ReplyStats(model=model)
    options = ChatOptions.defaults(model, DEFAULT_SYSTEM_PROMPT, GenerationDefaults())
    options = replace(options, max_tokens=MAX_TOKENS, temperature=0.0)
    last = 0.0
    async for _ in stream_reply(client, options, messages, stats):
        last = time.perf_counter()
    return figures(stats.started, stats.first_token_at or 0.0, last, stats.chunks)


async def through_app(chat: ChainlitSession, prompt: str) -> dict[str, float]:
    started = time.perf_counter()
    await chat.send(prompt)
    await chat.wait_for("task_start")  # events before it belong to on_chat_start
    first = last = 0.0
    tokens = 0
    while True:
        event, _ = await chat.next_event(timeout=120)
        if event in {"stream_start", "stream_token"}:
            last = time.perf_counter()
            first = first or last
            tokens += 1
        elif event == "task_end":
            return figures(started, first, last, tokens)


async def first_chat(app_port: int, launched: float) -> float:
    """Warm start: seconds from launching the command to a chat that is ready to answer."""
    async with ChainlitSession(f"http://127.0.0.1:{app_port}") as chat:
        failure = await chat.ready()
        ready = time.perf_counter() - launched
    assert failure is None, failure
    return ready


def figures(started: float, first: float, last: float, tokens: int) -> dict[str, float]:
    return {
        "ttft_ms": (first - started) * 1000,
        "decode_tok_s": (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0,
        "tokens": tokens,
    }


def summarize(runs: list[dict[str, float]]) -> dict[str, float]:
    return {
        "median_ttft_ms": round(statistics.median(r["ttft_ms"] for r in runs), 1),
        "median_decode_tok_s": round(statistics.median(r["decode_tok_s"] for r in runs), 1),
        "mean_tokens": round(statistics.mean(r["tokens"] for r in runs), 1),
    }


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else 0.0


def paired(over: list[dict[str, float]], base: list[dict[str, float]]) -> dict[str, float]:
    """Medians over the same prompt and round measured back to back: robust to outside load."""
    pairs = list(zip(over, base, strict=True))
    return {
        "added_ttft_ms": round(statistics.median(o["ttft_ms"] - b["ttft_ms"] for o, b in pairs), 1),
        "tok_s_ratio": round(
            statistics.median(o["decode_tok_s"] / b["decode_tok_s"] for o, b in pairs), 3
        ),
    }


async def main(rounds: int) -> dict[str, Any]:
    with TemporaryDirectory() as data_dir:
        endpoint_port, app_port = free_port(), free_port()
        env = clean_env({
            "FOUNDRY_ENDPOINT_URL": f"http://127.0.0.1:{endpoint_port}",
            "FOUNDRY_OFFLINE": "1", "APP_DATA_DIR": data_dir,
            "TEMPERATURE": "0", "MAX_TOKENS": str(MAX_TOKENS),
        })  # fmt: skip
        launched = time.perf_counter()
        app = start_chainlit(env, app_port)
        try:
            url = f"http://127.0.0.1:{endpoint_port}/v1"
            warm_start = await first_chat(app_port, launched)
            foundry_url = app.find_line(r"own web service \(behind the endpoint\): (\S+)", 30)[1]
            client = AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
            foundry = AsyncOpenAI(base_url=foundry_url, api_key="bench", max_retries=0)
            [model] = [served.id async for served in client.models.list()]
            await direct(client, model, "Hello")  # warm-up, not counted
            await direct(foundry, model, "Hello")
            runs: dict[str, list[dict[str, float]]] = {"foundry": [], "endpoint": [], "app": []}
            for _ in range(rounds):
                for prompt in PROMPTS:  # interleaved, so drift hits every path alike
                    runs["foundry"].append(await direct(foundry, model, prompt))
                    runs["endpoint"].append(await direct(client, model, prompt))
                    # A new chat per prompt: both paths then send the same one-turn conversation.
                    async with ChainlitSession(f"http://127.0.0.1:{app_port}") as chat:
                        await chat.ready()
                        runs["app"].append(await through_app(chat, prompt))
        finally:
            app.stop()
    foundry, endpoint, app_path = (summarize(runs[path]) for path in ("foundry", "endpoint", "app"))
    return {
        "model": model,
        "prompts": len(PROMPTS),
        "rounds": rounds,
        "max_tokens": MAX_TOKENS,
        "warm_start_s": round(warm_start, 2),
        "foundry": foundry,
        "endpoint": endpoint,
        "app": app_path,
        "gateway_added_ttft_ms": round(endpoint["median_ttft_ms"] - foundry["median_ttft_ms"], 1),
        "gateway_tok_s_ratio": ratio(
            endpoint["median_decode_tok_s"], foundry["median_decode_tok_s"]
        ),
        "app_added_ttft_ms": round(app_path["median_ttft_ms"] - endpoint["median_ttft_ms"], 1),
        "app_tok_s_ratio": ratio(app_path["median_decode_tok_s"], endpoint["median_decode_tok_s"]),
        "paired": {
            "gateway": paired(runs["endpoint"], runs["foundry"]),
            "app": paired(runs["app"], runs["endpoint"]),
        },
        "targets": {
            "gateway_added_ttft_ms": "~1",
            "app_added_ttft_ms": "<= 15",
            "app_tok_s_ratio": ">= 0.97",
            "warm_start_s": "<= 10",
        },
    }


def markdown(result: dict[str, Any]) -> str:
    """The report's body: the figures a reader of the README looks for, with how they were taken."""
    paths = [
        ("Foundry Local's web service (behind the gateway)", result["foundry"]),
        ("the endpoint (the gateway)", result["endpoint"]),
        ("through the app (socket.io, as a browser)", result["app"]),
    ]
    speeds = table(
        ["", "median time to first token", "median decode speed"],
        [
            [name, f"{p['median_ttft_ms']} ms", f"{p['median_decode_tok_s']} tok/s"]
            for name, p in paths
        ],
    )
    paired = result["paired"]
    added = table(
        ["", "adds to the first token", "keeps of the decode speed"],
        [
            [layer, f"{paired[key]['added_ttft_ms']} ms", f"{paired[key]['tok_s_ratio']:.1%}"]
            for layer, key in (("the gateway", "gateway"), ("the app", "app"))
        ],
    )
    build = f"{result['bundled_model_build_s']} s" if result["bundled_model_build_s"] else "–"
    return f"""
Model `{result["model"]}`, temperature 0, {result["max_tokens"]} tokens, {result["prompts"]} prompts
× {result["rounds"]} rounds; the three paths take turns on each prompt, so load from other work
hits them alike.

{speeds}

What each layer adds, as the median over the same prompt and round measured back to back (robust
to outside load; a few samples per path stay noisy on a shared machine):

{added}

| Start-up | |
|---|---|
| warm start: from `chainlit run` to a chat that is ready | {result["warm_start_s"]} s |
| building the bundled model (`make model`, from its `{MANIFEST}`) | {build} |

Targets: {", ".join(f"{name} {goal}" for name, goal in result["targets"].items())}.
"""


def bundled_model_build_seconds() -> float | None:
    manifest = Settings.from_env().bundled_model_dir / MANIFEST
    return json.loads(manifest.read_text())["build_seconds"] if manifest.is_file() else None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    result = asyncio.run(main(parser.parse_args().rounds))
    result["bundled_model_build_s"] = bundled_model_build_seconds()
    out = Path(__file__).parent / "results" / "app.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    report = write_report(
        "app", "What the app and the endpoint add to Foundry Local", markdown(result)
    )
    print(f"written: {out}, {report}")
