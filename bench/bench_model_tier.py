"""Benchmark: what a second model endpoint behind nginx gives 8 concurrent chats.

Starts two `serve` endpoints and nginx with deploy/nginx-model-tier.conf, then sends the same
8 concurrent chats (streamed, as the app sends them) through nginx in front of one endpoint and in
front of both, taking turns round by round. It measures the aggregate speed (all answers' tokens
divided by the wall time from the first request to the last token) and the median time to first
token (which includes the wait in an endpoint's queue).

On one machine the two endpoints share its cores, so the same run repeats both cases with every
endpoint pinned to a core of its own (`taskset`): one endpoint on one core against two endpoints
on one core each. That is what two one-core machines would give; with a machine per endpoint, each
keeps its single-stream speed, which is measured as well.

Prints the figures, writes them to bench/results/model_tier.json and, dated, to
docs/benchmarks/model_tier.md (committed; the README links to it).

    .venv/bin/python -m bench.bench_model_tier [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
from collections import Counter
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from openai import AsyncOpenAI

from bench.report import table, write_report
from foundry_local_chat.chat.turn import ChatOptions, ReplyStats, build_messages, stream_reply
from foundry_local_chat.config import DEFAULT_SYSTEM_PROMPT, GenerationDefaults
from tests.support.nginx import MODEL_TIER_SNIPPET, start_nginx, wait_for_requests
from tests.support.processes import Endpoint, RunningProcess, clean_env, free_port, start_endpoint

CHATS = 8
MAX_TOKENS = 96
KEY = "bench-key"
PROMPTS = [
    "Explain how a rainbow forms.",
    "Write a short story about a robot learning to paint.",
    "Give me five tips for learning a new language.",
    "Describe the water cycle.",
    "Why is the sky blue?",
    "Describe a busy market in the morning.",
    "How does a bicycle stay upright?",
    "Write a poem about the sea.",
]


def options(model: str) -> ChatOptions:
    defaults = ChatOptions.defaults(model, DEFAULT_SYSTEM_PROMPT, GenerationDefaults())
    return replace(defaults, max_tokens=MAX_TOKENS, temperature=0.0)


async def one_chat(client: AsyncOpenAI, model: str, prompt: str) -> ReplyStats:
    """One answer, asked as the app asks it (streamed, system prompt, sampling settings)."""
    messages = build_messages(DEFAULT_SYSTEM_PROMPT, [{"role": "user", "content": prompt}])
    stats = ReplyStats(model=model)
    async for _ in stream_reply(client, options(model), messages, stats):
        pass
    return stats


def cpu_seconds(pids: list[int]) -> float:
    """CPU time the processes (all their threads) have used so far, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def concurrent_chats(client: AsyncOpenAI, model: str, pids: list[int]) -> dict[str, float]:
    """CHATS chats at once; their aggregate speed, median first-token time, and the CPU the
    endpoints (`pids`) got meanwhile: on a machine shared with other work, that is the share
    of the cores they actually had."""
    cpu_before = cpu_seconds(pids)
    answers = await asyncio.gather(*(one_chat(client, model, p) for p in PROMPTS[:CHATS]))
    cpu = cpu_seconds(pids) - cpu_before
    started = min(stats.started for stats in answers)
    finished = max(stats.finished_at or stats.started for stats in answers)
    tokens = sum(stats.tokens for stats in answers)
    ttfts = [stats.ttft_seconds for stats in answers if stats.ttft_seconds is not None]
    return {
        "aggregate_tok_s": tokens / (finished - started),
        "median_ttft_ms": statistics.median(ttfts) * 1000,
        "tokens": tokens,
        "wall_s": finished - started,
        "cores_used": cpu / (finished - started),
        "tok_per_cpu_s": tokens / cpu if cpu else 0.0,
    }


async def single_stream(client: AsyncOpenAI, model: str) -> float:
    """One chat at a time: the median decode speed an endpoint gives one answer."""
    speeds = []
    for prompt in PROMPTS[:4]:
        stats = await one_chat(client, model, prompt)
        speeds.append(stats.tokens_per_second or 0.0)
    return statistics.median(speeds)


