"""Operations, in-process (the fast tier): the gateway's /healthz, /readyz and /metrics in front
of a stand-in for Foundry Local that can "unload" its model, the request id through the
gateway, and the parts (cached readiness, the log format, the stream meter) on their own.
The chat app's side: unit/server/test_operations_chat.py. The same through the real runtime,
`chainlit run`, PostgreSQL and a Prometheus server: e2e/test_operations.py."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_local_chat import request_ids
from foundry_local_chat.chat.readiness import ChatReadiness
from foundry_local_chat.config import ConfigError, Settings
from foundry_local_chat.endpoint.gateway import Gateway, GatewayConfig, Upstream
from foundry_local_chat.endpoint.metrics import StreamMeter
from foundry_local_chat.log_format import JsonFormatter, LogFormat, configure
from foundry_local_chat.models.foundry_runtime import RunningEndpoint
from foundry_local_chat.origins import Origin
from foundry_local_chat.readiness import CachedReadiness, Component, Readiness
from tests.support.metrics_text import sample

MODEL_ID = "smollm2-135m-instruct-generic-cpu:1"
KEY = "ops-key"
OPEN_WEBUI = Origin("http", "localhost", 3000)
NOT_LOADED = f"Model not loaded: Model '{MODEL_ID}' must be loaded before inference"
EP = "foundry_local_chat_endpoint_"


@dataclass
class StandInFoundry:
    """Foundry Local's chat route, with a model that can be unloaded; records each request's
    headers and body. Runs in threads of its own (stdlib server), like Foundry in-process."""

    loaded: bool = True
    seen: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        foundry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                foundry.seen.append((dict(self.headers), body))
                if not foundry.loaded:
                    error = {"error": {"message": NOT_LOADED, "type": "invalid_request_error"}}
                    self._send(400, "application/json", json.dumps(error).encode())
                elif body.get("stream"):
                    self._send(200, "text/event-stream", stream_of("Hel", "lo", " there"))
                else:
                    answer = {"choices": [{"message": {"role": "assistant", "content": "Hi"}}],
                              "usage": {"completion_tokens": 1}}  # fmt: skip
                    self._send(200, "application/json", json.dumps(answer).encode())

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def probes(self) -> int:
        return sum(1 for _, body in self.seen if body.get("max_tokens") == 1)


def stream_of(*tokens: str) -> bytes:
    def event(payload: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(payload).encode() + b"\n\n"

    events = [event({"choices": [{"delta": {"content": t}, "index": 0}]}) for t in tokens]
    events.append(event({"choices": [], "usage": {"completion_tokens": len(tokens)}}))
    return b"".join(events) + b"data: [DONE]\n\n"


@pytest.fixture
def foundry() -> Iterator[StandInFoundry]:
    stand_in = StandInFoundry()
    server = ThreadingHTTPServer(("127.0.0.1", 0), stand_in.handler())
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    server.shutdown()
    server.server_close()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(port: int, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> Reply:  # fmt: skip
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def open_gateway(foundry: StandInFoundry, ready: bool = True, **config: Any) -> Gateway:
    gateway = Gateway(GatewayConfig(host="127.0.0.1", port=0, **config))
    gateway.start()
    if ready:
        gateway.route_to(Upstream(foundry.url, {"smollm2": MODEL_ID}, MODEL_ID), 0.75)
    return gateway


@pytest.fixture
def gateways() -> Iterator[list[Gateway]]:
    opened: list[Gateway] = []
    yield opened
    for gateway in opened:
        gateway.close()


def metrics_of(gateway: Gateway) -> str:
    assert gateway.port is not None
    reply = call(gateway.port, "GET", "/metrics", {"Authorization": f"Bearer {KEY}"})
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return reply.body.decode()


def chat(port: int, **headers: str) -> Reply:
    body = {"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "stream": True,
            "stream_options": {"include_usage": True}}  # fmt: skip
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json", **headers}
    return call(port, "POST", "/v1/chat/completions", headers, json.dumps(body).encode())


# ----- the endpoint (gateway) -----


def test_before_the_model_is_ready_it_is_alive_not_ready_and_says_why(
    foundry: StandInFoundry, gateways: list[Gateway]
) -> None:
    gateway = open_gateway(foundry, ready=False, api_key=KEY)
    gateways.append(gateway)
    assert gateway.port is not None
    assert call(gateway.port, "GET", "/healthz").json() == {"status": "ok"}
    readiness = call(gateway.port, "GET", "/readyz")
    assert readiness.status == 503
    model = readiness.json()["components"]["model"]
    assert model["ready"] is False and "still starting" in model["reason"]
    assert sample(metrics_of(gateway), EP + "requests_total", route="readyz", status="503") == 1
    assert foundry.seen == []


def test_readiness_follows_the_model_being_unloaded_and_loaded_again(
    foundry: StandInFoundry, gateways: list[Gateway]
) -> None:
    gateway = open_gateway(foundry, readiness_cache_seconds=0)
    gateways.append(gateway)
    assert gateway.port is not None
    assert call(gateway.port, "GET", "/readyz").json()["components"]["model"] == {"ready": True}
    foundry.loaded = False
    unready = call(gateway.port, "GET", "/readyz")
    assert unready.status == 503
    assert NOT_LOADED in unready.json()["components"]["model"]["reason"]
    assert sample(metrics_of(gateway), EP + "model_loaded", model=MODEL_ID) == 0
    foundry.loaded = True
    assert call(gateway.port, "GET", "/readyz").status == 200
    assert sample(metrics_of(gateway), EP + "model_loaded", model=MODEL_ID) == 1
    assert sample(metrics_of(gateway), EP + "model_load_seconds", model=MODEL_ID) == 0.75
    probe = foundry.seen[-1][1]
    assert probe["max_tokens"] == 1 and probe["model"] == MODEL_ID and not probe["stream"]


def test_probes_within_the_cache_time_cost_one_completion(
    foundry: StandInFoundry, gateways: list[Gateway]
) -> None:
    gateway = open_gateway(foundry, readiness_cache_seconds=3600)
    gateways.append(gateway)
    assert gateway.port is not None
    statuses = [call(gateway.port, "GET", "/readyz").status for _ in range(5)]
    assert statuses == [200] * 5
    assert foundry.probes() == 1


def test_metrics_want_the_key_and_probes_do_not(
    foundry: StandInFoundry, gateways: list[Gateway]
) -> None:
    gateway = open_gateway(foundry, api_key=KEY)
    gateways.append(gateway)
    assert gateway.port is not None
    refused = call(gateway.port, "GET", "/metrics", {"Authorization": "Bearer wrong"})
    assert refused.status == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert call(gateway.port, "GET", "/healthz").status == 200
    assert call(gateway.port, "GET", "/readyz").status == 200
    assert sample(metrics_of(gateway), EP + "errors_total", code="invalid_api_key") == 1


def test_a_foreign_web_page_is_refused_on_the_new_routes_too(
    foundry: StandInFoundry, gateways: list[Gateway]
) -> None:
    gateway = open_gateway(foundry, api_key=KEY, cors_origins=(OPEN_WEBUI,))
    gateways.append(gateway)
    assert gateway.port is not None
    for path in ("/healthz", "/readyz", "/metrics"):
        auth = {"Authorization": f"Bearer {KEY}"}
        foreign = call(gateway.port, "GET", path, {"Origin": "http://evil.test", **auth})
        assert foreign.status == 403, path
        assert call(gateway.port, "POST", path, auth).status == 405, path


def test_a_streamed_completion_is_counted_timed_and_its_tokens_added(
    foundry: StandInFoundry, gateways: list[Gateway]
) -> None:
    gateway = open_gateway(foundry, api_key=KEY)
    gateways.append(gateway)
    assert gateway.port is not None
    assert chat(gateway.port).status == 200
    exposition = metrics_of(gateway)
    assert sample(exposition, EP + "requests_total", route="chat_completions", status="200") == 1
    assert sample(exposition, EP + "time_to_first_token_seconds_count") == 1
    assert sample(exposition, EP + "completion_seconds_count") == 1
    assert sample(exposition, EP + "generated_tokens_total") == 3
    assert sample(exposition, EP + "decode_tokens_per_second_count") in (0, 1)  # 2 tokens' gap
    assert sample(exposition, EP + "queue_wait_seconds_count") == 1
    assert sample(exposition, EP + "completions_active") == 0
    assert sample(exposition, EP + "completions_queued") == 0
    assert sample(exposition, EP + "requests_in_flight") == 1  # this scrape


def test_refused_requests_are_counted_by_openai_error_code(
    foundry: StandInFoundry, gateways: list[Gateway]
) -> None:
    gateway = open_gateway(foundry, api_key=KEY)
    gateways.append(gateway)
    assert gateway.port is not None
    auth = {"Authorization": f"Bearer {KEY}"}
    assert call(gateway.port, "GET", "/v1/nothing", auth).status == 404
    assert call(gateway.port, "GET", "/%2e%2e/status", auth).status == 400
    exposition = metrics_of(gateway)
    assert sample(exposition, EP + "errors_total", code="unknown_url") == 1
    assert sample(exposition, EP + "errors_total", code="invalid_request_path") == 1
    assert sample(exposition, EP + "requests_total", route="unmatched", status="404") == 1


class AnsweredLines(logging.Handler):
    """Collects the gateway's "completion answered" records (written just after the stream's
    end reached the client, from the gateway's thread) and says when one came."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.came = threading.Event()
        self.addFilter(request_ids.RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("completion answered"):
            self.records.append(record)
            self.came.set()


def test_the_request_id_is_answered_passed_to_foundry_and_in_the_log(
    foundry: StandInFoundry, gateways: list[Gateway]
) -> None:
    lines = AnsweredLines()
    gateway_log = logging.getLogger("foundry_local_chat.endpoint.gateway")
    gateway_log.addHandler(lines)
    level = gateway_log.level
    gateway_log.setLevel(logging.INFO)
    try:
        gateway = open_gateway(foundry, api_key=KEY)
        gateways.append(gateway)
        assert gateway.port is not None
        reply = chat(gateway.port, **{"X-Request-Id": "turn-42"})
        assert lines.came.wait(10), "no log line for the completion"
    finally:
        gateway_log.removeHandler(lines)
        gateway_log.setLevel(level)
    assert reply.headers["X-Request-Id"] == "turn-42"
    assert foundry.seen[-1][0]["X-Request-Id"] == "turn-42"
    assert [r.request_id for r in lines.records] == ["turn-42"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("given_id", [None, "", "two words", "x" * 129, "line\\nbreak"])
def test_a_missing_or_malformed_request_id_is_replaced_by_a_new_one(
    foundry: StandInFoundry, gateways: list[Gateway], given_id: str | None
) -> None:
    gateway = open_gateway(foundry)
    gateways.append(gateway)
    assert gateway.port is not None
    headers = {} if given_id is None else {"X-Request-Id": given_id}
    reply = call(gateway.port, "GET", "/healthz", headers)
    answered = reply.headers["X-Request-Id"]
    assert answered != given_id and request_ids.well_formed(answered)


METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"]
PATH_PARTS = ["healthz", "readyz", "metrics", "v1", "models", "%2e%2e", "..", "%2F", "", "x",
              "healthz%00", "READYZ", "metrics;a", "~", "status"]  # fmt: skip
HEADER_VALUES = st.sampled_from(["", "Bearer " + KEY, "Bearer nope", "x" * 300, "ü", "a\tb"])


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(METHODS),
    parts=st.lists(st.sampled_from(PATH_PARTS), min_size=1, max_size=3),
    query=st.sampled_from(["", "?", "?a=1", "?%zz"]),
    authorization=HEADER_VALUES,
    origin=st.sampled_from([None, "http://localhost:3000", "http://evil.test", "null", ""]),
    request_id=st.sampled_from([None, "ok-1", "bad id", "é" * 3, "x" * 200]),
)
def test_the_new_routes_never_fail_whatever_is_sent(
    foundry: StandInFoundry, fuzzed_gateway: Gateway, method: str, parts: list[str],
    query: str, authorization: str, origin: str | None, request_id: str | None,
) -> None:  # fmt: skip
    headers = {"Authorization": authorization}
    if origin is not None:
        headers["Origin"] = origin
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    assert fuzzed_gateway.port is not None
    path = "/" + "/".join(parts) + query
    reply = call(fuzzed_gateway.port, method, path, headers)
    assert reply.status < 500, (method, path, headers, reply.body)
    if method != "HEAD" and reply.status != 204:
        assert reply.body, (method, path)
    assert request_ids.well_formed(reply.headers.get("X-Request-Id"))


@pytest.fixture
def fuzzed_gateway(foundry: StandInFoundry, gateways: list[Gateway]) -> Gateway:
    gateway = open_gateway(
        foundry, api_key=KEY, cors_origins=(OPEN_WEBUI,), readiness_cache_seconds=60
    )
    gateways.append(gateway)
    return gateway


# ----- the parts on their own -----


async def test_readiness_runs_one_check_for_probes_that_come_together() -> None:
    release = asyncio.Event()

    async def slow_check() -> tuple[Component, ...]:
        await release.wait()
        return (Component("model", True),)

    now = [0.0]
    cached = CachedReadiness(slow_check, cache_seconds=5, clock=lambda: now[0])
    probes = [asyncio.ensure_future(cached.get()) for _ in range(4)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*probes)
    assert {r.ready for r in results} == {True} and cached.runs == 1
    now[0] = 4.9
    await cached.get()
    assert cached.runs == 1
    now[0] = 5.0
    await cached.get()
    assert cached.runs == 2


def test_readiness_json_names_each_component_and_why() -> None:
    report = Readiness((Component("model", True), Component("history", False, "down")), 1.0)
    assert report.status == 503
    assert report.as_json() == {
        "status": "not ready",
        "components": {"model": {"ready": True}, "history": {"ready": False, "reason": "down"}},
        "checked_at": 1.0,
    }


def test_json_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "saw %s", ("it",), None)
    request_ids.RequestIdFilter().filter(record)
    assert json.loads(JsonFormatter().format(record))["request_id"] == request_ids.NONE
    with request_ids.bound("abc"):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "saw %s", ("it",), None)
        request_ids.RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc" and line["message"] == "saw it" and line["level"] == "INFO"


