"""An OpenAI-compatible pass-through on loopback that records what the app sends.

It forwards every request to a real upstream endpoint (Foundry Local) and streams the answer back,
so the app under test talks to a real model while the test can read each request body and see
whether the app closed a streaming request early (stop).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any] | None
    authorization: str = ""  # as the app sent it
    client_closed_early: bool = False
    answer: str = ""  # the text of a streamed answer, as far as it was sent to the app
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    arrived_at: float = field(default_factory=time.perf_counter)
    first_text_at: float | None = None  # when the answer's first text went to the app

    @property
    def first_text_seconds(self) -> float | None:
        """From the request's arrival to its answer's first text (the model's own part)."""
        return None if self.first_text_at is None else self.first_text_at - self.arrived_at


def delta_text(line: bytes) -> str:
    """The answer text an SSE line carries (none for other lines)."""
    if not line.startswith(b"data:") or line.strip() == b"data: [DONE]":
        return ""
    try:
        choices = json.loads(line[5:]).get("choices") or []
    except ValueError:
        return ""
    delta = choices[0].get("delta") or {} if choices else {}
    return str(delta.get("content") or "")


class RecordingProxy:
    def __init__(
        self, upstream: str, api_key: str = "", *, see_clients_leave: bool = False
    ) -> None:
        """`see_clients_leave`: a client that closes its request ends the proxy's handler at
        once (aiohttp's handler cancellation), also while a held request waits; otherwise the
        proxy notices when it next writes to it."""
        self.upstream = upstream.rstrip("/")  # …/v1
        self.api_key = api_key  # the upstream's key, sent whatever the app sends
        self.see_clients_leave = see_clients_leave
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._arrived = asyncio.Condition()
        self.url = ""
        self.reset()

    def reset(self) -> RecordingProxy:
        """Nothing recorded and every failure disarmed: how a proxy starts, and how a proxy
        shared by a module's tests starts each test."""
        self.requests: list[RecordedRequest] = []
        # Failure injection: after this many SSE events of an answer, send an error event and end,
        # the way Foundry Local reports a mid-stream failure (no [DONE]).
        self.fail_after_events: int | None = None
        # A server that cannot stream: streaming requests get 400, others pass.
        self.reject_streaming = False
        # A reasoning model: these deltas go out before the real answer's first event.
        self.thinking_deltas: list[str] = []
        # Short answers whatever the app asks for: the app may reserve a large part of the
        # context for its answer (so a conversation outgrows it in a few short turns) while the
        # model writes only this many tokens. The recorded body is what the app sent.
        self.max_tokens_cap: int | None = None
        # A long answer held mid-stream: after this many SSE events of a streamed answer, the
        # proxy sets `held` and sends nothing more until the test sets `release` (the model
        # keeps writing into the connection meanwhile).
        self.hold_after_events: int | None = None
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        # Requests whose body this is true of wait, before they are forwarded, until the test
        # sets `release_requests` (`request_held` is set when one waits).
        self.hold_requests: Callable[[dict[str, Any] | None], bool] | None = None
        self.request_held = asyncio.Event()
        self.release_requests = asyncio.Event()
        return self

    async def wait_for_request(
        self, matches: Callable[[RecordedRequest], bool], timeout: float = 60
    ) -> RecordedRequest:
        """The first request (recorded already, or still to come) that matches."""

        def found() -> RecordedRequest | None:
            return next((r for r in self.requests if matches(r)), None)

        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: found() is not None)
        request = found()
        assert request is not None
        return request

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    async def start(self) -> RecordingProxy:
        app = web.Application()
        app.router.add_route("*", "/v1/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, handler_cancellation=self.see_clients_leave)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"
        self._session = aiohttp.ClientSession()
        return self

    async def close(self) -> None:
        if self._session:
            await self._session.close()
        if self._runner:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        raw = await request.read()
        body = await request.json() if raw else None
        recorded = RecordedRequest(
            path=request.path, body=body, authorization=request.headers.get("Authorization", "")
        )
        self.requests.append(recorded)
        async with self._arrived:
            self._arrived.notify_all()
        if self.hold_requests is not None and self.hold_requests(body):
            self.request_held.set()
            try:
                await self.release_requests.wait()
            except asyncio.CancelledError:
                recorded.client_closed_early = True
                recorded.finished.set()
                raise
        if self.reject_streaming and body and body.get("stream"):
            recorded.finished.set()
            return web.json_response(
                {"error": {"message": "streaming is not supported"}}, status=400
            )
        if self.max_tokens_cap is not None and body and body.get("max_tokens"):
            raw = json.dumps({**body, "max_tokens": self.max_tokens_cap}).encode()
        target = self.upstream + request.path.removeprefix("/v1")
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            async with self._session.request(
                request.method, target, data=raw, headers=headers
            ) as upstream:
                response = web.StreamResponse(status=upstream.status)
                response.content_type = upstream.content_type
                await response.prepare(request)
                events = 0
                for delta in self.thinking_deltas if body and body.get("stream") else []:
                    chunk = {"choices": [{"index": 0, "delta": {"content": delta}}]}
                    await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                try:
                    async for line in upstream.content:
                        if line.startswith(b"data:"):
                            events += 1
                            if (
                                self.fail_after_events is not None
                                and events > self.fail_after_events
                            ):
                                error = b'data: {"error":{"message":"injected failure"}}\n\n'
                                await response.write(error)
                                break
                        await response.write(line)
                        text = delta_text(line)
                        if text and recorded.first_text_at is None:
                            recorded.first_text_at = time.perf_counter()
                        recorded.answer += text
                        held_here = events == self.hold_after_events and not self.held.is_set()
                        if held_here and not line.strip():  # the event's end: the app has it
                            self.held.set()
                            await self.release.wait()
                except (ConnectionResetError, asyncio.CancelledError):
                    recorded.client_closed_early = True
                    raise
                await response.write_eof()
                return response
        finally:
            recorded.finished.set()
