"""Benchmark: the bundled model in the browser tab (/browser, WASM, int8) against the endpoint.

Starts `chainlit run app.py` (the page, and Foundry Local's endpoint in-process) and headless
Chromium (Debian's, with `--enable-unsafe-webgpu`: its only adapter is SwiftShader, a fallback,
so the page runs WASM as it would on a machine without a GPU). Measures, in the same run:
- loading: first visit (download) and second visit (Cache Storage), and the JavaScript the page
  ships (every .js/.mjs response, before gzip; the .wasm is counted apart);
- speed: greedy, 128 tokens, the same prompts in the tab and on the endpoint, taking turns;
- answers: fixed questions with checked facts, answered by the tab (int8) and the endpoint
  (int4), both greedy with the model's repetition penalty.
Writes bench/results/browser.json and, dated, docs/benchmarks/browser.md.

    .venv/bin/python -m bench.bench_browser [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
from openai import AsyncOpenAI
from playwright.async_api import Page, Request, async_playwright

from bench.report import table, write_report
from foundry_local_chat.config import DEFAULT_SYSTEM_PROMPT
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, is_loopback
from tests.support.processes import clean_env, free_port, start_chainlit

SPEED_PROMPTS = [
    "Write a short story about a robot learning to paint.",
    "Explain how a rainbow forms.",
    "Describe the water cycle.",
]
MAX_TOKENS = 128
ANSWER_TOKENS = 64
# Questions whose answer has one checkable fact (a pattern the answer must contain).
QUESTIONS = [
    ("What is the capital of France?", r"Paris"),
    ("What is the capital of Japan?", r"Tokyo"),
    ("What is the largest planet in the solar system?", r"Jupiter"),
    ("Who wrote Romeo and Juliet?", r"Shakespeare"),
    ("How many days are there in a week?", r"\b(7|seven)\b"),
    ("How many legs does a spider have?", r"\b(8|eight)\b"),
    ("What color is the sky on a clear day?", r"\bblue\b"),
    ("What gas do plants absorb from the air for photosynthesis?", r"carbon dioxide|CO2"),
    ("At what temperature in Celsius does water boil at sea level?", r"\b100\b"),
    ("What is the chemical symbol for gold?", r"\bAu\b"),
    ("What is the capital of Italy?", r"Rome"),
    ("What is the capital of Germany?", r"Berlin"),
    ("Which planet is known as the Red Planet?", r"Mars"),
    ("What is the freezing point of water in Celsius?", r"\b0\b|zero"),
    ("Who painted the Mona Lisa?", r"Leonardo|da Vinci"),
    ("What is the largest ocean on Earth?", r"Pacific"),
    ("How many continents are there?", r"\b(7|seven)\b"),
    ("What is the chemical formula of water?", r"H2O|H₂O"),
    ("What language is spoken in Brazil?", r"Portuguese"),
    ("How many hours are in a day?", r"\b(24|twenty-four)\b"),
]
TARGETS = {"decode_tok_s": 15.0, "first_token_ms": 1000.0, "js_kb": 300.0}


async def server_answer(
    client: AsyncOpenAI, model: str, prompt: str, tokens: int
) -> dict[str, Any]:
    """The server chat's request (system prompt first), greedy, streamed."""
    messages: list[Any] = [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}]
    messages.append({"role": "user", "content": prompt})
    started = time.perf_counter()
    first = last = 0.0
    chunks, text = 0, []
    stream = await client.chat.completions.create(
        model=model, messages=messages, max_tokens=tokens, temperature=0, stream=True
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
            chunks += 1
            text.append(chunk.choices[0].delta.content)
    decode = (chunks - 1) / (last - first) if chunks > 1 and last > first else 0.0
    return {
        "text": "".join(text),
        "first_token_ms": (first - started) * 1000,
        "decode_tok_s": decode,
        "tokens": chunks,
    }


async def tab_answer(page: Page, prompt: str, tokens: int) -> dict[str, Any]:
    await page.click("#new-chat")
    result = await page.evaluate(
        "([prompt, tokens]) => window.browserChat.ask(prompt, {maxTokens: tokens})",
        [prompt, tokens],
    )
    stats = result["stats"]
    return {
        "text": result["text"],
        "inside_onnxruntime": stats["runMs"] / stats["loopMs"],
        "first_token_ms": stats["firstTokenMs"],
        "decode_tok_s": stats["tokensPerSecond"],
        "tokens": stats["tokens"],
    }


async def open_page(page: Page, url: str) -> float:
    started = time.perf_counter()
    await page.goto(url, timeout=300_000)
    await page.wait_for_function(
        "['ready', 'failed', 'unavailable'].includes(document.body.dataset.state)", timeout=300_000
    )
    state = await page.evaluate("document.body.dataset.state")
    if state != "ready":
        raise RuntimeError(f"/browser is {state}: {await page.inner_text('main')}")
    return time.perf_counter() - started


async def shipped_sizes(urls: set[str]) -> dict[str, int]:
    """Each file's bytes before compression (the app gzips what it sends)."""
    async with httpx.AsyncClient(headers={"Accept-Encoding": "identity"}) as client:
        return {url: len((await client.get(url)).content) for url in sorted(urls)}


def median(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(run[key] for run in runs), 1)


async def main(rounds: int) -> dict[str, Any]:
    with TemporaryDirectory() as data_dir:
        endpoint_port, app_port = free_port(), free_port()
        env = clean_env({
            "FOUNDRY_ENDPOINT_URL": f"http://127.0.0.1:{endpoint_port}",
            "FOUNDRY_OFFLINE": "1", "APP_DATA_DIR": data_dir,
        })  # fmt: skip
        app = start_chainlit(env, app_port)
        try:
            client = AsyncOpenAI(
                base_url=f"http://127.0.0.1:{endpoint_port}/v1", api_key="bench", max_retries=0
            )
            [model] = [served.id async for served in client.models.list()]
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--enable-unsafe-webgpu"]
                )
                context = await browser.new_context(base_url=f"http://127.0.0.1:{app_port}")
                await context.route(lambda url: not is_loopback(url), lambda route: route.abort())
                page = await context.new_page()
                scripts: set[str] = set()

                def record(request: Request) -> None:  # the worker's requests too
                    if re.search(r"\.(m?js|wasm)$", request.url):
                        scripts.add(request.url)

                context.on("request", record)
                first_visit = await open_page(page, "/browser")
                context.remove_listener("request", record)
                sizes = await shipped_sizes(scripts)
                second_visit = await open_page(page, "/browser")
                backend = await page.evaluate("window.browserChat.backend")
                await tab_answer(page, "Hello", 8)  # warm-up, not counted
                await server_answer(client, model, "Hello", 8)
                speed: dict[str, list[dict[str, Any]]] = {"tab": [], "server": []}
                for _ in range(rounds):
                    for prompt in SPEED_PROMPTS:  # taking turns: outside load hits both alike
                        speed["tab"].append(await tab_answer(page, prompt, MAX_TOKENS))
                        speed["server"].append(
                            await server_answer(client, model, prompt, MAX_TOKENS)
                        )
                answers = []
                for question, fact in QUESTIONS:
                    tab = await tab_answer(page, question, ANSWER_TOKENS)
                    server = await server_answer(client, model, question, ANSWER_TOKENS)
                    answers.append({
                        "question": question,
                        "fact": fact,
                        "tab": tab["text"],
                        "server": server["text"],
                        "tab_right": bool(re.search(fact, tab["text"], re.I)),
                        "server_right": bool(re.search(fact, server["text"], re.I)),
                    })  # fmt: skip
                await browser.close()
        finally:
            app.stop()
    js = {url.rsplit("/", 1)[1]: size for url, size in sizes.items() if not url.endswith(".wasm")}
    wasm = {url.rsplit("/", 1)[1]: size for url, size in sizes.items() if url.endswith(".wasm")}
    tab_speed, server_speed = speed["tab"], speed["server"]
    return {
        "model": model,
        "backend": backend,
        "rounds": rounds,
        "max_tokens": MAX_TOKENS,
        "first_visit_s": round(first_visit, 2),
        "second_visit_s": round(second_visit, 2),
        "js_bytes": js,
        "js_kb": round(sum(js.values()) / 1000, 1),
        "wasm_bytes": wasm,
        "tab": {
            key: median(tab_speed, key) for key in ("first_token_ms", "decode_tok_s", "tokens")
        },
        "server": {
            key: median(server_speed, key) for key in ("first_token_ms", "decode_tok_s", "tokens")
        },
        "inside_onnxruntime_pct": round(
            100 * statistics.median(run["inside_onnxruntime"] for run in tab_speed), 1
        ),
        "decode_ratio": round(
            median(tab_speed, "decode_tok_s") / median(server_speed, "decode_tok_s"), 3
        ),
        "answers": answers,
        "tab_right": sum(a["tab_right"] for a in answers),
        "server_right": sum(a["server_right"] for a in answers),
        "same_answer": sum(a["tab"].strip() == a["server"].strip() for a in answers),
    }