def test_configure_puts_the_format_and_the_filter_on_root_and_uvicorn_handlers() -> None:
    root, uvicorn = logging.getLogger(), logging.getLogger("uvicorn.error")
    handler, server_handler = logging.StreamHandler(), logging.StreamHandler()
    root.addHandler(handler)
    uvicorn.addHandler(server_handler)
    try:
        configure(LogFormat.JSON)
        configure(LogFormat.JSON)
        for each in (handler, server_handler):
            assert isinstance(each.formatter, JsonFormatter)
            assert sum(isinstance(f, request_ids.RequestIdFilter) for f in each.filters) == 1
    finally:
        root.removeHandler(handler)
        uvicorn.removeHandler(server_handler)


def test_log_format_is_a_setting_with_a_clear_error() -> None:
    assert Settings.from_env({"LOG_FORMAT": "JSON"}).log_format is LogFormat.JSON
    assert Settings.from_env({}).log_format is LogFormat.TEXT
    with pytest.raises(ConfigError, match="LOG_FORMAT='xml' is not a log format: use text or json"):
        Settings.from_env({"LOG_FORMAT": "xml"})


def test_a_stream_meter_reads_events_split_anywhere() -> None:
    stream = stream_of("a", "b", "c")
    meter = StreamMeter(arrived=0.0)
    for index, byte in enumerate(stream):
        meter.feed(bytes([byte]), now=float(index))
    assert meter.tokens == 3 and meter.content_chunks == 3
    assert meter.first_token_at is not None and meter.first_token_at > 0
    assert meter.tokens_per_second is not None and meter.tokens_per_second > 0


