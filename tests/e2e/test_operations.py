"""Operations with the real parts: the `serve` endpoint with the bundled model, `chainlit run`
with history in a real PostgreSQL, and Debian's Prometheus server scraping both /metrics.

One set of processes for the module (started once, in this order of tests): a chat turn is seen
in Prometheus and its request id in both logs; readiness follows the model being unloaded and
loaded through Foundry Local's own API; and the history database being stopped and started.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from tests.support.chainlit_client import ChainlitApi, ChainlitSession
from tests.support.metrics_text import sample
from tests.support.postgres import PostgresServer
from tests.support.processes import (
    Endpoint,
    RunningProcess,
    add_user,
    clean_env,
    free_port,
    start,
    start_bundled_endpoint,
    start_chainlit,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

KEY = "ops-endpoint-key"
PASSWORD = "correct horse battery"
DEADLINE_S = 90  # a scrape every second; generous for 2 shared cores
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


@dataclass
class Stack:
    endpoint: Endpoint
    foundry_url: str  # Foundry Local's own web service behind the endpoint (its management API)
    app_url: str
    app: RunningProcess
    postgres: PostgresServer
    prometheus_url: str
    prometheus: RunningProcess

    @property
    def endpoint_base(self) -> str:
        return self.endpoint.url.removesuffix("/v1")


def prometheus_config(endpoint_port: int, app_port: int) -> str:
    return f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: endpoint
    authorization:
      credentials: {KEY}
    static_configs:
      - targets: ["127.0.0.1:{endpoint_port}"]
  - job_name: chat
    static_configs:
      - targets: ["127.0.0.1:{app_port}"]
"""


def start_prometheus(config: str, data_dir: Path) -> tuple[str, RunningProcess]:
    if not Path(PROMETHEUS).exists():
        pytest.fail("Prometheus is not installed: run `bash scripts/install-system-deps.sh`")
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "prometheus.yml").write_text(config)
    port = free_port()
    command = [
        PROMETHEUS, f"--config.file={data_dir / 'prometheus.yml'}",
        f"--storage.tsdb.path={data_dir / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
    ]  # fmt: skip
    process = start(command, clean_env({}), cwd=data_dir)
    process.wait_for_line(r"Server is ready to receive web requests", 60)
    return f"http://127.0.0.1:{port}", process


@pytest.fixture(scope="module")
async def stack(
    bundled_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    root = tmp_path_factory.mktemp("operations")
    # No warm conversations: Foundry refuses to unload a model that sessions hold ("cannot
    # unload model …: 3 session(s)"), and a test here unloads it.
    endpoint = start_bundled_endpoint(
        root / "endpoint", ENDPOINT_API_KEY=KEY, LOG_FORMAT="json", READINESS_CACHE_SECONDS="1",
        ENDPOINT_WARM_CONVERSATIONS="0",
    )  # fmt: skip
    postgres = PostgresServer.create().start()
    app: RunningProcess | None = None
    prometheus: RunningProcess | None = None
    try:
        behind = endpoint.process.find_line(r"behind the endpoint\): (http://[\d.:]+)/v1", 10)
        users = root / "users"
        add_user(users, "ops", PASSWORD)
        app_port = free_port()
        app = start_chainlit(
            clean_env({
                "FOUNDRY_LOCAL": "0", "BASE_URL": endpoint.url, "API_KEY": KEY,
                "MODEL": endpoint.model, "USERS_FILE": str(users),
                "DATABASE_URL": await postgres.create_database(), "APP_DATA_DIR": str(root / "app"),
                "LOG_FORMAT": "json", "READINESS_CACHE_SECONDS": "1", "LOOP_GUARD": "0",
                "MAX_TOKENS": "24", "TEMPERATURE": "0",
            }),
            app_port,
        )  # fmt: skip
        endpoint_port = int(endpoint.url.rsplit(":", 1)[1].split("/")[0])
        prometheus_url, prometheus = start_prometheus(
            prometheus_config(endpoint_port, app_port), root / "prometheus"
        )
        yield Stack(
            endpoint, behind[1], f"http://127.0.0.1:{app_port}", app, postgres,
            prometheus_url, prometheus,
        )  # fmt: skip
    finally:
        for process in (prometheus, app, endpoint.process):
            if process is not None:
                process.stop()
        postgres.remove()


async def get(url: str, **headers: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url, headers=headers) as r:
        return r.status, await r.text()


async def until(
    what: str, probe: Callable[[], Awaitable[Any]], deadline_s: float = DEADLINE_S
) -> Any:
    """Poll `probe` until it returns something true; fail with its last answer at the deadline."""
    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.25)  # a poll's pace, not a synchronisation: the deadline decides
    pytest.fail(f"{what}: not so after {deadline_s} s; last answer: {last!r}")


async def promql(stack: Stack, query: str) -> list[dict[str, Any]]:
    status, body = await get(f"{stack.prometheus_url}/api/v1/query?query={quote(query)}")
    assert status == 200, body
    result: list[dict[str, Any]] = json.loads(body)["data"]["result"]
    return result


def json_lines(process: RunningProcess) -> list[dict[str, Any]]:
    lines = []
    for line in process.lines:
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


