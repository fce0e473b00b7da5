"""Operations of the chat app, in-process (the fast tier): /healthz, /readyz and /metrics as an
ASGI layer behind the origin guard, who may read /metrics, the readiness of a real AppState, and
what real turns add to the metrics. Through `chainlit run` and a Prometheus server:
e2e/test_operations.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware

from foundry_local_chat import request_ids
from foundry_local_chat.answers.abandoned import cancel_unless_back
from foundry_local_chat.origins import OriginPolicy
from foundry_local_chat.readiness import CachedReadiness, Component
from foundry_local_chat.server.metrics import ChatMetrics
from foundry_local_chat.server.ops_routes import OpsRoutes, install_ops_routes
from foundry_local_chat.server.origin_guard import OriginGuard, install_origin_guard
from tests.support.fake_chat import ChatApp, FakeChat, chat_app
from tests.support.metrics_text import sample
from tests.support.scripted_model import ScriptedModel

CHAT = "foundry_local_chat_chat_"
TOKEN = "scrape-me"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def inner_app(scope: Any, receive: Any, send: Any) -> None:
    """Stands in for Chainlit: answers every request it gets with 299."""
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"chainlit"})


async def asgi_call(
    app: Any, method: str, path: str, headers: dict[str, str] | None = None,
    client: tuple[str, int] | None = ("127.0.0.1", 50000),
) -> Answer:  # fmt: skip
    scope = {
        "type": "http", "method": method, "path": path, "root_path": "", "scheme": "http",
        "query_string": b"", "client": client, "server": ("127.0.0.1", 8000),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in {"host": "127.0.0.1:8000", **(headers or {})}.items()],
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    head = {k.decode(): v.decode() for k, v in start["headers"]}
    return Answer(start["status"], head, body)


@dataclass
class StubState:
    metrics: ChatMetrics
    readiness: CachedReadiness


def stub_state(ready: bool = True) -> StubState:
    async def check() -> tuple[Component, ...]:
        return (Component("remote", ready, "" if ready else "down"),)

    return StubState(ChatMetrics(), CachedReadiness(check, 0))


def guarded(state: StubState | None, token: str = "") -> OriginGuard:
    """The layers as app.py installs them: the origin guard, then the routes, then Chainlit."""
    return OriginGuard(OpsRoutes(inner_app, lambda: state, token), OriginPolicy(frozenset()))


async def test_the_routes_answer_and_everything_else_goes_to_chainlit() -> None:
    app = guarded(stub_state(ready=False))
    assert (await asgi_call(app, "GET", "/healthz")).json() == {"status": "ok"}
    readiness = await asgi_call(app, "GET", "/readyz")
    assert readiness.status == 503
    assert readiness.json()["components"] == {"remote": {"ready": False, "reason": "down"}}
    for path in ("/", "/healthz/", "/project/settings", "/metricsx"):
        assert (await asgi_call(app, "GET", path)).status == 299, path
    post = await asgi_call(app, "POST", "/readyz")
    assert post.status == 405 and post.headers["allow"] == "GET"


async def test_before_the_startup_hook_it_is_alive_and_not_ready() -> None:
    app = guarded(None)
    assert (await asgi_call(app, "GET", "/healthz")).status == 200
    readiness = await asgi_call(app, "GET", "/readyz")
    assert readiness.status == 503
    assert "startup hook" in readiness.json()["components"]["app"]["reason"]


async def test_without_a_token_metrics_are_for_this_machine_and_no_proxy() -> None:
    state = stub_state()
    state.metrics.answered(0.2)
    app = guarded(state)
    local = await asgi_call(app, "GET", "/metrics")
    assert local.status == 200 and local.headers["content-type"].startswith("text/plain")
    assert sample(local.body.decode(), CHAT + "answers_total") == 1
    remote = await asgi_call(app, "GET", "/metrics", client=("203.0.113.9", 4000))
    assert remote.status == 403 and "METRICS_TOKEN" in remote.json()["detail"]
    proxied = await asgi_call(app, "GET", "/metrics", {"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status == 403


async def test_with_a_token_metrics_want_it_from_anywhere() -> None:
    app = guarded(stub_state(), token=TOKEN)
    remote = ("203.0.113.9", 4000)
    assert (await asgi_call(app, "GET", "/metrics", client=remote)).status == 401
    wrong = await asgi_call(app, "GET", "/metrics", {"Authorization": "Bearer nope"})
    assert wrong.status == 401 and wrong.headers["www-authenticate"] == "Bearer"
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert (await asgi_call(app, "GET", "/metrics", right, client=remote)).status == 200


async def test_the_origin_guard_stays_in_front_of_the_routes() -> None:
    app = guarded(stub_state())
    for path in ("/healthz", "/readyz", "/metrics"):
        foreign = await asgi_call(app, "GET", path, {"Origin": "http://evil.test"})
        assert foreign.status == 403, path


def test_app_py_installs_the_routes_inside_the_origin_guard() -> None:
    app = Starlette()
    app.add_middleware(CORSMiddleware, allow_origins=[])
    install_ops_routes(app, lambda: None, "")
    install_origin_guard(app, OriginPolicy(frozenset()))
    assert [m.cls for m in app.user_middleware][:2] == [OriginGuard, OpsRoutes]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
    path=st.sampled_from(["/healthz", "/readyz", "/metrics", "/metrics/", "/ready", "/"]),
    headers=st.dictionaries(
        st.sampled_from(["Authorization", "Origin", "X-Forwarded-For", "Forwarded", "Host"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=40),
        max_size=4,
    ),
    client=st.sampled_from([("127.0.0.1", 1), ("::1", 1), ("10.0.0.1", 1), None]),
    ready=st.booleans(),
    token=st.sampled_from(["", TOKEN]),
)
def test_the_routes_never_fail_whatever_is_sent(
    method: str, path: str, headers: dict[str, str], client: tuple[str, int] | None,
    ready: bool, token: str,
) -> None:  # fmt: skip
    app = guarded(stub_state(ready), token)
    answer = asyncio.run(asgi_call(app, method, path, headers, client))
    assert answer.status < 500 or (path == "/readyz" and answer.status == 503 and not ready)
    assert answer.status in {200, 299, 401, 403, 405, 503}


# ----- a real AppState and real turns -----


class HeaderRecordingModel(ScriptedModel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headers: list[dict[str, str]] = []

    async def _handle(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST":
            self.headers.append(dict(request.headers))
        return await super()._handle(request)


@pytest.fixture
def model() -> HeaderRecordingModel:
    return HeaderRecordingModel("tiny:1")


@pytest.fixture
async def app(model: ScriptedModel, tmp_path: Path) -> AsyncIterator[ChatApp]:
    async with chat_app(model, tmp_path, READINESS_CACHE_SECONDS="0") as running:
        yield running


async def test_a_turn_is_counted_and_its_request_id_sent_to_the_model_server(
    app: ChatApp, model: HeaderRecordingModel
) -> None:
    chat = FakeChat(app)
    await chat.start()
    metrics = app.state.metrics
    assert sample(metrics.exposition().decode(), CHAT + "active_chats") == 1
    model.enqueue("Paris", ".")
    await chat.say("Capital of France?")
    model.enqueue("Rome.")
    await chat.say("And of Italy?")
    exposition = metrics.exposition().decode()
    assert sample(exposition, CHAT + "answers_total") == 2
    assert sample(exposition, CHAT + "time_to_first_token_seconds_count") == 2
    ids = [headers.get("x-request-id") for headers in model.headers]
    assert len(ids) == 2 and len(set(ids)) == 2 and all(request_ids.well_formed(i) for i in ids)
    await app.module.stopped()  # Chainlit calls it after cancelling the answer (stop button)
    assert sample(metrics.exposition().decode(), CHAT + "stops_total") == 1
    await app.module.browser_left()
    assert sample(metrics.exposition().decode(), CHAT + "active_chats") == 0
    await chat.close()


async def test_a_refused_answer_is_not_counted(app: ChatApp, model: ScriptedModel) -> None:
    chat = FakeChat(app)
    await chat.start()
    model.fail(429, "busy", headers={"Retry-After": "3"})
    await chat.say("Hello?")
    assert sample(app.state.metrics.exposition().decode(), CHAT + "answers_total") == 0
    await chat.close()


async def test_the_app_is_ready_when_its_model_answers_one_token(
    app: ChatApp, model: ScriptedModel
) -> None:
    model.enqueue("Hi")
    ready = await app.state.readiness.get()
    assert ready.status == 200 and ready.component("remote") == Component("remote", True)
    assert model.requests[-1]["max_tokens"] == 1
    model.fail(500, "the model fell over")
    unready = await app.state.readiness.get()
    remote = unready.component("remote")
    assert unready.status == 503 and remote is not None and "the model fell over" in remote.reason
    assert unready.component("foundry_local") is None  # FOUNDRY_LOCAL=0: not checked
    assert unready.component("history") is None  # nobody signs in: no history


async def test_an_answer_cancelled_because_the_browser_left_is_counted() -> None:
    metrics = ChatMetrics()
    answering = asyncio.ensure_future(asyncio.Event().wait())

    @dataclass
    class LeftSession:
        id: str = "chat-1"
        socket_id: str = "socket-1"
        current_task: asyncio.Future[Any] = answering

    cancel_unless_back(LeftSession(), 0, metrics.abandoned.inc)  # type: ignore[arg-type]
    with pytest.raises(asyncio.CancelledError):
        await answering
    assert sample(metrics.exposition().decode(), CHAT + "answers_abandoned_total") == 1


async def test_saves_waiting_through_an_outage_are_read_at_each_scrape() -> None:
    metrics = ChatMetrics()
    waiting = [0]
    metrics.watch_saves(lambda: waiting[0])
    waiting[0] = 3
    assert sample(metrics.exposition().decode(), CHAT + "history_saves_waiting") == 3
