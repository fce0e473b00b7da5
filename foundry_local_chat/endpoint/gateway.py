"""The public OpenAI-compatible endpoint: a thin gateway in front of Foundry Local's web service.

Foundry Local listens on a private loopback address; the gateway listens on FOUNDRY_ENDPOINT_URL
and serves only the routes endpoint_routes allows (decided on the raw path: Foundry's management
routes stay out of reach). It adds what Open WebUI and the openai SDK need (README, "The
endpoint"): an optional API key, model aliases, chat requests checked against OpenAI's schema
(request_schema), errors with the right HTTP status (also when Foundry sends one inside a 200
stream), one copy of each header, and optional CORS; a browser request from an origin that is
not allowed is refused, as is a POST that is not JSON. Completions pass a bounded FIFO queue
(admission_queue): Foundry answers one at a time, and who cannot wait gets a 429 at once.
Streams pass through chunk by chunk; when a client goes away the request to Foundry is closed,
which stops its generation, and a stream Foundry breaks off ends with an error event.

The gateway runs its own event loop in a daemon thread, so it never competes with Chainlit's
loop. It listens before the model is ready (a busy port fails at once); until `route_to()` it
answers 503 with the reason.

For operators: /healthz (the gateway answers), /readyz (Foundry Local answers a 1-token
completion within READINESS_TIMEOUT_SECONDS; cached), /metrics (endpoint_metrics; wants the key
when one is set). Each request has an id (a well-formed `X-Request-Id` from the client, else a
new one): it is in every log line of the request, in the answer's headers, and in the request
to Foundry Local.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from foundry_local_chat import request_ids
from foundry_local_chat.config import (
    ENDPOINT_CONCURRENCY,
    ENDPOINT_MAX_BODY_BYTES,
    ENDPOINT_MAX_QUEUE,
    READINESS_CACHE_SECONDS,
    READINESS_TIMEOUT_SECONDS,
)
from foundry_local_chat.endpoint import routes as endpoint_routes
from foundry_local_chat.endpoint.admission_queue import AdmissionQueue, QueueFull
from foundry_local_chat.endpoint.completion_chunks import DONE, Completion, usage
from foundry_local_chat.endpoint.conversation_pool import scope_key
from foundry_local_chat.endpoint.metrics import UNMATCHED_ROUTE, EndpointMetrics, StreamMeter
from foundry_local_chat.endpoint.openai_errors import (
    SERVER_ERROR,
    ApiError,
    context_budget,
    from_foundry,
)
from foundry_local_chat.endpoint.request_rules import (
    resolve_model,
    unsupported,
    with_room_for_output,
)
from foundry_local_chat.endpoint.request_schema import check_chat_request, parse_body
from foundry_local_chat.endpoint.session_engine import Answer, SessionEngine, messages_of
from foundry_local_chat.errors import one_line
from foundry_local_chat.origins import CorsOrigins, cors_allowed
from foundry_local_chat.readiness import HEALTHY, CachedReadiness, Component

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # reverse proxies (nginx) must not buffer the stream either
}
CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type"
ARRIVED = web.RequestKey("arrived", float)  # time.perf_counter() when the request came
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text format
READINESS_PROMPT = [{"role": "user", "content": "Hi"}]
CLIENT_LEFT = 499  # the status label of a request whose client went away (as nginx logs it)
# Sent with a streamed answer from a warm session, before the engine reads the prompt: a client
# can say "reading 4,850 tokens…" instead of waiting in silence (the chat does).
PROMPT_TOKENS_HEADER = "X-Prompt-Tokens"
REUSED_TOKENS_HEADER = "X-Prompt-Tokens-Reused"
READ_ESTIMATE_HEADER = "X-Prompt-Read-Seconds"


@dataclass(frozen=True)
class Upstream:
    """Foundry Local's own web service and the aliases of the model it serves."""

    url: str  # http://127.0.0.1:PORT, without /v1
    aliases: Mapping[str, str] = field(default_factory=dict)  # alias -> served variant id
    model: str = ""  # the served variant id; empty: the first alias's

    @property
    def served_model(self) -> str:
        return self.model or next(iter(self.aliases.values()), "")


