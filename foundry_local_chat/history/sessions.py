"""Signing out ends the session on the server: its token is refused from then on.

Chainlit's session token is a signed JWT valid until it expires (`user_session_timeout`, 15
days), and its /logout only clears the cookie: a copy of the token kept anywhere went on
working. Here, POST /logout records the token (its SHA-256) in the history database, table
`revoked_sessions` (migration 0003), until it would have expired; `SessionGuard`, an ASGI
middleware in front of Chainlit, refuses a recorded token on every HTTP route (401) and on the
socket.io handshake, also on the other instances that share the database (there within
`LIVE_ANSWER_SECONDS`, for which a token found valid is not looked up again). Sign-in and history
go together, so wherever there is a token there is this database.

Chainlit's tokens carry no id of their own: two sign-ins of one user in the same second got
the same token, so ending one ended both. Each token gets a random `jti` claim here.

While the database cannot be read, tokens are not checked against it (logged): the chat keeps
working through an outage, as its saving does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

import chainlit.server
import jwt
from chainlit.auth.jwt import get_jwt_secret
from chainlit.user import User
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from foundry_local_chat.history.ownership import token_of, user_of_token
from foundry_local_chat.storage.database import driver_reason

log = logging.getLogger(__name__)
ENDED = "This session has ended (signed out): sign in again."
POLICY_VIOLATION = 1008
LIVE_ANSWER_SECONDS = 5.0
MAX_LIVE_TOKENS = 10_000


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def expiry_of(token: str) -> int:
    """The token's exp (Unix time), read without checking it: only valid tokens get here."""
    claims = jwt.decode(token, options={"verify_signature": False})
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return int(exp)
    return int(time.time() + 86400 * 365)  # none, or none that reads as a time: a year


class RevokedSessions:
    """The ended sessions, in the history database."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.clock = clock
        self._known: set[str] = set()  # ended here or seen ended: they never come back
        # Tokens found not ended, and until when that answer is reused: a page load's dozens of
        # requests cost one query. Another instance's sign-out reaches this one within this.
        self._live: OrderedDict[str, float] = OrderedDict()

    async def revoke(self, token: str) -> None:
        digest, expires = fingerprint(token), expiry_of(token)
        self._known.add(digest)
        self._live.pop(digest, None)
        async with self.engine.begin() as connection:
            await connection.execute(
                text("DELETE FROM revoked_sessions WHERE expires_at < :now"),
                {"now": int(time.time())},
            )
            await connection.execute(
                text(
                    "INSERT INTO revoked_sessions (token_sha256, expires_at) "
                    "VALUES (:digest, :expires) ON CONFLICT (token_sha256) DO NOTHING"
                ),
                {"digest": digest, "expires": expires},
            )

    async def is_revoked(self, token: str) -> bool:
        digest = fingerprint(token)
        if digest in self._known:
            return True
        if self._live.get(digest, 0.0) > self.clock():
            return False
        async with self.engine.connect() as connection:
            found = await connection.scalar(
                text("SELECT 1 FROM revoked_sessions WHERE token_sha256 = :digest"),
                {"digest": digest},
            )
        if found:
            self._known.add(digest)
            return True
        self._live[digest] = self.clock() + LIVE_ANSWER_SECONDS
        self._live.move_to_end(digest)
        while len(self._live) > MAX_LIVE_TOKENS:
            self._live.popitem(last=False)
        return False


class SessionGuard:
    """Refuses ended sessions' tokens; records the token of a sign-out."""

    def __init__(self, app: ASGIApp, sessions: Callable[[], RevokedSessions | None]) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        token = token_of(HTTPConnection(scope))
        revoked = self.sessions() if token else None
        if token is None or revoked is None:
            await self.app(scope, receive, send)
            return
        try:
            if await revoked.is_revoked(token):
                await _refuse(scope, receive, send)
                return
            if _is_sign_out(scope) and user_of_token(token):
                await revoked.revoke(token)
        except Exception as error:  # an outage: see the module's docstring
            log.error("checking for an ended session failed: %s", driver_reason(error))
        await self.app(scope, receive, send)


def _is_sign_out(scope: Scope) -> bool:
    path = str(scope.get("path", "")).removeprefix(str(scope.get("root_path", "")))
    return scope["type"] == "http" and scope.get("method") == "POST" and path == "/logout"


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        return
    body = json.dumps({"detail": ENDED}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _with_an_id(create_jwt: Callable[[User], str]) -> Callable[[User], str]:
    def create_jwt_with_an_id(user: User) -> str:
        secret = get_jwt_secret()
        assert secret  # Chainlit's create_jwt has just used it
        claims = jwt.decode(create_jwt(user), secret, algorithms=["HS256"])
        return jwt.encode({**claims, "jti": secrets.token_urlsafe(16)}, secret, algorithm="HS256")

    create_jwt_with_an_id.with_an_id = True  # type: ignore[attr-defined]
    return create_jwt_with_an_id


def install_session_guard(app: FastAPI, engine: Callable[[], AsyncEngine | None]) -> None:
    """In front of Chainlit's app, before it starts; `engine` is the history database's (None
    while sign-in, and so history, is off)."""
    if app.middleware_stack is not None:  # `chainlit run -w` re-import: installed at start
        return
    current: list[RevokedSessions] = []

    def sessions() -> RevokedSessions | None:
        database = engine()
        if database is None:
            return None
        if not current or current[0].engine is not database:
            current[:] = [RevokedSessions(database)]
        return current[0]

    app.add_middleware(SessionGuard, sessions=sessions)
    # Chainlit's sign-in routes call the create_jwt server.py imported from chainlit.auth.
    create_jwt = chainlit.server.create_jwt  # type: ignore[attr-defined]
    if not getattr(create_jwt, "with_an_id", False):
        chainlit.server.create_jwt = _with_an_id(create_jwt)  # type: ignore[attr-defined,assignment]
