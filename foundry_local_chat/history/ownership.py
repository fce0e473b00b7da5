"""Who a history read or write is done for, and the refusal when the row is somebody else's.

Chainlit's routes and socket events pass ids the browser sent (a message's, an element's, a
feedback's) straight to the data layer, which upserts by id: another user's ids would replace or
delete her rows. The data layer (persistence.ChatDataLayer) checks every id against the acting
user, who is:

- in a chat (a socket.io event), the chat session's signed-in user;
- in an HTTP request, the user its session token names (set by `ActingUserMiddleware`, which
  only reads a token that verifies; a route still refuses a missing or bad one itself);
- nobody (None) for the app's own work outside both (start-up, migrations, tests), which is
  trusted.

A refusal is `NotYours`; over HTTP it is a 404, the same answer as for an id that does not exist,
so ids of other users cannot be told from unknown ones.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

from chainlit.auth import get_token_from_cookies
from chainlit.auth.jwt import decode_jwt
from chainlit.context import ChainlitContextException, get_context
from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from foundry_local_chat.errors import FoundryLocalChatError

NOT_FOUND = "Not found"


class NotYours(FoundryLocalChatError, PermissionError):
    """The id names a thread, message, element or feedback of another user (or none at all)."""


@dataclass(frozen=True)
class ActingUser:
    identifier: str
    id: str | None = None  # the users table's id, when known


_http_user: contextvars.ContextVar[ActingUser | None] = contextvars.ContextVar(
    "foundry_local_chat_http_user", default=None
)


@contextlib.contextmanager
def acting_as(user: ActingUser | None) -> Iterator[None]:
    """Run the enclosed code for this user, as a request of theirs is."""
    marked = _http_user.set(user)
    try:
        yield
    finally:
        _http_user.reset(marked)


def acting_user() -> ActingUser | None:
    """The signed-in user this code runs for; None for the app's own work."""
    if (from_http := _http_user.get()) is not None:
        return from_http
    try:
        user = get_context().session.user
    except ChainlitContextException:
        return None
    if user is None:
        return None
    return ActingUser(user.identifier, getattr(user, "id", None))


def in_http_request() -> bool:
    """Whether this code runs for an HTTP request of a signed-in user (a route)."""
    return _http_user.get() is not None


def token_of(connection: HTTPConnection) -> str | None:
    """The session token as Chainlit reads it: its cookie, else a bearer Authorization header."""
    if token := get_token_from_cookies(dict(connection.cookies)):
        return token
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def user_of_token(token: str | None) -> str | None:
    """The identifier a valid, unexpired token names; None for anything else."""
    if not token:
        return None
    try:
        return decode_jwt(token).identifier
    except Exception:  # forged, expired, malformed: the route refuses it itself
        return None


class ActingUserMiddleware:
    """Marks each HTTP request with the user its token names, for the data layer's checks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        identifier = user_of_token(token_of(HTTPConnection(scope)))
        with acting_as(ActingUser(identifier) if identifier else None):
            await self.app(scope, receive, send)


async def _not_found(_request: Request, _error: Exception) -> Response:
    return JSONResponse({"detail": NOT_FOUND}, status_code=404)


async def _http_error(request: Request, error: Exception) -> Response:
    # Chainlit's PUT /feedback turns any exception into a 500 with its text: a refusal stays 404.
    if isinstance(error.__cause__, NotYours):
        return await _not_found(request, error)
    assert isinstance(error, HTTPException)
    return await http_exception_handler(request, error)


def install_ownership(app: FastAPI) -> None:
    """Refusals answer 404 on every route; requests carry their user. Before the server starts."""
    if app.middleware_stack is not None:  # `chainlit run -w` re-import: installed at start
        return
    app.add_exception_handler(NotYours, _not_found)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(ActingUserMiddleware)
