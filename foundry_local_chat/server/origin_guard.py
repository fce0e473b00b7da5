"""Refuse every request a web page on a foreign origin sends to the chat server.

An ASGI middleware in front of Chainlit's whole app: its HTTP routes (which use the session
cookie) and the socket.io server mounted at /ws/socket.io (polling and WebSocket). A refused
request never reaches Chainlit: HTTP gets 403, a WebSocket handshake is closed before it is
accepted (403 too). Chainlit's own socket.io server checks no origin at all (it is created with
cors_allowed_origins=[]), and engineio's default check would trust X-Forwarded-Host from anyone,
so the check is done here, once, for both.
"""

from __future__ import annotations

import json
import logging

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from foundry_local_chat.origins import OriginPolicy

logger = logging.getLogger(__name__)
REFUSAL = (
    "Cross-origin request refused: this chat server only serves its own pages and the origins "
    "ALLOWED_ORIGINS lists."
)
POLICY_VIOLATION = 1008  # WebSocket close code; before the handshake uvicorn answers 403


def _header(scope: Scope, name: bytes) -> str | None:
    """The header's value; several of them count as one that is no single origin or host."""
    values = [value for key, value in scope["headers"] if key == name]
    if not values:
        return None
    return values[0].decode("latin-1") if len(values) == 1 else ""


class OriginGuard:
    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        host = _header(scope, b"host")
        if self.policy.allows(origin, scope.get("scheme", ""), host):
            await self.app(scope, receive, send)
            return
        logger.warning(
            "refused %s %s from origin %r (addressed to host %r): not this app's origin, nor in "
            "ALLOWED_ORIGINS",
            scope.get("method", "WebSocket"), scope.get("path", ""), origin, host,
        )  # fmt: skip
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        body = json.dumps({"detail": REFUSAL}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _is_cors_middleware(factory: object) -> bool:
    # `object`: Starlette types a middleware's class as a factory protocol that mypy finds
    # disjoint from CORSMiddleware's class, so an identity check on the typed value is an error.
    return factory is CORSMiddleware


def install_origin_guard(app: Starlette, policy: OriginPolicy) -> None:
    """Put the guard in front of everything `app` (Chainlit's server) runs, its CORS middleware
    included, and let that CORS middleware answer exactly the ALLOWED_ORIGINS (whatever
    `.chainlit/config.toml` says). Call before the server starts.

    `chainlit run -w` imports app.py again on every change, into the running server: the guard
    installed at start stays, with the settings it started with.
    """
    if app.middleware_stack is not None:  # running: installed when it started
        return
    cors = [entry for entry in app.user_middleware if _is_cors_middleware(entry.cls)]
    if len(cors) != 1:
        raise RuntimeError(
            f"expected Chainlit's one CORSMiddleware on its app, found {len(cors)}: the origin "
            "guard was written against Chainlit 2.12's server.py"
        )
    cors[0].kwargs["allow_origins"] = sorted(str(origin) for origin in policy.allowed)
    app.add_middleware(OriginGuard, policy=policy)  # added last = outermost
