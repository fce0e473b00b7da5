"""The model tier scaled out: two `serve` endpoints behind nginx (deploy/nginx-model-tier.conf),
two `chainlit run` instances whose BASE_URL is that nginx, and PostgreSQL for their history.

Concurrent chats spread over both endpoints; an endpoint killed under load costs no chat more
than the answer it was streaming (kept, with an error line), its waiting requests move to the
survivor, and once restarted it serves again. nginx's access log says which endpoint answered
each request. All processes start once for the module; the tests run in order on them.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from foundry_local_chat.endpoint.gateway import Gateway, GatewayConfig
from foundry_local_chat.ui.texts import WORDS
from tests.support.apps import PASSWORD
from tests.support.chainlit_client import ChainlitApi, ChainlitSession, Reply, messages_of
from tests.support.nginx import (
    MODEL_TIER_SNIPPET,
    ProxiedRequest,
    start_nginx,
    wait_for_requests,
)
from tests.support.postgres import PostgresServer
from tests.support.processes import (
    Endpoint,
    RunningProcess,
    add_user,
    clean_env,
    free_port,
    start_chainlit,
    start_endpoint,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

KEY = "model-tier-key"
COMPLETIONS = "POST /v1/chat/completions HTTP/1.1"
SAID = WORDS["en"]
BROKEN_OFF = "\n\n" + SAID.answer_cut_short.format(error=SAID.failed_broken_off)
# Long enough that answers overlap in time, short enough to keep the module cheap.
PROMPT = "Tell me a story about a lighthouse keeper and a storm."


@dataclass
class ModelTier:
    endpoint_env: dict[str, dict[str, str]]  # name -> the env its `serve` runs with
    endpoints: dict[str, Endpoint]
    nginx: RunningProcess
    nginx_url: str
    apps: list[str]  # the chat instances' URLs
    token: str  # alice's session cookie, good on both instances (one auth secret)
    processes: list[RunningProcess] = field(default_factory=list)

    def port(self, name: str) -> int:
        return int(self.endpoint_env[name]["FOUNDRY_ENDPOINT_URL"].rsplit(":", 1)[1])

    def completions(self, at_least: int = 0) -> list[ProxiedRequest]:
        """The completions nginx has logged, once there are at least `at_least`."""
        return wait_for_requests(self.nginx, at_least, timeout=60, request=COMPLETIONS)

    def restart(self, name: str) -> None:
        """`serve` again, on the same port with the same data dir, once it says it is ready."""
        self.endpoints[name] = start_endpoint(self.endpoint_env[name])
        self.processes.append(self.endpoints[name].process)

    @asynccontextmanager
    async def chats(self, count: int) -> AsyncIterator[list[ChainlitSession]]:
        """`count` signed-in chats, ready to answer, spread over the chat instances."""
        async with AsyncExitStack() as stack:
            chats = [
                await stack.enter_async_context(
                    ChainlitSession(self.apps[number % len(self.apps)], self.token)
                )
                for number in range(count)
            ]
            failures = await asyncio.gather(*(chat.ready() for chat in chats))
            assert failures == [None] * count
            yield chats


def endpoint_env(data_dir: Path) -> dict[str, str]:
    return clean_env({
        "FOUNDRY_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "FOUNDRY_OFFLINE": "1",
        "APP_DATA_DIR": str(data_dir), "ENDPOINT_API_KEY": KEY,
    })  # fmt: skip


@pytest.fixture(scope="module")
async def tier(
    postgres: PostgresServer, bundled_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ModelTier]:
    root = tmp_path_factory.mktemp("model-tier")
    envs = {name: endpoint_env(root / f"endpoint-{name}") for name in ("a", "b")}
    processes: list[RunningProcess] = []
    prefix: Path | None = None
    try:
        with ThreadPoolExecutor(2) as pool:  # the endpoints start side by side
            endpoints = dict(zip(envs, pool.map(start_endpoint, envs.values()), strict=True))
        processes += [endpoint.process for endpoint in endpoints.values()]
        ports = [int(env["FOUNDRY_ENDPOINT_URL"].rsplit(":", 1)[1]) for env in envs.values()]
        balancer, nginx_port, prefix = start_nginx(ports, MODEL_TIER_SNIPPET)
        processes.append(balancer)
        nginx_url = f"http://127.0.0.1:{nginx_port}"

        users = root / "users"
        add_user(users, "alice", PASSWORD)
        shared = {
            "FOUNDRY_LOCAL": "0", "BASE_URL": f"{nginx_url}/v1", "API_KEY": KEY,
            "SYSTEM_PROMPT": "Be brief.", "MAX_TOKENS": "48",
            "DATABASE_URL": await postgres.create_database(), "USERS_FILE": str(users),
            "CHAINLIT_AUTH_SECRET": secrets.token_urlsafe(48), "LOOP_GUARD": "0",
        }  # fmt: skip
        app_ports = [free_port(), free_port()]
        app_envs = [
            clean_env({**shared, "APP_DATA_DIR": str(root / f"app-{port}")}) for port in app_ports
        ]
        with ThreadPoolExecutor(2) as pool:
            processes += list(pool.map(start_chainlit, app_envs, app_ports))
        apps = [f"http://127.0.0.1:{port}" for port in app_ports]
        token = await ChainlitApi(apps[0]).sign_in("alice", PASSWORD)
        tier = ModelTier(envs, endpoints, balancer, nginx_url, apps, token, processes)
        yield tier
    finally:
        for process in reversed(processes):
            process.stop()
        if prefix is not None:
            shutil.rmtree(prefix, ignore_errors=True)


def answer_of(reply: Reply) -> str:
    return str(reply.answer()["output"])


async def test_the_endpoint_key_is_checked_end_to_end(tier: ModelTier) -> None:
    body = {"model": tier.endpoints["a"].model, "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 1}  # fmt: skip
    url = f"{tier.nginx_url}/v1/chat/completions"
    before = len(tier.completions())
    async with aiohttp.ClientSession() as http:
        for key in ("", "wrong-key"):
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            async with http.post(url, json=body, headers=headers) as response:
                assert response.status == 401
                assert (await response.json())["error"]["code"] == "invalid_api_key"
        headers = {"Authorization": f"Bearer {KEY}"}
        async with http.post(url, json=body, headers=headers) as response:
            assert response.status == 200, await response.text()
    refused, _, answered = tier.completions(before + 3)[before:]
    # The endpoint's own 401, not retried on the other one (it would refuse as well).
    assert len(refused.upstreams) == 1 and refused.upstream_statuses == ("401",)
    assert answered.upstream_statuses == ("200",)


async def test_eight_concurrent_chats_are_all_answered_by_both_endpoints(tier: ModelTier) -> None:
    before = len(tier.completions())
    async with tier.chats(8) as chats:
        replies = await asyncio.gather(*(chat.ask(PROMPT, timeout=180) for chat in chats))
    for reply in replies:
        assert answer_of(reply).strip() and "⚠️" not in answer_of(reply)
    served = tier.completions(before + 8)[before:]
    assert len(served) == 8
    assert all(request.status == 200 for request in served)
    assert {request.served_by for request in served} == {tier.port("a"), tier.port("b")}


async def until_two_answers_stream(chats: list[ChainlitSession]) -> list[asyncio.Task[Reply]]:
    """Collect each chat's reply in a task, returning once two answers are streaming at the
    same time: an endpoint answers one request at a time, so both endpoints are mid-answer."""
    streaming: set[int] = set()
    changed = asyncio.Event()

    async def collect(number: int, chat: ChainlitSession) -> Reply:
        reply = Reply()
        await chat.wait_for("task_start", timeout=60)
        while (event := await chat.next_event(timeout=180))[0] != "task_end":
            reply.events.append(event)
            if event[0] in {"stream_start", "stream_token"}:
                streaming.add(number)
                changed.set()
        streaming.discard(number)
        changed.set()
        return reply

    tasks = [asyncio.create_task(collect(n, chat)) for n, chat in enumerate(chats)]
    async with asyncio.timeout(120):
        while len(streaming) < 2:
            assert not any(task.done() and task.exception() for task in tasks)
            changed.clear()
            await changed.wait()
    return tasks


async def test_an_endpoint_killed_under_load_costs_only_the_answer_it_was_streaming(
    tier: ModelTier,
) -> None:
    before = len(tier.completions())
    async with tier.chats(8) as chats:
        for chat in chats:
            await chat.send(PROMPT)
        collecting = await until_two_answers_stream(chats)
        tier.endpoints["b"].process.kill()
        replies = await asyncio.gather(*collecting)

        answers = [answer_of(reply) for reply in replies]
        cut = [answer for answer in answers if answer.endswith(BROKEN_OFF)]
        assert cut, f"no answer was cut short by the kill: {answers}"
        for answer in answers:  # an answer, or a partial one with the error line: nothing else
            assert answer.strip() and "⚠️" not in answer.removesuffix(BROKEN_OFF)
        for reply in replies:  # what streamed is what stays in the chat
            assert answer_of(reply) == reply.streamed_text
        during = tier.completions(before + 8)[before:]
        assert len(during) == 8
        # Requests waiting at the dead endpoint moved to the survivor before their first token.
        moved = [r for r in during if r.upstreams == (tier.port("b"), tier.port("a"))]
        assert moved and all(r.status == 200 for r in moved)

        # Every chat goes on, the ones cut short included, answered by the survivor.
        after_kill = before + len(during)
        follow_ups = await asyncio.gather(*(chat.ask("Thanks!", timeout=180) for chat in chats))
    for reply in follow_ups:
        assert answer_of(reply).strip() and "⚠️" not in answer_of(reply)
    later = tier.completions(after_kill + 8)[after_kill:]
    assert len(later) == 8 and {r.served_by for r in later} == {tier.port("a")}

    # The cut answer is saved as it was shown, the follow-up after it.
    thread_id = next(r.answer()["threadId"] for r in replies if answer_of(r).endswith(BROKEN_OFF))
    saved = messages_of(await ChainlitApi(tier.apps[0], tier.token).thread(thread_id))
    assert saved[1][0] == "assistant_message" and saved[1][1].endswith(BROKEN_OFF)
    assert [kind for kind, _ in saved] == ["user_message", "assistant_message"] * 2


async def test_a_restarted_endpoint_serves_again(tier: ModelTier) -> None:
    tier.restart("b")
    async with tier.chats(1) as [chat]:
        # nginx tries an endpoint it took out again once its fail_timeout (10 s) has passed;
        # until then the survivor answers. Each try is a real chat turn.
        async with asyncio.timeout(90):
            while True:
                before = len(tier.completions())
                reply = await chat.ask("Hello again.", timeout=60)
                assert answer_of(reply).strip() and "⚠️" not in answer_of(reply)
                [served] = tier.completions(before + 1)[before:]
                if served.served_by == tier.port("b"):
                    break
    assert served.upstream_statuses[-1] == "200"


@pytest.fixture
def not_ready_endpoint() -> Iterator[int]:
    """The endpoint's gateway as `serve` runs it before its model is ready: it answers 503."""
    gateway = Gateway(GatewayConfig(host="127.0.0.1", port=0, api_key=KEY))
    gateway.start()
    assert gateway.port is not None
    yield gateway.port
    gateway.close()


async def test_an_endpoint_that_is_not_ready_is_passed_over(
    tier: ModelTier, not_ready_endpoint: int
) -> None:
    balancer, port, prefix = start_nginx([not_ready_endpoint, tier.port("a")], MODEL_TIER_SNIPPET)
    body = {"model": tier.endpoints["a"].model, "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 1}  # fmt: skip
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as http:
            for _ in range(3):
                url = f"http://127.0.0.1:{port}/v1/chat/completions"
                async with http.post(url, json=body) as response:
                    assert response.status == 200, await response.text()
        served = wait_for_requests(balancer, 3, timeout=60)
        assert {r.served_by for r in served} == {tier.port("a")}
        assert (not_ready_endpoint, tier.port("a")) in {r.upstreams for r in served}
        assert ("503", "200") in {r.upstream_statuses for r in served}
    finally:
        balancer.stop()
        shutil.rmtree(prefix, ignore_errors=True)