@dataclass(frozen=True)
class GatewayConfig:
    host: str
    port: int  # 0 picks a free port
    api_key: str = ""  # empty: any key (or none) is accepted
    cors_origins: CorsOrigins = ()  # browser origins allowed to call the endpoint; "*" for any
    # The defaults are the settings' (config.py declares each once).
    concurrency: int = ENDPOINT_CONCURRENCY.default  # completions Foundry works on at once
    max_queue: int = ENDPOINT_MAX_QUEUE.default  # that may wait for a place; more get 429
    max_body_bytes: int = ENDPOINT_MAX_BODY_BYTES.default  # a larger body gets a 413
    readiness_timeout_seconds: float = READINESS_TIMEOUT_SECONDS.default
    readiness_cache_seconds: float = READINESS_CACHE_SECONDS.default


def error_response(error: ApiError, headers: Mapping[str, str] | None = None) -> web.Response:
    extra = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
    extra.update(headers or {})
    return web.json_response(error.body(), status=error.status, headers=extra)


class _Service:
    """The HTTP handlers; `upstream` stays None until Foundry Local serves the model."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.upstream: Upstream | None = None
        self.sessions: SessionEngine | None = None  # warm conversations of the served model
        self.session: aiohttp.ClientSession | None = None
        self.queue = AdmissionQueue(config.concurrency, config.max_queue)
        self.metrics = EndpointMetrics()
        self.metrics.watch_queue(lambda: self.queue.active, lambda: self.queue.waiting)
        self.metrics.watch_conversations(
            lambda: self.sessions.snapshot() if self.sessions is not None else None
        )
        self.readiness = CachedReadiness(self._check_model, config.readiness_cache_seconds)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.cleanup_ctx.append(self._client_session)
        app.on_response_prepare.append(self._add_cors_headers)
        app.on_response_prepare.append(_echo_request_id)
        # One handler for every path: endpoint_routes decides on the raw path what is served.
        app.router.add_route("*", "/{path:.*}", self._handle)
        return app

    async def _client_session(self, _: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)  # generation may take minutes
        # A fresh loopback connection per request (a handshake costs microseconds): a stream the
        # gateway abandons (a client that left, an in-band error) never leaves a half-read
        # connection in a pool for the next request to wait on forever.
        connector = aiohttp.TCPConnector(force_close=True)
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False
        )
        yield
        await self.session.close()

    # -- checks every request passes ----------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        given = request.headers.get(request_ids.HEADER)
        request_ids.use(given if given and request_ids.well_formed(given) else request_ids.new_id())
        request[ARRIVED] = time.perf_counter()
        match = endpoint_routes.resolve(request.method, request.raw_path)
        route = match.route.name if isinstance(match, endpoint_routes.Match) else UNMATCHED_ROUTE
        self.metrics.in_flight.inc()
        status = CLIENT_LEFT
        try:
            response = await self._answer(request, match)
            status = response.status
            return response
        finally:  # a client that left is counted too (its handler was cancelled)
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(route, str(status)).inc()

    async def _answer(
        self, request: web.Request, match: endpoint_routes.Match | ApiError
    ) -> web.StreamResponse:
        refused, headers = self._refusal(request)
        if refused is not None:
            return self._error(refused, headers)
        if request.method == "OPTIONS":
            return self._preflight(request)
        assert isinstance(match, endpoint_routes.Match)  # _refusal returned its error otherwise
        try:
            if match.route.name == "chat_completions":
                return await self.chat_completions(request)
            if match.route.name == "retrieve_model":
                assert match.model is not None
                return await self.retrieve_model(match.model)
            if match.route.name == "healthz":
                return web.json_response(HEALTHY)
            if match.route.name == "readyz":
                readiness = await self.readiness.get()
                return web.json_response(readiness.as_json(), status=readiness.status)
            if match.route.name == "metrics":
                return web.Response(
                    body=self.metrics.exposition(), headers={"Content-Type": METRICS_TYPE}
                )
            return await self._get("/v1/models")
        except aiohttp.ClientError as error:
            reason = one_line(error)
            return self._error(
                ApiError(502, f"Foundry Local's web service did not answer: {reason}", SERVER_ERROR)
            )
        except Exception:  # a bug here: logged in full, and still an OpenAI-shaped answer
            log.exception("the endpoint failed on %s %s", request.method, request.path)
            return self._error(
                ApiError(500, "The endpoint failed on this request; its log has the details.",
                         SERVER_ERROR)
            )  # fmt: skip

    def _error(self, error: ApiError, headers: Mapping[str, str] | None = None) -> web.Response:
        self.metrics.errors.labels(error.code or error.type).inc()
        return error_response(error, headers)

    def _refusal(self, request: web.Request) -> tuple[ApiError | None, dict[str, str]]:
        """Why this request is refused before any work, with the headers that go with it."""
        segments = endpoint_routes.split_path(request.raw_path)
        if isinstance(segments, ApiError):
            return segments, {}
        origin = request.headers.get("Origin")
        if origin is not None and self._allowed_origin(origin) is None:
            # Refused, not merely hidden from the page by the browser: a "simple" request from a
            # web page (a GET, a form POST) would otherwise still be carried out.
            return ApiError(
                403, f"Origin {origin} may not call this endpoint from a browser: add it to "
                "ENDPOINT_CORS_ORIGINS.", code="cors_origin_not_allowed",
            ), {}  # fmt: skip
        if request.method == "OPTIONS":
            if not endpoint_routes.allowed_methods(segments):
                not_found = endpoint_routes.resolve("GET", request.raw_path)
                assert isinstance(not_found, ApiError)  # no method is served on this path
                return not_found, {}
            return None, {}
        match = endpoint_routes.resolve(request.method, request.raw_path)
        route = match.route if isinstance(match, endpoint_routes.Match) else None
        if (route is None or route.needs_key) and not self._authorized(request):
            return ApiError(
                401,
                "Missing or wrong API key: send `Authorization: Bearer <key>` with the key "
                "this endpoint was started with (ENDPOINT_API_KEY).",
                code="invalid_api_key",
            ), {}
        if isinstance(match, ApiError):
            allowed = ", ".join(endpoint_routes.allowed_methods(segments))
            return match, ({"Allow": allowed} if match.status == 405 else {})
        if request.method == "POST" and request.content_type != JSON_TYPE:
            # A web page may POST text/plain or a form without a CORS preflight: JSON only.
            return ApiError(
                415, f"The request body must be JSON, sent with `Content-Type: {JSON_TYPE}` "
                f"(got {request.headers.get('Content-Type', 'none')}).",
                code="unsupported_media_type",
            ), {}  # fmt: skip
        if self.upstream is None and match.route.needs_model:
            return ApiError(503, "Foundry Local is still starting: the model is not ready yet.",
                            SERVER_ERROR, code="model_not_ready"), {}  # fmt: skip
        return None, {}

    def _authorized(self, request: web.Request) -> bool:
        if not self.config.api_key:
            return True
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.config.api_key.encode()
        )

    # -- CORS (browser clients such as Open WebUI's direct connections) ------------------------

    def _allowed_origin(self, origin: str | None) -> str | None:
        return cors_allowed(origin, self.config.cors_origins)

    def _preflight(self, request: web.Request) -> web.Response:
        """A preflight from an allowed origin (others were refused), or a plain OPTIONS."""
        if request.headers.get("Origin") is None:  # not a CORS preflight: say what is accepted
            return web.Response(status=204, headers={"Allow": CORS_METHODS})
        requested = request.headers.get("Access-Control-Request-Headers")
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": CORS_METHODS,
                "Access-Control-Allow-Headers": requested or CORS_HEADERS,
                "Access-Control-Max-Age": "600",
            },
        )

    async def _add_cors_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        allowed = self._allowed_origin(request.headers.get("Origin"))
        if allowed is not None:
            response.headers["Access-Control-Allow-Origin"] = allowed
            response.headers["Access-Control-Expose-Headers"] = "Retry-After"
            response.headers["Vary"] = "Origin"

    # -- routes ---------------------------------------------------------------------------------

    async def _read_body(self, request: web.Request) -> bytes | ApiError:
        limit = self.config.max_body_bytes
        too_large = ApiError(
            413, f"The request body is larger than {limit} bytes (ENDPOINT_MAX_BODY_BYTES).",
            code="request_too_large",
        )  # fmt: skip
        if request.content_length is not None and request.content_length > limit:
            return too_large
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:  # a chunked body that grew past the limit
            return too_large

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        assert self.upstream is not None
        raw = await self._read_body(request)
        if isinstance(raw, ApiError):
            return self._error(raw)
        body = parse_body(raw)
        if isinstance(body, ApiError):
            return self._error(body)
        if refused := check_chat_request(body) or unsupported(body):
            return self._error(refused)
        resolved = resolve_model(body, self.upstream.aliases)
        meter = StreamMeter(request[ARRIVED])
        try:
            async with self.queue.slot():
                self.metrics.queue_wait.observe(time.perf_counter() - meter.arrived)
                result = await self._completion(request, resolved, meter)
                if isinstance(result, ApiError):
                    retry = with_room_for_output(resolved, context_budget(result.message))
                    if retry is not None:
                        result = await self._completion(request, retry, meter)
        except QueueFull as full:
            log.warning(
                "endpoint busy: refused a completion (%d answering, %d waiting)",
                full.active, full.waiting,
            )  # fmt: skip
            return self._error(
                ApiError(
                    429,
                    f"The endpoint is busy: {full.active} request(s) being answered and "
                    f"{full.waiting} waiting, the most it queues (ENDPOINT_MAX_QUEUE). Retry in "
                    f"about {full.retry_after_s} s.",
                    "requests",
                    code="rate_limit_exceeded",
                ),
                {"Retry-After": str(full.retry_after_s)},
            )
        if isinstance(result, ApiError):
            return self._error(result)
        if not meter.recorded:  # a whole answer (not streamed): it is sent after this
            self._answered(meter)
        return result

    def _answered(self, meter: StreamMeter) -> None:
        meter.record(self.metrics)
        log.info("completion answered: %d tokens", meter.tokens)

    async def _completion(
        self, request: web.Request, body: dict[str, Any], meter: StreamMeter
    ) -> web.StreamResponse | ApiError:
        """From a warm session when one can serve the request, else from Foundry's web service."""
        engine = self.sessions
        messages = messages_of(body, engine.model_id) if engine is not None else None
        if engine is None or messages is None:
            return await self._complete(request, json.dumps(body).encode(), meter)
        scope = scope_key(request.headers.get("Authorization", ""), body, request.headers)
        answer = await engine.start(body, messages, scope)
        if isinstance(answer, ApiError):
            return answer
        log.info(
            "completion from a session: %d prompt tokens, %d reused, %d to read",
            answer.prompt_tokens, answer.reused_tokens, answer.read_tokens,
        )  # fmt: skip
        try:
            if body.get("stream"):
                return await self._stream_answer(request, body, answer, meter)
            return await self._whole_answer(body, answer, meter)
        except BaseException:
            answer.stop()  # the client left: the engine stops too
            log.info("client left a stream from a session: cancelled its request to the engine")
            raise

    async def _whole_answer(
        self, body: dict[str, Any], answer: Answer, meter: StreamMeter
    ) -> web.Response | ApiError:
        completion = Completion(body["model"])
        text = "".join([piece async for piece in answer.pieces()])
        if answer.error is not None:
            return answer.error
        payload = completion.whole(text, answer.finish_reason or "stop", _usage(answer))
        meter.read_payload(payload, time.perf_counter())
        return web.json_response(payload, headers=_token_headers(answer))

    async def _stream_answer(
        self, request: web.Request, body: dict[str, Any], answer: Answer, meter: StreamMeter
    ) -> web.StreamResponse:
        completion = Completion(body["model"])
        response = web.StreamResponse(headers={**SSE_HEADERS, **_token_headers(answer)})
        await response.prepare(request)  # before the prompt is read: the client knows its size

        async def send(event: bytes) -> None:
            meter.feed(event)
            await response.write(event)

        try:
            await send(completion.role_chunk())
            async for piece in answer.pieces():
                await send(completion.text_chunk(piece))
            if answer.error is not None:  # said in the stream, as Foundry says its own errors
                await response.write(b"data: " + json.dumps(answer.error.body()).encode() + b"\n\n")
                return response
            await send(completion.finish_chunk(answer.finish_reason or "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                await send(completion.usage_chunk(_usage(answer)))
        except ConnectionResetError:  # the client left while a chunk was being written
            answer.stop()
            log.info("client left a stream from a session: cancelled its request to the engine")
            return response
        self._answered(meter)
        await response.write(DONE)
        await response.write_eof()
        return response

    async def _complete(
        self, request: web.Request, data: bytes, meter: StreamMeter
    ) -> web.StreamResponse | ApiError:
        """One request to Foundry; its error (also one sent as a stream's first event) returned."""
        assert self.session is not None and self.upstream is not None
        url = URL(f"{self.upstream.url}/v1/chat/completions", encoded=True)
        headers = {"Content-Type": JSON_TYPE, **request_ids.outgoing_headers()}
        async with self.session.post(url, data=data, headers=headers) as reply:
            try:
                if reply.status != 200:
                    return from_foundry(reply.status, await _payload(reply))
                if reply.content_type != "text/event-stream":
                    answer = await reply.read()
                    _meter_completion(meter, answer)
                    return web.Response(body=answer, content_type=JSON_TYPE)
                first = await _read_event(reply.content)
                if (error := _event_error(first)) is not None:
                    reply.close()  # the stream ends here; its connection is not worth reusing
                    return error
                return await _relay(request, reply, first, meter, self._answered)
            except BaseException:
                reply.close()  # a client that went away must not keep Foundry generating
                raise

    async def retrieve_model(self, model: str) -> web.StreamResponse:
        assert self.upstream is not None
        return await self._get(endpoint_routes.model_path(self.upstream.aliases.get(model, model)))

    async def _get(self, path: str) -> web.StreamResponse:
        """GET one of Foundry's /v1 routes; `path` comes from endpoint_routes, never a client."""
        assert self.session is not None and self.upstream is not None
        url = URL(f"{self.upstream.url}{path}", encoded=True)  # sent exactly as built
        async with self.session.get(url, headers=request_ids.outgoing_headers()) as reply:
            if reply.status >= 400:
                return self._error(from_foundry(reply.status, await _payload(reply)))
            return web.Response(
                status=reply.status, body=await reply.read(), content_type=reply.content_type
            )

    # -- readiness ------------------------------------------------------------------------------

    async def _check_model(self) -> tuple[Component, ...]:
        """The model answers a 1-token completion within the bound (unless it is answering
        completions now, which a probe would only wait behind)."""
        upstream = self.upstream
        if upstream is None:
            return (Component("model", False, "Foundry Local is still starting: no model yet."),)
        model = upstream.served_model
        if self.queue.active:
            return (Component("model", True, f"answering {self.queue.active} completion(s)"),)
        assert self.session is not None
        bound = self.config.readiness_timeout_seconds
        probe = {"model": model, "messages": READINESS_PROMPT, "max_tokens": 1, "stream": False}
        url = URL(f"{upstream.url}/v1/chat/completions", encoded=True)
        try:
            async with (
                asyncio.timeout(bound),
                self.session.post(url, json=probe, headers=request_ids.outgoing_headers()) as reply,
            ):
                failed = None if reply.status == 200 else from_foundry(
                    reply.status, await _payload(reply)
                )  # fmt: skip
        except TimeoutError:
            failed = ApiError(504, f"no answer to a 1-token completion within {bound:g} s")
        except aiohttp.ClientError as error:
            failed = ApiError(502, f"Foundry Local's web service did not answer: {one_line(error)}")
        self.metrics.model_loaded.labels(model).set(0 if failed else 1)
        if failed is not None:
            log.warning("readiness: %s is not ready: %s", model, failed.message)
            return (Component("model", False, f"{model}: {failed.message}"),)
        return (Component("model", True),)


def _usage(answer: Answer) -> dict[str, Any]:
    return usage(answer.prompt_tokens, answer.completion_tokens, answer.reused_tokens)


def _token_headers(answer: Answer) -> dict[str, str]:
    return {
        PROMPT_TOKENS_HEADER: str(answer.prompt_tokens),
        REUSED_TOKENS_HEADER: str(answer.reused_tokens),
        READ_ESTIMATE_HEADER: f"{answer.read_seconds_estimate:.1f}",
    }


async def _echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    if (request_id := request_ids.current()) is not None:
        response.headers[request_ids.HEADER] = request_id


def _meter_completion(meter: StreamMeter, answer: bytes) -> None:
    try:
        payload = json.loads(answer)
    except ValueError:
        return
    if isinstance(payload, dict):
        meter.read_payload(payload, time.perf_counter())


async def _payload(reply: aiohttp.ClientResponse) -> Any:
    raw = await reply.read()
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip()


async def _read_event(content: aiohttp.StreamReader) -> bytes:
    """The first server-sent event (up to its blank line), or everything if the stream ends."""
    event = b""
    while line := await content.readline():
        event += line
        if line in (b"\n", b"\r\n"):
            break
    return event


def _event_error(event: bytes) -> ApiError | None:
    """Foundry reports a rejected streaming request as a 200 with one `data: {"error":…}` event."""
    for line in event.splitlines():
        if line.startswith(b"data:"):
            try:
                payload = json.loads(line[5:])
            except ValueError:
                return None
            if isinstance(payload, dict) and "error" in payload:
                return from_foundry(None, payload)
            return None
    return None


async def _relay(
    request: web.Request,
    reply: aiohttp.ClientResponse,
    first: bytes,
    meter: StreamMeter,
    answered: Callable[[StreamMeter], None],
) -> web.StreamResponse:
    """Pass the stream on as it arrives: each chunk is written (and so sent) at once.
    `answered` is told before the stream's end is sent (so a client that has the whole stream
    finds it in the metrics)."""
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    chunks = 0
    try:
        if first:
            meter.feed(first)
            await response.write(first)
        async for chunk in reply.content.iter_any():
            meter.feed(chunk)
            await response.write(chunk)
            chunks += 1
    except asyncio.CancelledError:  # the client disconnected (handler cancellation)
        _client_left(reply, chunks)
        raise
    except ConnectionResetError:  # the client disconnected while a chunk was being written
        _client_left(reply, chunks)
        return response
    except aiohttp.ClientError as error:  # headers are sent: the stream can only end here
        log.warning("Foundry Local broke off a stream after %d chunks: %s", chunks, error)
        # Said in the stream, as Foundry says its own errors there: a stream that just ended
        # would pass for a whole answer.
        broken = ApiError(502, f"Foundry Local broke off the answer: {one_line(error)}",
                          SERVER_ERROR, code="stream_broken_off")  # fmt: skip
        with contextlib.suppress(ConnectionResetError):
            await response.write(b"data: " + json.dumps(broken.body()).encode() + b"\n\n")
        return response
    answered(meter)
    await response.write_eof()
    return response


def _client_left(reply: aiohttp.ClientResponse, chunks: int) -> None:
    reply.close()  # Foundry Local stops generating when its client goes away
    log.info("client left a stream after %d chunks: closed its request to Foundry Local", chunks)


class Gateway:
    """Serves the public endpoint from a daemon thread with its own event loop."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.port: int | None = None
        self._service = _Service(config)
        self._ready = threading.Event()
        self._start_error: Exception | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def start(self, timeout: float = 30) -> None:
        """Listen on host:port; raises OSError when that is impossible (e.g. the port is taken)."""
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(),), name="endpoint-gateway", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the endpoint gateway did not start in {timeout} s")
        if self._start_error is not None:
            self._thread.join()
            raise self._start_error

    def route_to(
        self,
        upstream: Upstream,
        load_seconds: float | None = None,
        sessions: SessionEngine | None = None,
    ) -> None:
        """From now on, forward to Foundry Local's web service at `upstream` (whose model took
        `load_seconds` to load, when known), and answer what `sessions` can serve from them."""
        self._service.sessions = sessions
        self._service.upstream = upstream
        model = upstream.served_model
        self._service.metrics.model_loaded.labels(model).set(1)
        if load_seconds is not None:
            self._service.metrics.model_load_seconds.labels(model).set(load_seconds)
        self._service.readiness.forget()

    @property
    def metrics(self) -> EndpointMetrics:
        return self._service.metrics

    def wait_for_queue(self, active: int, waiting: int, timeout: float) -> None:
        """Block until `active` completions are admitted and `waiting` wait (for tests, tools)."""
        self._service.queue.wait_until(active, waiting, timeout)

    def close(self) -> None:
        if self._service.sessions is not None:
            self._service.sessions.close()
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        runner = web.AppRunner(
            self._service.app(), handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        try:
            await runner.setup()
            await web.TCPSite(runner, self.config.host, self.config.port).start()
        except Exception as error:
            self._start_error = error
            await runner.cleanup()
            self._ready.set()
            return
        self.port = runner.addresses[0][1]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()
