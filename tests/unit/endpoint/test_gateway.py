"""The gateway in front of a stand-in for Foundry Local's web service that has its measured quirks.

The stand-in lets a test decide exactly what "Foundry" sends and when, so each fix is shown
against the fault it fixes: duplicated headers, an error inside a 200 stream, a 2048-token
output reservation, a client that leaves mid-stream. e2e/test_openai_conformance.py checks the same
behaviour end to end against the real runtime.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import openai
import pytest
import pytest_asyncio
from aiohttp import web

from foundry_local_chat.config import Settings
from foundry_local_chat.endpoint.gateway import Gateway, GatewayConfig, Upstream
from foundry_local_chat.origins import Origin
from tests.support.endpoint_probes import MANAGEMENT_PROBES
from tests.support.processes import free_port
from tests.support.raw_http import raw_request

# Each test gets an event loop of its own, for the stand-in for Foundry and the test's client. The
# gateways here run loops in threads of this process; an object of another loop that the garbage
# collector finalizes in such a thread may act on its loop from the wrong thread (an unclosed
# AsyncOpenAI client schedules its own close there). Tests close their clients; this keeps the
# gateway tests apart from the session's loop as well.
pytestmark = pytest.mark.asyncio(loop_scope="function")

MODEL_ID = "smollm2-135m-instruct-generic-cpu:1"
ALIASES = {"smollm2-135m-instruct": MODEL_ID}
CHAT = {"model": MODEL_ID, "messages": [{"role": "user", "content": "Hi"}], "stream": True}
OPEN_WEBUI = Origin("http", "localhost", 3000)
BUDGET_ERROR = {
    "error": {
        "code": None, "param": None, "type": "invalid_request_error",
        "message": "search_options.cc:108 int fl::ValidateGeneratorRequestBudget(int64_t, int, "
        "int) request requires 8578 total tokens (6530 input + 2048 output), which exceeds the "
        "model's maximum context length of 8192 tokens",
    }
}  # fmt: skip


def chunk(content: str) -> bytes:
    payload = {"choices": [{"delta": {"content": content}, "finish_reason": None, "index": 0}]}
    return f"data: {json.dumps(payload)}\n\n".encode()


TIMEOUT = aiohttp.ClientTimeout(total=30)  # everything here takes milliseconds
Reply = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]


class FakeFoundry:
    """Answers /v1/chat/completions with `reply`; records each request body it received, and the
    method and raw path of every other request (which a management route would be)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.other_requests: list[str] = []
        self.reply: Reply = self.stream_of(chunk("Hello"), b"data: [DONE]\n\n")
        self.stream_closed_early = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> FakeFoundry:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_route("*", "/{path:.*}", self._other)
        # Like Foundry, it notices a client that went away (its handler is cancelled).
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def close(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _other(self, request: web.Request) -> web.StreamResponse:
        self.other_requests.append(f"{request.method} {request.raw_path}")
        return web.json_response({"object": "list", "data": [], "reached": request.raw_path})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        return await self.reply(request, body)

    @staticmethod
    async def open_stream(request: web.Request) -> web.StreamResponse:
        """A 200 event stream with Foundry's doubled headers."""
        response = web.StreamResponse()
        for name, value in [
            ("Content-Type", "text/event-stream"), ("Content-Type", "text/event-stream"),
            ("Cache-Control", "no-cache"), ("Cache-Control", "no-cache"),
        ]:  # fmt: skip
            response.headers.add(name, value)
        await response.prepare(request)
        return response

    def stream_of(self, *events: bytes) -> Reply:
        async def reply(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
            response = await self.open_stream(request)
            for event in events:
                await response.write(event)
            return response

        return reply


@pytest_asyncio.fixture(loop_scope="function")
async def foundry() -> AsyncIterator[FakeFoundry]:
    fake = await FakeFoundry().start()
    yield fake
    await fake.close()


GatewayFactory = Callable[..., str]


@pytest.fixture
def open_gateway(foundry: FakeFoundry) -> Iterator[GatewayFactory]:
    """Start a gateway in front of the fake (its own thread and loop); returns its /v1 URL."""
    gateways: list[Gateway] = []

    def open_(upstream: str | None = None, ready: bool = True, **config: Any) -> str:
        gateway = Gateway(GatewayConfig(host="127.0.0.1", port=0, **config))
        gateway.start()
        gateways.append(gateway)
        OPEN_GATEWAYS[f"http://127.0.0.1:{gateway.port}/v1"] = (gateway, foundry)
        if ready:
            gateway.route_to(Upstream(upstream or foundry.url, ALIASES))
        return f"http://127.0.0.1:{gateway.port}/v1"

    yield open_
    for gateway in gateways:
        gateway.close()
        OPEN_GATEWAYS.pop(f"http://127.0.0.1:{gateway.port}/v1", None)


def awaiting(coroutine: Any) -> list[str]:
    """The chain of awaits a coroutine is suspended in, outermost first."""
    lines = []
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "ag_frame", None)
        if frame is not None:
            code = frame.f_code
            lines.append(f"  {code.co_filename}:{frame.f_lineno} in {code.co_name}")
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "ag_await", None)
    return lines


