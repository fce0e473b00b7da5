"""/healthz, /readyz and /metrics on the chat server, answered before Chainlit sees the request.

An ASGI layer inside the origin guard (a foreign web page is refused as everywhere else) and in
front of Chainlit, whose catch-all route would otherwise serve its page for these paths. GET
only. /metrics tells how the app is used, so it is not for everyone: with METRICS_TOKEN set it
wants `Authorization: Bearer <token>`; without, it answers only a client on this machine that
came through no proxy (a reverse proxy on the same machine would make every visitor look
local, so a request with forwarding headers is refused).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from foundry_local_chat.config import is_loopback
from foundry_local_chat.readiness import HEALTHY, CachedReadiness
from foundry_local_chat.server.metrics import ChatMetrics

log = logging.getLogger(__name__)

PATHS = ("/healthz", "/readyz", "/metrics")
METRICS_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
FORWARDING_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-real-ip")
NOT_STARTED = {
    "status": "not ready",
    "components": {"app": {"ready": False, "reason": "starting: the startup hook has not run"}},
}


class Observed(Protocol):
    """What the routes read: the app's state (AppState) once its startup hook has run."""

    @property
    def metrics(self) -> ChatMetrics: ...

    @property
    def readiness(self) -> CachedReadiness: ...


StateProvider = Callable[[], Observed | None]


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {key.lower(): value for key, value in scope["headers"]}


class OpsRoutes:
    def __init__(self, app: ASGIApp, state: StateProvider, metrics_token: str) -> None:
        self.app = app
        self.state = state
        self.metrics_token = metrics_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if scope["type"] != "http" or path not in PATHS:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in {"GET", "HEAD"}:
            await _send(send, 405, {"detail": f"{path} answers GET only."}, [(b"allow", b"GET")])
            return
        state = self.state()
        if path == "/healthz":
            await _send(send, 200, HEALTHY)
        elif path == "/readyz":
            if state is None:
                await _send(send, 503, NOT_STARTED)
                return
            readiness = await state.readiness.get()
            await _send(send, readiness.status, readiness.as_json())
        else:
            await self._metrics(scope, send, state)

    async def _metrics(self, scope: Scope, send: Send, state: Observed | None) -> None:
        refusal = self._metrics_refusal(scope)
        if refusal is not None:
            status, detail = refusal
            extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
            await _send(send, status, {"detail": detail}, extra)
            return
        if state is None:
            await _send(send, 503, NOT_STARTED)
            return
        body = state.metrics.exposition()
        await send({
            "type": "http.response.start", "status": 200,
            "headers": [(b"content-type", METRICS_TYPE), (b"content-length", b"%d" % len(body))],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    def _metrics_refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers = _headers(scope)
        if self.metrics_token:
            scheme, _, given = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode(), self.metrics_token.encode()
            ):
                return None
            return 401, "/metrics wants `Authorization: Bearer <METRICS_TOKEN>`."
        client = scope.get("client")
        local = client is not None and is_loopback(str(client[0]))
        if local and not any(name in headers for name in FORWARDING_HEADERS):
            return None
        log.warning("refused /metrics to %s: set METRICS_TOKEN to serve it beyond this machine",
                    client[0] if client else "an unknown client")  # fmt: skip
        return 403, (
            "/metrics answers only clients on this machine that come through no proxy; set "
            "METRICS_TOKEN to let others in with `Authorization: Bearer <token>`."
        )


async def _send(
    send: Send, status: int, payload: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


def install_ops_routes(app: Starlette, state: StateProvider, metrics_token: str) -> None:
    """Put the routes in front of Chainlit's app. Call before install_origin_guard, which must
    stay the outermost layer. `chainlit run -w` imports app.py again into the running server:
    the layer installed at start stays."""
    if app.middleware_stack is not None:
        return
    app.add_middleware(OpsRoutes, state=state, metrics_token=metrics_token)