# ----- the chat app's view of its in-process endpoint -----


@dataclass
class StubLocalModels:
    """What ChatReadiness reads of LocalModels, for a Foundry Local that serves through a real
    gateway in front of the stand-in."""

    settings: Settings
    started: bool = True
    endpoint: RunningEndpoint | None = None
    error: str | None = None
    startup_progress: tuple[str, float | None] = ("load", None)


async def test_the_chat_app_reads_its_endpoints_readiness(
    foundry: StandInFoundry, gateways: list[Gateway]
) -> None:
    gateway = open_gateway(foundry, api_key=KEY, readiness_cache_seconds=0)
    gateways.append(gateway)
    url = f"http://127.0.0.1:{gateway.port}/v1"
    local = StubLocalModels(Settings.from_env({}), endpoint=RunningEndpoint(url, MODEL_ID, "s"))
    profiles: Any = None  # no BASE_URL: the remote part is not checked
    readiness = ChatReadiness(local, profiles, lambda: None, 5)  # type: ignore[arg-type]

    assert await readiness.check() == (Component("foundry_local", True),)
    foundry.loaded = False
    [unready] = await readiness.check()
    assert unready.name == "foundry_local" and not unready.ready and NOT_LOADED in unready.reason
    local.started, local.endpoint = False, None
    assert await readiness.check() == (Component("foundry_local", False, "starting: load"),)
    local.started, local.error = True, "The bundled model is not built yet"
    [failed] = await readiness.check()
    assert failed.reason == "The bundled model is not built yet"