def markdown(result: dict[str, Any]) -> str:
    tab, server = result["tab"], result["server"]
    rows = [("the tab (/browser, WASM, int8)", tab), ("the endpoint (Foundry Local, int4)", server)]
    speed = table(
        ["", "median first token", "median decode", "median tokens"],
        [
            [name, f"{run['first_token_ms']} ms", f"{run['decode_tok_s']} tok/s", run["tokens"]]
            for name, run in rows
        ],
    )
    shipped = table(
        ["file", "bytes"],
        [[name, size] for name, size in sorted(result["js_bytes"].items())]
        + [[f"{name} (not counted)", size] for name, size in sorted(result["wasm_bytes"].items())],
    )
    answers = table(
        ["question", "the tab (int8)", "the endpoint (int4)"],
        [
            [
                a["question"],
                ("✅ " if a["tab_right"] else "❌ ") + a["tab"].replace("\n", " ")[:120],
                ("✅ " if a["server_right"] else "❌ ") + a["server"].replace("\n", " ")[:120],
            ]
            for a in result["answers"]
        ],
    )
    backend = result["backend"]
    chose = f"**{backend['ep']}** ({backend['reason']}: {backend['adapter']})"
    asked = len(QUESTIONS)
    return f"""
Model `{result["model"]}`. The page chose {chose}.
Greedy with the model's repetition penalty, {result["max_tokens"]} tokens at most,
{len(SPEED_PROMPTS)} prompts × {result["rounds"]} rounds; the tab and the endpoint take turns on
each prompt. First token includes the prompt's tokenisation and prefill.

{speed}

The tab decodes at **{result["decode_ratio"]}×** the endpoint's speed;
{result["inside_onnxruntime_pct"]} % of the tab's answering time is spent inside onnxruntime-web's
`session.run` (the rest is the page's own loop: sampling, decoding, messages).

| Loading | |
|---|---|
| first visit (download from loopback, session start) | {result["first_visit_s"]} s |
| second visit (Cache Storage, session start) | {result["second_visit_s"]} s |
| JavaScript shipped, before gzip, without the .wasm | {result["js_kb"]} KB |

{shipped}

Answers to {len(QUESTIONS)} questions with one checked fact each, {ANSWER_TOKENS} tokens at most:
the tab **{result["tab_right"]}/{asked}**, the endpoint **{result["server_right"]}/{asked}**;
word-for-word the same answer: {result["same_answer"]}/{asked}.

{answers}

Targets: decode >= {TARGETS["decode_tok_s"]} tok/s, first token <= {TARGETS["first_token_ms"]} ms,
JavaScript <= {TARGETS["js_kb"]} KB, the tab's answers no worse than the endpoint's.
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    result = asyncio.run(main(parser.parse_args().rounds))
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "browser.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps({k: v for k, v in result.items() if k != "answers"}, indent=2))
    path = write_report("browser", "The bundled model in the browser tab", markdown(result))
    print(f"report: {path}")