# The gateways the running test opened (by URL), so a request that hangs can say where.
OPEN_GATEWAYS: dict[str, tuple[Gateway, FakeFoundry]] = {}


def requests_in_flight(gateway: Gateway, foundry: FakeFoundry) -> str:
    """Where a gateway's unfinished requests are stuck, for a test that timed out."""
    loop, thread = gateway._loop, gateway._thread

    async def stacks() -> list[str]:
        current = asyncio.current_task()
        return [
            "\n".join(awaiting(task.get_coro()))
            for task in asyncio.all_tasks()
            if task is not current and "_serve" not in repr(task.get_coro())
        ]

    assert loop is not None and thread is not None
    try:
        stuck = asyncio.run_coroutine_threadsafe(stacks(), loop).result(timeout=5)
    except Exception as error:  # the gateway's loop does not answer: show its thread instead
        frame = sys._current_frames().get(thread.ident or 0)
        where = "".join(traceback.format_stack(frame)) if frame else "no frame"
        return f"gateway loop not answering ({error!r}); its thread:\n{where}"
    if not stuck:
        return ""
    return (
        f"{len(stuck)} request(s) still in the gateway; Foundry stand-in got "
        f"{len(foundry.bodies)} request(s):\n" + "\n---\n".join(stuck)
    )


async def post(url: str, body: dict[str, Any], **headers: str) -> tuple[int, Any, list[str]]:
    """POST to /chat/completions: status, JSON body or event lines, and the Content-Type values.

    Should it hang, the failure says where the gateway's request is stuck."""
    request = asyncio.ensure_future(_post(url, body, **headers))
    done, _ = await asyncio.wait({request}, timeout=TIMEOUT.total)
    if not done:
        gateway, foundry = OPEN_GATEWAYS.get(url, (None, None))
        report = requests_in_flight(gateway, foundry) if gateway and foundry else "no gateway"
        stand_in = [  # the stand-in for Foundry runs on this loop
            "\n".join(awaiting(task.get_coro()))
            for task in asyncio.all_tasks()
            if "_handle_request" in repr(task.get_coro()) or "start" in repr(task.get_coro())
        ]
        report += "\nFoundry stand-in tasks:\n" + "\n---\n".join(stand_in)
        request.cancel()
        raise AssertionError(f"no answer in {TIMEOUT.total} s. {report}")
    return request.result()