def endpoint_env(data_dir: Path) -> dict[str, str]:
    return clean_env({
        "FOUNDRY_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "FOUNDRY_OFFLINE": "1",
        "APP_DATA_DIR": str(data_dir), "ENDPOINT_API_KEY": KEY,
    })  # fmt: skip


def port_of(endpoint: Endpoint) -> int:
    return int(endpoint.url.removesuffix("/v1").rsplit(":", 1)[1])


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]}


async def measure(cores: list[int | None], rounds: int, data_dir: Path) -> dict[str, Any]:
    """Two endpoints (on these cores; None = not pinned), nginx in front of the first alone and
    in front of both; CHATS concurrent chats through each nginx, taking turns each round."""
    processes: list[RunningProcess] = []
    prefixes: list[Path] = []
    try:
        endpoints = []
        for number, core in enumerate(cores):
            env = endpoint_env(data_dir / f"endpoint-{number}-{core}")
            endpoints.append(start_endpoint(env, pinned_to=core))
            processes.append(endpoints[-1].process)
        model = endpoints[0].model
        urls, balancers = {}, {}
        for name, tier in (("one", endpoints[:1]), ("two", endpoints)):
            balancer, port, prefix = start_nginx([port_of(e) for e in tier], MODEL_TIER_SNIPPET)
            processes.append(balancer)
            prefixes.append(prefix)
            urls[name], balancers[name] = f"http://127.0.0.1:{port}/v1", balancer
        clients = {
            name: AsyncOpenAI(base_url=url, api_key=KEY, max_retries=0)
            for name, url in urls.items()
        }
        for endpoint in endpoints:  # warm-up, not counted
            direct = AsyncOpenAI(base_url=endpoint.url, api_key=KEY, max_retries=0)
            await one_chat(direct, model, "Hello")
        single = await single_stream(clients["one"], model)
        pids = {
            "one": [endpoints[0].process.process.pid],
            "two": [e.process.process.pid for e in endpoints],
        }
        runs: dict[str, list[dict[str, float]]] = {"one": [], "two": []}
        for _ in range(rounds):
            for name in ("one", "two"):
                runs[name].append(await concurrent_chats(clients[name], model, pids[name]))
        logged = wait_for_requests(
            balancers["two"],
            rounds * CHATS,
            timeout=60,
            request="POST /v1/chat/completions HTTP/1.1",
        )
        served = Counter(request.served_by for request in logged)
    finally:
        for process in reversed(processes):
            process.stop()
        for prefix in prefixes:
            shutil.rmtree(prefix, ignore_errors=True)
    one, two = median_of(runs["one"]), median_of(runs["two"])
    return {
        "cores": cores,
        "model": model,
        "single_stream_tok_s": round(single, 1),
        "one_endpoint": one,
        "two_endpoints": two,
        "aggregate_ratio": round(two["aggregate_tok_s"] / one["aggregate_tok_s"], 2),
        "ttft_ratio": round(two["median_ttft_ms"] / one["median_ttft_ms"], 2),
        "share_of_requests": sorted(served.values(), reverse=True),
    }


async def main(rounds: int) -> dict[str, Any]:
    with TemporaryDirectory() as data_dir:
        shared = await measure([None, None], rounds, Path(data_dir))
        pinned = await measure([0, 1], rounds, Path(data_dir))
    # A one-core machine of its own gives an endpoint a whole core: its speed is then what it
    # makes of one CPU-second each second. Two such machines, twice that.
    one_core = pinned["one_endpoint"]["tok_per_cpu_s"]
    return {
        "chats": CHATS,
        "max_tokens": MAX_TOKENS,
        "rounds": rounds,
        "cpu_count": os.cpu_count(),
        "shared_cores": shared,
        "one_core_each": pinned,
        "dedicated_core_estimate_tok_s": round(one_core, 1),
        "two_machines_estimate_tok_s": round(2 * one_core, 1),
    }


