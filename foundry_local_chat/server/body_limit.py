"""Request bodies are refused by their size before the chat server holds them.

Chainlit's upload route (/project/file) reads the whole upload into memory and only then
compares it with the size limit; its other routes read a JSON body whole. This ASGI middleware,
in front of all of them, refuses a body larger than its route's limit with a 413: at once by its
`Content-Length`, and by a running count of the bytes as they arrive (a chunked body, or one
that lies about its length). The socket.io server (/ws/socket.io) has its own limit
(chat_server.accept_long_messages).

A refused body that is at most DRAIN_BYTES over its limit is read to its end and dropped before
the 413 is sent: a client still sending it when the server closed the connection saw a reset
("Can not write request body"), not the 413 that says why. A larger one is refused without
reading further.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foundry_local_chat.config import DocumentLimits
from foundry_local_chat.server.chainlit_server import MAX_MESSAGE_BYTES

logger = logging.getLogger(__name__)
UPLOAD_ROUTE = "/project/file"
SOCKET_ROUTE = "/ws/socket.io"
MULTIPART_SLACK = 64 * 1024  # a form's boundaries and headers around the file
TOO_LARGE = 413
DRAIN_BYTES = 16 * 1024 * 1024  # read and dropped, never held: a chunk at a time


class BodyTooLarge(HTTPException):
    """Raised from the body's stream once it passes its limit: FastAPI answers it with a 413
    (and the middleware does, if it gets here)."""

    def __init__(self, limit: int) -> None:
        super().__init__(TOO_LARGE, refusal(limit))
        self.limit = limit


def refusal(limit: int) -> str:
    return f"Request body too large: this route takes at most {limit:,} bytes."


def limits_for(documents: DocumentLimits) -> Callable[[str], int | None]:
    """Each path's limit in bytes (None: not limited here)."""
    upload = documents.max_bytes + MULTIPART_SLACK

    def limit(path: str) -> int | None:
        if SOCKET_ROUTE in path:
            return None
        if path.rstrip("/").endswith(UPLOAD_ROUTE):
            return upload
        return MAX_MESSAGE_BYTES

    return limit


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length, or -1 when it is not one number (several, or not digits)."""
    values = [value for key, value in scope["headers"] if key == b"content-length"]
    if not values:
        return None
    if len(values) > 1 or not values[0].strip().isdigit():
        return -1
    return int(values[0])


class BodyLimit:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int | None]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and not 0 <= declared <= limit:
            logger.warning(
                "refused %s %s: its body declares %s bytes, over the limit of %d",
                scope["method"], scope["path"], declared if declared >= 0 else "no one length",
                limit,
            )  # fmt: skip
            if 0 <= declared <= limit + DRAIN_BYTES:
                await _drop_body(receive, declared)
            await _refuse(send, limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    logger.warning(
                        "refused %s %s: its body passed the limit of %d bytes while it arrived",
                        scope["method"], scope["path"], limit,
                    )  # fmt: skip
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not started:
                await _drop_body(receive, DRAIN_BYTES)
                await _refuse(send, limit)


async def _drop_body(receive: Receive, most: int) -> None:
    """Read the rest of the body, up to `most` bytes, and keep none of it."""
    dropped = 0
    while dropped <= most:
        message = await receive()
        if message["type"] != "http.request":  # the client left
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": refusal(limit)}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"connection", b"close"),  # what is left of the body is not read
    ]
    await send({"type": "http.response.start", "status": TOO_LARGE, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install_body_limit(app: Starlette, documents: DocumentLimits) -> None:
    """Put the limit in front of Chainlit's routes (call before the server starts, and before
    the origin guard, which goes outermost). `chainlit run -w` keeps what it started with."""
    if app.middleware_stack is not None:
        return
    app.add_middleware(BodyLimit, limit_for=limits_for(documents))