async def _post(url: str, body: dict[str, Any], **headers: str) -> tuple[int, Any, list[str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/chat/completions", json=body, headers=headers) as response,
    ):
        content_types = response.headers.getall("Content-Type", [])
        if response.content_type == "text/event-stream":
            lines = [line.decode().strip() async for line in response.content]
            return response.status, [line for line in lines if line], content_types
        return response.status, await response.json(), content_types


async def test_requests_before_the_model_is_ready_get_a_503_saying_so(
    open_gateway: GatewayFactory,
) -> None:
    status, body, _ = await post(open_gateway(ready=False), CHAT)
    assert status == 503
    assert body["error"]["code"] == "model_not_ready"


async def test_an_alias_reaches_foundry_as_the_served_id(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    status, _, _ = await post(open_gateway(), {**CHAT, "model": "smollm2-135m-instruct"})
    assert status == 200
    assert [body["model"] for body in foundry.bodies] == [MODEL_ID]


async def test_stream_headers_arrive_once(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    _, _, direct = await post(f"{foundry.url}/v1", CHAT)
    assert direct == ["text/event-stream", "text/event-stream"]  # the fault being fixed

    status, lines, content_types = await post(open_gateway(), CHAT)
    assert status == 200
    assert content_types == ["text/event-stream"]
    assert lines == [chunk("Hello").decode().strip(), "data: [DONE]"]


async def test_an_error_as_the_first_stream_event_becomes_an_http_400(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    foundry.reply = foundry.stream_of(f"data: {json.dumps(BUDGET_ERROR)}\n\n".encode())
    url = open_gateway()
    status, body, content_types = await post(url, {**CHAT, "max_tokens": 2048})
    assert (status, content_types) == (400, ["application/json; charset=utf-8"])
    assert body["error"]["code"] == "context_length_exceeded"

    async with openai.AsyncOpenAI(base_url=url, api_key="any", max_retries=0) as client:
        with pytest.raises(openai.BadRequestError):  # not a bare APIError without a status
            await client.chat.completions.create(
                model=MODEL_ID, messages=CHAT["messages"], max_tokens=2048, stream=True
            )


async def test_keep_alive_comments_during_a_long_prefill_pass_through(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    foundry.reply = foundry.stream_of(b": keep-alive\n\n", chunk("Hi"), b"data: [DONE]\n\n")
    status, lines, _ = await post(open_gateway(), CHAT)
    assert status == 200
    assert lines == [": keep-alive", chunk("Hi").decode().strip(), "data: [DONE]"]


async def test_a_long_prompt_without_max_tokens_is_retried_with_the_room_left(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    answer = foundry.stream_of(chunk("Fits."), b"data: [DONE]\n\n")
    reject = foundry.stream_of(f"data: {json.dumps(BUDGET_ERROR)}\n\n".encode())

    async def reply(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        return await (answer if "max_completion_tokens" in body else reject)(request, body)

    foundry.reply = reply
    status, lines, _ = await post(open_gateway(), CHAT)
    assert status == 200 and lines[-1] == "data: [DONE]"
    assert [body.get("max_completion_tokens") for body in foundry.bodies] == [None, 8192 - 6530]


async def test_each_event_is_sent_on_before_the_next_one_exists(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    events = [chunk("one"), chunk("two"), chunk("three"), b"data: [DONE]\n\n"]
    seen_by_client = [asyncio.Event() for _ in events]

    async def reply(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        response = await foundry.open_stream(request)
        for event, seen in zip(events, seen_by_client, strict=True):
            await response.write(event)
            await seen.wait()  # a gateway that buffered would never deliver this event
        return response

    foundry.reply = reply
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{open_gateway()}/chat/completions", json=CHAT) as response,
    ):
        for event, seen in zip(events, seen_by_client, strict=True):
            line = await asyncio.wait_for(response.content.readline(), timeout=10)
            assert line + await response.content.readline() == event
            seen.set()


async def test_a_client_leaving_mid_stream_closes_the_request_to_foundry(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    async def endless(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        response = await foundry.open_stream(request)
        await response.write(chunk("one"))
        try:
            await asyncio.Event().wait()  # generating "forever", until the gateway hangs up
        except asyncio.CancelledError:
            foundry.stream_closed_early.set()
            raise
        return response

    foundry.reply = endless
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{open_gateway()}/chat/completions", json=CHAT)
        assert (await response.content.readline()).startswith(b"data:")
        response.close()  # the client goes away
    await asyncio.wait_for(foundry.stream_closed_early.wait(), timeout=10)


async def test_foundry_breaking_off_a_stream_is_said_in_the_stream(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    async def broken(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        response = await foundry.open_stream(request)
        await response.write(chunk("one"))
        assert request.transport is not None
        request.transport.abort()  # the connection drops mid-answer, no end of the body
        return response

    foundry.reply = broken
    client = openai.AsyncOpenAI(base_url=open_gateway(), api_key="any", max_retries=0)
    received = []
    try:
        stream = await client.chat.completions.create(**CHAT)
        with pytest.raises(openai.APIError, match="Foundry Local broke off the answer"):
            async for event in stream:
                received.append(event.choices[0].delta.content)
    finally:
        await client.close()
    assert received == ["one"]


async def test_with_a_key_only_requests_that_send_it_get_through(
    open_gateway: GatewayFactory,
) -> None:
    url = open_gateway(api_key="k1")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "k1"}):
        status, body, _ = await post(url, CHAT, **headers)
        assert status == 401, headers
        assert body["error"]["code"] == "invalid_api_key"
    status, _, _ = await post(url, CHAT, Authorization="Bearer k1")
    assert status == 200


async def test_without_a_key_any_key_or_none_is_accepted(open_gateway: GatewayFactory) -> None:
    url = open_gateway()
    assert (await post(url, CHAT))[0] == 200
    assert (await post(url, CHAT, Authorization="Bearer whatever"))[0] == 200


async def test_cors_lets_only_the_configured_browser_origins_in(
    open_gateway: GatewayFactory,
) -> None:
    url = open_gateway(api_key="k1", cors_origins=(OPEN_WEBUI,))
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
    async with aiohttp.ClientSession() as session:
        async with session.options(
            f"{url}/chat/completions", headers={"Origin": "http://localhost:3000", **preflight}
        ) as allowed:
            assert allowed.status == 204  # no key needed: browsers send none with a preflight
            assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
            assert allowed.headers["Access-Control-Allow-Headers"] == "authorization,content-type"
        async with session.options(
            f"{url}/chat/completions", headers={"Origin": "http://evil.example", **preflight}
        ) as refused:
            assert refused.status == 403
            assert "Access-Control-Allow-Origin" not in refused.headers
        async with session.post(
            f"{url}/chat/completions", json=CHAT,
            headers={"Origin": "http://localhost:3000", "Authorization": "Bearer k1"},
        ) as stream:  # fmt: skip
            assert stream.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
            await stream.read()


async def test_a_busy_port_fails_at_start(foundry: FakeFoundry) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        gateway = Gateway(GatewayConfig(host="127.0.0.1", port=taken.getsockname()[1]))
        with pytest.raises(OSError, match="address already in use"):
            gateway.start()


async def test_foundry_not_answering_is_a_502_in_openai_shape(open_gateway: GatewayFactory) -> None:
    status, body, _ = await post(open_gateway(upstream=f"http://127.0.0.1:{free_port()}"), CHAT)
    assert status == 502
    assert body["error"]["type"] == "server_error"
    assert "Foundry Local's web service did not answer" in body["error"]["message"]


async def test_paths_outside_the_api_get_an_openai_shaped_404(
    open_gateway: GatewayFactory,
) -> None:
    async with aiohttp.ClientSession() as session, session.get(
        open_gateway().removesuffix("/v1") + "/models/unload/x"
    ) as response:  # fmt: skip
        assert response.status == 404
        error = (await response.json())["error"]
    assert "GET /models/unload/x is not served here" in error["message"]
    assert error["type"] == "invalid_request_error"


# -- only the allow-listed routes, decided on the raw path ---------------------------------------


@pytest.mark.parametrize("target", MANAGEMENT_PROBES)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_management_routes_are_out_of_reach_in_any_encoding(
    open_gateway: GatewayFactory, foundry: FakeFoundry, method: str, target: str
) -> None:
    url = open_gateway()
    headers = {"Content-Type": "application/json"}
    reply = await raw_request(url, method, target, headers, json.dumps(CHAT).encode())
    assert reply.status in (400, 404, 405), reply
    assert set(reply.json()["error"]) == {"message", "type", "param", "code"}
    assert foundry.other_requests == []
    assert foundry.bodies == []


async def test_a_model_id_is_checked_and_quoted_before_it_goes_upstream(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    url = open_gateway()
    ok = await raw_request(url, "GET", "/v1/models/smollm2-135m-instruct")  # an alias
    assert ok.status == 200 and ok.json()["reached"] == f"/v1/models/{MODEL_ID}"
    encoded = await raw_request(url, "GET", "/v1/models/smollm2-135m-instruct-generic-cpu%3A1")
    assert encoded.status == 200 and encoded.json()["reached"] == f"/v1/models/{MODEL_ID}"
    for bad in ("a%20b", "%25", "-x", "x;y", "a" * 201, "%C3%A9"):
        refused = await raw_request(url, "GET", f"/v1/models/{bad}")
        assert refused.status == 400, bad
        assert refused.json()["error"]["param"] == "model"
    query = await raw_request(url, "GET", "/v1/models?x=/../../status")
    assert query.status == 200 and query.json()["reached"] == "/v1/models"  # a query is dropped
    assert foundry.other_requests == [f"GET /v1/models/{MODEL_ID}"] * 2 + ["GET /v1/models"]


async def test_a_wrong_method_on_a_served_route_is_a_405_naming_the_right_one(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    url = open_gateway()
    for method, target, allowed in [
        ("GET", "/v1/chat/completions", "POST"), ("DELETE", "/v1/models/x", "GET"),
        ("POST", "/v1/models", "GET"), ("HEAD", "/v1/models", "GET"), ("PUT", "/v1/models", "GET"),
    ]:  # fmt: skip
        reply = await raw_request(url, method, target, {"Content-Type": "application/json"})
        assert reply.status == 405, (method, target)
        assert reply.headers["allow"] == allowed
        if method != "HEAD":
            assert reply.json()["error"]["code"] == "method_not_allowed"
    assert foundry.other_requests == [] and foundry.bodies == []


async def test_routes_foundry_has_but_the_endpoint_does_not_serve_are_404(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    url = open_gateway()
    for method, target in [
        ("POST", "/v1/embeddings"), ("POST", "/v1/responses"), ("POST", "/v1/completions"),
        ("POST", "/v1/audio/transcriptions"), ("GET", "/v1/models/"), ("GET", "/v1/"),
    ]:  # fmt: skip
        reply = await raw_request(url, method, target, {"Content-Type": "application/json"})
        assert reply.status == 404, target
        assert reply.json()["error"]["code"] == "unknown_url"
    assert foundry.other_requests == []


# -- cross-site requests --------------------------------------------------------------------------


async def test_a_post_that_is_not_json_is_refused_before_foundry(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    url = open_gateway()
    body = json.dumps(CHAT).encode()  # JSON, but sent as a web page can without a preflight
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        reply = await raw_request(
            url, "POST", "/v1/chat/completions", {"Content-Type": content_type}, body
        )
        assert reply.status == 415, content_type
        assert reply.json()["error"]["code"] == "unsupported_media_type"
    missing = await raw_request(url, "POST", "/v1/chat/completions", {}, body)
    assert missing.status == 415
    assert foundry.bodies == []
    charset = {"Content-Type": "application/json; charset=utf-8"}
    assert (await raw_request(url, "POST", "/v1/chat/completions", charset, body)).status == 200


@pytest.mark.parametrize("cors_origins", [(), (OPEN_WEBUI,)])
async def test_a_request_from_a_foreign_origin_is_refused_not_just_hidden(
    open_gateway: GatewayFactory, foundry: FakeFoundry, cors_origins: tuple[Origin, ...]
) -> None:
    url = open_gateway(cors_origins=cors_origins)
    for origin in ("http://evil.example", "http://127.0.0.1:9999", "null"):
        status, body, _ = await post(url, CHAT, Origin=origin)
        assert status == 403, origin
        assert body["error"]["code"] == "cors_origin_not_allowed"
        listing = await raw_request(url, "GET", "/v1/models", {"Origin": origin})
        assert listing.status == 403
    assert foundry.bodies == [] and foundry.other_requests == []
    assert (await post(url, CHAT))[0] == 200  # no Origin: not a browser, unaffected
    if cors_origins:
        status, _, _ = await post(url, CHAT, Origin="http://localhost:3000")
        assert status == 200


async def test_a_cors_origin_is_the_same_however_the_setting_or_the_browser_spells_it(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    setting = {"ENDPOINT_CORS_ORIGINS": "HTTP://LocalHost:3000/, http://127.0.0.1:80"}
    url = open_gateway(cors_origins=Settings.from_env(setting).endpoint_cors_origins)
    for origin in ("http://localhost:3000", "http://LOCALHOST:3000", "http://127.0.0.1"):
        preflight = await raw_request(url, "OPTIONS", "/v1/chat/completions", {"Origin": origin})
        assert preflight.status == 204, origin
        assert preflight.headers["access-control-allow-origin"] == origin
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{url}/chat/completions", json=CHAT, headers={"Origin": origin}) as ok,
        ):
            assert ok.status == 200
            assert ok.headers["Access-Control-Allow-Origin"] == origin
            await ok.read()
    for origin in ("http://localhost:3001", "https://localhost:3000", "http://127.0.0.1:8080"):
        status, body, _ = await post(url, CHAT, Origin=origin)
        assert status == 403 and body["error"]["code"] == "cors_origin_not_allowed", origin
    assert len(foundry.bodies) == 3


# -- request bodies -------------------------------------------------------------------------------


def nested(depth: int) -> str:
    return '{"model": "m", "messages": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(
    ("change", "param", "problem"),
    [
        ({"max_tokens": "16"}, "max_tokens", "must be an integer, got string"),
        ({"max_tokens": True}, "max_tokens", "must be an integer, got boolean"),
        ({"max_tokens": 16.0}, "max_tokens", "must be an integer, got number"),
        ({"max_tokens": 0}, "max_tokens", "must be between 1 and"),
        ({"max_completion_tokens": -1}, "max_completion_tokens", "must be between 1 and"),
        ({"max_tokens": 2**31}, "max_tokens", "must be between 1 and"),
        ({"stream": "true"}, "stream", "must be a boolean, got string"),
        ({"stream": 1}, "stream", "must be a boolean, got integer"),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage",
         "must be a boolean"),
        ({"stream_options": {"other": True}}, "stream_options.other", "unknown parameter"),
        ({"n": 0}, "n", "must be between 1 and 128, got 0"),
        ({"n": False}, "n", "must be an integer, got boolean"),
        ({"temperature": 2.5}, "temperature", "must be between 0 and 2"),
        ({"temperature": "0.5"}, "temperature", "must be a number, got string"),
        ({"top_p": 1.5}, "top_p", "must be between 0 and 1"),
        ({"presence_penalty": -3}, "presence_penalty", "must be between -2 and 2"),
        ({"frequency_penalty": 2.1}, "frequency_penalty", "must be between -2 and 2"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
        ({"stop": [1]}, "stop[0]", "must be a string, got integer"),
        ({"stop": ""}, "stop", "must not be empty"),
        ({"top_logprobs": 21}, "top_logprobs", "must be between 0 and 20"),
        ({"seed": "1"}, "seed", "must be an integer"),
        ({"model": ""}, "model", "must not be empty"),
        ({"model": 7}, "model", "must be a string, got integer"),
        ({"model": None}, "model", "is required"),
        ({"messages": []}, "messages", "must not be empty"),
        ({"messages": "Hi"}, "messages", "must be an array, got string"),
        ({"messages": [{"role": "wizard", "content": "Hi"}]}, "messages[0].role",
         "must be one of system, user, assistant, tool, developer, got 'wizard'"),
        ({"messages": [{"content": "Hi"}]}, "messages[0].role", "is required"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "is required"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content",
         "must be a string or an array of text parts, got integer"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]},
         "messages[0].content[0].text", "must be a string, got null"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
         "messages[0].content[0].type", "the model reads text only"),
        ({"messages": [{"role": "user", "content": []}]}, "messages[0].content",
         "must not be empty"),
        ({"messages": ["Hi"]}, "messages[0]", "must be an object, got string"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id",
         "must be a string, got null"),
        ({"frobnicate": 1}, "frobnicate", "unrecognized request argument"),
        ({"messages": [{"role": "user", "content": "\ud800"}]}, "messages[0].content",
         "unpaired surrogate"),
    ],
)  # fmt: skip
async def test_malformed_requests_are_a_400_naming_the_parameter(
    open_gateway: GatewayFactory,
    foundry: FakeFoundry,
    change: dict[str, Any],
    param: str,
    problem: str,
) -> None:
    body = json.dumps({**CHAT, **change}).encode()  # json.dumps escapes a lone surrogate as \ud800
    reply = await raw_request(
        open_gateway(), "POST", "/v1/chat/completions", {"Content-Type": "application/json"}, body
    )
    assert reply.status == 400, reply
    error = reply.json()["error"]
    assert (error["param"], error["type"]) == (param, "invalid_request_error")
    assert error["message"].startswith(f"{param}: ") and problem in error["message"], error
    assert foundry.bodies == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (nested(100), "nests deeper than 32 levels"),
        (nested(100_000), "nests deeper than 32 levels"),  # past Python's recursion limit
        ('{"model": "m", "messages": NaN}', "not valid JSON"),
        ('{"model": "m", "messages": [', "not valid JSON"),
        ("[]", "must be a JSON object, got array"),
        ("", "not valid JSON"),
    ],
)
async def test_bodies_that_are_not_a_json_object_are_a_400(
    open_gateway: GatewayFactory, foundry: FakeFoundry, raw: str, message: str
) -> None:
    headers = {"Content-Type": "application/json"}
    reply = await raw_request(open_gateway(), "POST", "/v1/chat/completions", headers, raw.encode())
    assert reply.status == 400
    assert message in reply.json()["error"]["message"]
    assert foundry.bodies == []


async def test_bytes_that_are_not_utf8_are_a_400(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    body = b'{"model": "m", "messages": [{"role": "user", "content": "\xff\xfe"}]}'
    headers = {"Content-Type": "application/json"}
    reply = await raw_request(open_gateway(), "POST", "/v1/chat/completions", headers, body)
    assert reply.status == 400 and "not valid JSON" in reply.json()["error"]["message"]


async def test_what_clients_send_is_accepted_and_reaches_foundry_as_validated(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    open_webui_like = {
        **CHAT,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {}}]},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
            {"role": "tool", "content": "x", "tool_call_id": "1"},
            {"role": "developer", "content": ""},
        ],
        "stream_options": {"include_usage": True}, "max_tokens": None, "temperature": 0,
        "top_p": 1, "n": 1, "stop": ["\n\n"], "seed": 3, "user": "u", "metadata": {"k": "v"},
        "presence_penalty": 0.0, "logprobs": False,
    }  # fmt: skip
    status, _, _ = await post(open_gateway(), open_webui_like)
    assert status == 200
    assert foundry.bodies == [open_webui_like]


async def test_a_body_over_the_size_limit_is_a_413(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    url = open_gateway(max_body_bytes=4096)
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 5000}]}
    status, body, _ = await post(url, big)
    assert status == 413 and body["error"]["code"] == "request_too_large"
    async with aiohttp.ClientSession() as session:

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked encoding
            yield json.dumps(big).encode()

        async with session.post(
            f"{url}/chat/completions", data=chunks(), headers={"Content-Type": "application/json"}
        ) as chunked:
            assert chunked.status == 413
    assert foundry.bodies == []
    assert (await post(url, CHAT))[0] == 200


# -- the bounded queue ----------------------------------------------------------------------------


class HeldReplies:
    """A stand-in reply that waits until the test releases it; records the order of arrival."""

    def __init__(self, foundry: FakeFoundry) -> None:
        self.arrived: list[str] = []
        self.arrival = asyncio.Condition()
        self.release = asyncio.Event()
        self.cancelled: list[str] = []
        foundry.reply = self.reply

    async def reply(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        name = body["messages"][0]["content"]
        async with self.arrival:
            self.arrived.append(name)
            self.arrival.notify_all()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(name)
            raise
        return web.json_response({"answered": name})

    async def wait_for(self, count: int) -> None:
        async with self.arrival:
            await asyncio.wait_for(self.arrival.wait_for(lambda: len(self.arrived) >= count), 10)


def named(name: str) -> dict[str, Any]:
    return {"model": MODEL_ID, "messages": [{"role": "user", "content": name}]}


async def test_a_full_queue_answers_429_with_retry_after_and_serves_in_order(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    held = HeldReplies(foundry)
    url = open_gateway(concurrency=1, max_queue=3)
    gateway = OPEN_GATEWAYS[url][0]
    first = asyncio.ensure_future(post(url, named("first")))
    await held.wait_for(1)
    waiting = []
    for index in range(3):  # each is queued before the next is sent: the order is known
        waiting.append(asyncio.ensure_future(post(url, named(f"waiting-{index}"))))
        await asyncio.to_thread(gateway.wait_for_queue, 1, index + 1, 10)

    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/chat/completions", json=named("one too many")) as refused,
    ):
        assert refused.status == 429
        retry_after = int(refused.headers["Retry-After"])
        error = (await refused.json())["error"]
    assert retry_after >= 1
    assert error["code"] == "rate_limit_exceeded" and "ENDPOINT_MAX_QUEUE" in error["message"]

    held.release.set()
    answers = await asyncio.gather(first, *waiting)
    assert [body["answered"] for _, body, _ in answers] == [
        "first", "waiting-0", "waiting-1", "waiting-2",
    ]  # fmt: skip
    assert held.arrived == ["first", "waiting-0", "waiting-1", "waiting-2"]  # FIFO, one at a time
    await asyncio.to_thread(gateway.wait_for_queue, 0, 0, 10)

    async with openai.AsyncOpenAI(base_url=url, api_key="any", max_retries=0) as client:
        reply = await client.chat.completions.with_raw_response.create(**named("later"))
    assert reply.http_response.status_code == 200  # the queue is free again


async def test_a_waiting_client_that_leaves_frees_its_place_at_once(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    held = HeldReplies(foundry)
    url = open_gateway(concurrency=1, max_queue=1)
    gateway = OPEN_GATEWAYS[url][0]
    first = asyncio.ensure_future(post(url, named("first")))
    await held.wait_for(1)
    leaving = asyncio.ensure_future(_post(url, named("leaves")))  # cancelling it disconnects
    await asyncio.to_thread(gateway.wait_for_queue, 1, 1, 10)
    leaving.cancel()  # the client disconnects while it waits
    await asyncio.to_thread(gateway.wait_for_queue, 1, 0, 10)

    staying = asyncio.ensure_future(post(url, named("stays")))  # the freed place: no 429
    await asyncio.to_thread(gateway.wait_for_queue, 1, 1, 10)
    held.release.set()
    assert [(await first)[0], (await staying)[0]] == [200, 200]
    assert held.arrived == ["first", "stays"]  # the one that left never reached Foundry


async def test_two_places_let_two_completions_run_at_once(
    open_gateway: GatewayFactory, foundry: FakeFoundry
) -> None:
    held = HeldReplies(foundry)
    url = open_gateway(concurrency=2, max_queue=0)
    both = [asyncio.ensure_future(post(url, named(name))) for name in ("a", "b")]
    await held.wait_for(2)  # both reached Foundry while neither had finished
    status, body, _ = await post(url, named("c"))
    assert status == 429 and body["error"]["code"] == "rate_limit_exceeded"
    held.release.set()
    assert [(await request)[0] for request in both] == [200, 200]