def splitting(case: dict[str, Any]) -> str:
    """What splitting the load over two endpoints does to the work each CPU-second gets done."""
    change = case["two_endpoints"]["tok_per_cpu_s"] / case["one_endpoint"]["tok_per_cpu_s"] - 1
    more_or_fewer = "more" if change > 0 else "fewer"
    said = f"two endpoints make {abs(change):.0%} {more_or_fewer} of them than one"
    if abs(change) < 0.1:
        return f"{said}, so splitting the load costs about nothing; the CPU they get is the limit."
    return f"{said}."


def markdown(result: dict[str, Any]) -> str:
    shared, pinned = result["shared_cores"], result["one_core_each"]

    def row(label: str, figures: dict[str, float]) -> list[str]:
        return [
            label,
            f"{figures['aggregate_tok_s']:.1f} tok/s",
            f"{figures['median_ttft_ms']:.0f} ms",
            f"{figures['wall_s']:.1f} s",
            f"{figures['cores_used']:.2f}",
            f"{figures['tok_per_cpu_s']:.1f}",
        ]

    speeds = table(
        ["", "aggregate speed", "median time to first token", f"{result['chats']} answers took",
         "cores the endpoints got", "tokens per CPU-second"],
        [
            row("one endpoint, all cores", shared["one_endpoint"]),
            row("two endpoints, sharing all cores", shared["two_endpoints"]),
            row("one endpoint, pinned to one core", pinned["one_endpoint"]),
            row("two endpoints, one core each", pinned["two_endpoints"]),
        ],
    )  # fmt: skip
    ratios = table(
        ["two endpoints ÷ one", "aggregate speed", "median time to first token",
         "requests each endpoint served"],
        [
            ["sharing the machine's cores", f"× {shared['aggregate_ratio']}",
             f"× {shared['ttft_ratio']}", " + ".join(map(str, shared["share_of_requests"]))],
            ["one core each (as two machines)", f"× {pinned['aggregate_ratio']}",
             f"× {pinned['ttft_ratio']}", " + ".join(map(str, pinned["share_of_requests"]))],
        ],
    )  # fmt: skip
    return f"""
Model `{shared["model"]}`, {result["chats"]} concurrent chats (streamed, temperature 0, at most
{result["max_tokens"]} tokens each) through nginx with `deploy/nginx-model-tier.conf`, in front of
one endpoint and in front of two; medians over {result["rounds"]} rounds, the two cases taking
turns. Aggregate speed = all answers' tokens ÷ the wall time from the first request to the last
token. An endpoint answers one request at a time and queues the rest, so the time to first token
is mostly the wait in that queue. "Cores the endpoints got" = their processes' CPU time ÷ that
wall time (from /proc): on a machine shared with other work it shows how much of the cores they
really had.

{speeds}

{ratios}

**Reading it.** On this machine ({result["cpu_count"]} cores, shared with other work, see the load
average above) two endpoints compete with each other and with everything else for the same cores,
so the two-endpoint ratios are bounded by the CPU they could get, not by the design. Pinned to one
core each (`taskset`), each endpoint stands for a machine of one core; where the other work also
runs on those cores, the "cores the endpoints got" column shows how far each was from having its
core to itself. The tokens per CPU-second show what the endpoints make of the CPU they get:
{splitting(pinned)}
An endpoint with a core to itself (a one-core machine) would give about as many tokens per second
as it makes per CPU-second on one core, {result["dedicated_core_estimate_tok_s"]} tok/s here, and
two such machines about twice that, {result["two_machines_estimate_tok_s"]} tok/s, since each
answers its own queue.
One endpoint's single-stream speed, measured alone before the concurrent runs, was
{shared["single_stream_tok_s"]} tok/s on all cores and {pinned["single_stream_tok_s"]} tok/s on
one core.
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    result = asyncio.run(main(parser.parse_args().rounds))
    out = Path(__file__).parent / "results" / "model_tier.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    report = write_report(
        "model_tier", "A second model endpoint behind nginx: 8 concurrent chats", markdown(result)
    )
    print(f"written: {report}, {out}")
