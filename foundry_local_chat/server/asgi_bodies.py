"""Reading a small request body in an ASGI middleware before the app does, and answering."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import Message, Receive, Send


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request's body; None when it is larger than `limit` bytes."""
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body
        body += bytes(message.get("body", b""))
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return body


def replaying(body: bytes, rest: Receive) -> Callable[[], Receive]:
    """Receivers that give the body read already, then what the client sends next."""

    def receiver() -> Receive:
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return await rest()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return receive

    return receiver


async def answer(send: Send, status: int, detail: str, retry_after: int | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
