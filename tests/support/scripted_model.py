"""A scripted OpenAI-compatible model server, in-process: it streams the deltas it was given,
fails on cue, and records every request. It plugs in where a real server does, as the transport
under the openai client (`Backend.http_client`), so the chat code runs unchanged.

    model = ScriptedModel("tiny:1")
    model.enqueue("Paris", " is the capital.")
    model.fail(429, "busy", headers={"Retry-After": "3"})
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2


@dataclass
class ScriptedReply:
    deltas: tuple[str, ...] = ()
    status: int = 200
    error: dict[str, Any] | None = None  # the body's "error" for a status >= 400
    headers: dict[str, str] = field(default_factory=dict)
    fail_after: int | None = None  # an in-band error event after this many deltas
    drop_after: int | None = None  # the connection breaks after this many deltas (server died)
    hold: asyncio.Event | None = None  # the stream waits for this after its first delta
    started: asyncio.Event = field(default_factory=asyncio.Event)  # its first delta went out
    prompt_tokens: int = 7


class ClosableStream(httpx2.AsyncByteStream):
    """A streamed body whose closing (the client leaving early) ends its generator at once, as a
    server sees the connection close; httpx's own iterator stream leaves that to the GC."""

    def __init__(self, events: AsyncGenerator[bytes]) -> None:
        self._events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for event in self._events:
            yield event

    async def aclose(self) -> None:
        await self._events.aclose()


class ScriptedModel:
    def __init__(self, model: str = "scripted-model:1", served: list[str] | None = None) -> None:
        self.model = model
        self.served = served or [model]
        self.replies: list[ScriptedReply] = []
        self.requests: list[dict[str, Any]] = []
        self.closed_early = 0  # streams the client closed before their end
        self.http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(self._handle))

    def enqueue(self, *deltas: str, **options: Any) -> ScriptedReply:
        reply = ScriptedReply(deltas=deltas, **options)
        self.replies.append(reply)
        return reply

    def fail(self, status: int, message: str, code: str | None = None, **options: Any) -> None:
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
        self.replies.append(ScriptedReply(status=status, error=error, **options))

    def chat_requests(self) -> list[dict[str, Any]]:
        return list(self.requests)

    async def _handle(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET" and request.url.path.endswith("/models"):
            data = [{"id": model, "object": "model", "owned_by": "test"} for model in self.served]
            return httpx2.Response(200, json={"object": "list", "data": data})
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            return httpx2.Response(404, json={"error": {"message": "not scripted"}})
        body = json.loads(request.content)
        self.requests.append(body)
        if not self.replies:
            raise AssertionError(f"the model was asked but no reply is scripted: {body}")
        reply = self.replies.pop(0)
        if reply.status >= 400:
            return httpx2.Response(reply.status, json={"error": reply.error}, headers=reply.headers)
        if body.get("stream"):
            headers = {"content-type": "text/event-stream"}
            return httpx2.Response(200, headers=headers, stream=ClosableStream(self._events(reply)))
        return httpx2.Response(200, json=self._completion(reply))

    def _completion(self, reply: ScriptedReply) -> dict[str, Any]:
        text = "".join(reply.deltas)
        return {
            "id": "chatcmpl-scripted", "object": "chat.completion", "created": 0,
            "model": self.model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": len(reply.deltas),
                      "total_tokens": reply.prompt_tokens + len(reply.deltas)},
        }  # fmt: skip

    async def _events(self, reply: ScriptedReply) -> AsyncGenerator[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            payload = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk",
                       "created": 0, "model": self.model, "choices": [choice]}  # fmt: skip
            payload.update(extra)
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        finished = False
        try:
            for number, delta in enumerate(reply.deltas):
                if reply.fail_after is not None and number == reply.fail_after:
                    yield b'data: {"error": {"message": "scripted failure"}}\n\n'
                    finished = True
                    return
                if reply.drop_after is not None and number == reply.drop_after:
                    raise httpx2.RemoteProtocolError("peer closed connection mid-body (scripted)")
                yield chunk({"content": delta})
                reply.started.set()
                if number == 0 and reply.hold is not None:
                    await reply.hold.wait()
            yield chunk({}, "stop")
            usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": len(reply.deltas),
                     "total_tokens": reply.prompt_tokens + len(reply.deltas)}  # fmt: skip
            yield chunk({}, choices=[], usage=usage)
            yield b"data: [DONE]\n\n"
            finished = True
        finally:
            if not finished:
                self.closed_early += 1