async def readiness(url: str) -> tuple[int, dict[str, Any]]:
    status, body = await get(f"{url}/readyz")
    return status, json.loads(body)


# ----- the tests, in the order they run -----


async def test_a_chat_turn_is_counted_in_prometheus_and_one_request_id_is_in_both_logs(
    stack: Stack,
) -> None:
    async def both_up() -> bool:
        return len(await promql(stack, "up == 1")) == 2

    await until("Prometheus scrapes both targets", both_up)
    api = ChainlitApi(stack.app_url)
    token = await api.sign_in("ops", PASSWORD)
    async with ChainlitSession(stack.app_url, token) as chat:
        assert await chat.ready() is None
        reply = await chat.ask("What is the capital of France?")
    assert reply.answer()["output"]

    async def answer_counted() -> list[dict[str, Any]]:
        return await promql(stack, "foundry_local_chat_chat_answers_total >= 1")

    async def first_token_timed() -> list[dict[str, Any]]:
        query = "foundry_local_chat_endpoint_time_to_first_token_seconds_count >= 1"
        return await promql(stack, query)

    await until("the answer is counted in Prometheus", answer_counted)
    [ttft] = await until("the first-token histogram is filled", first_token_timed)
    assert ttft["metric"]["job"] == "endpoint"
    buckets = await promql(
        stack, 'foundry_local_chat_endpoint_time_to_first_token_seconds_bucket{le="+Inf"}'
    )
    assert float(buckets[0]["value"][1]) >= 1
    tokens = await promql(stack, "foundry_local_chat_endpoint_generated_tokens_total")
    assert float(tokens[0]["value"][1]) >= 1

    answered = [line for line in json_lines(stack.app) if line["message"].startswith("answered")]
    assert answered, stack.app.output
    turn_id = answered[-1]["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", turn_id)
    endpoint_lines = [line for line in json_lines(stack.endpoint.process)
                      if line["request_id"] == turn_id]  # fmt: skip
    assert any(line["message"].startswith("completion answered") for line in endpoint_lines)


async def test_readiness_follows_the_model_being_unloaded_and_loaded_through_foundry(
    stack: Stack,
) -> None:
    assert (await readiness(stack.endpoint_base))[0] == 200
    assert (await readiness(stack.app_url))[0] == 200
    alias = stack.endpoint.alias
    assert json.loads((await get(f"{stack.foundry_url}/models/unload/{alias}"))[1]) == {
        "status": "unloaded"
    }

    async def unready(url: str) -> dict[str, Any] | None:
        status, report = await readiness(url)
        return report if status == 503 else None

    endpoint_report = await until("the endpoint is unready", lambda: unready(stack.endpoint_base))
    assert "not loaded" in endpoint_report["components"]["model"]["reason"]
    app_report = await until("the chat app is unready", lambda: unready(stack.app_url))
    assert app_report["components"]["remote"]["ready"] is False
    assert app_report["components"]["history"] == {"ready": True}
    unloaded = await until(
        "Prometheus sees the model unloaded",
        lambda: promql(stack, "foundry_local_chat_endpoint_model_loaded == 0"),
    )
    assert unloaded[0]["metric"]["model"] == stack.endpoint.model

    assert json.loads((await get(f"{stack.foundry_url}/models/load/{alias}"))[1]) == {
        "status": "loaded"
    }

    async def ready(url: str) -> bool:
        return (await readiness(url))[0] == 200

    await until("the endpoint is ready again", lambda: ready(stack.endpoint_base))
    await until("the chat app is ready again", lambda: ready(stack.app_url))


async def test_readiness_follows_the_history_database_and_saves_wait_through_its_outage(
    stack: Stack,
) -> None:
    metrics_url = f"{stack.app_url}/metrics"

    async def saves_waiting() -> float | None:
        status, body = await get(metrics_url)
        assert status == 200, body
        return sample(body, "foundry_local_chat_chat_history_saves_waiting")

    api = ChainlitApi(stack.app_url)
    token = await api.sign_in("ops", PASSWORD)
    async with ChainlitSession(stack.app_url, token) as chat:
        await chat.ready()
        await chat.ask("Remember the word tangerine.")
        stack.postgres.stop()
        try:

            async def history_down() -> dict[str, Any] | None:
                status, report = await readiness(stack.app_url)
                return report if status == 503 else None

            report = await until("the chat app is unready", history_down)
            history = report["components"]["history"]
            assert history["ready"] is False and "unreachable" in history["reason"]
            assert report["components"]["remote"] == {"ready": True}
            assert (await readiness(stack.endpoint_base))[0] == 200  # it keeps no history

            await chat.ask("Which word was it?")
            waiting = await saves_waiting()
            assert waiting is not None and waiting > 0
        finally:
            stack.postgres.start()

        async def ready_again() -> bool:
            return (await readiness(stack.app_url))[0] == 200

        await until("the chat app is ready again", ready_again)
        await chat.ask("Thank you.")  # its saves write what waited first

        async def none_waiting() -> bool:
            return await saves_waiting() == 0

        # The answer's own save may still be on its way when the answer has ended.
        await until("the saves that waited are written", none_waiting)
