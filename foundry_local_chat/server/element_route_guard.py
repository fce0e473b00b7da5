"""PUT and DELETE /project/element: 404 for an element of another user's chat, 422 for a body
that is no element.

Chainlit's PUT saves the element in a background task (Element.send) and answers success
before the data layer has looked at it: the data layer refuses the write (and says so in the
sender's chat), but the route would still say it worked. This middleware runs the same check
(history/row_owners.py check_element) first, for the request's user, so the refusal is the route's
answer too, as it is on every other route. Both routes also index the element and look up the
session unchecked (a 500 with a traceback for an element without a type, or an unknown session):
those are answered here.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from chainlit.session import WebsocketSession
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from foundry_local_chat.history.ownership import NOT_FOUND, NotYours
from foundry_local_chat.history.row_owners import HistoryOwners
from foundry_local_chat.server.asgi_bodies import answer, read_body, replaying

METHODS = ("PUT", "DELETE")
MAX_ELEMENT_BYTES = 1024**2  # a custom element's props (the app's are a few hundred bytes)


class ElementRouteGuard:
    def __init__(self, app: ASGIApp, owners: Callable[[], HistoryOwners | None]) -> None:
        self.app = app
        self.owners = owners

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "")).removeprefix(str(scope.get("root_path", "")))
        owners = self.owners() if scope["type"] == "http" else None
        if owners is None or scope.get("method") not in METHODS or path != "/project/element":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive, MAX_ELEMENT_BYTES)
        if body is None:
            await answer(send, 413, "The element is too large.")
            return
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if (problem := request_problem(request)) is not None:
            await answer(send, 422, problem)
            return
        element = request["element"]
        if WebsocketSession.get_by_id(request["sessionId"]) is None:
            await answer(send, 404, NOT_FOUND)  # Chainlit's route fails on it with a 500
            return
        if element["type"] == "custom":  # the only kind Chainlit's route saves
            try:
                await owners.check_element(
                    element["id"], element.get("threadId") or None, element.get("forId") or None
                )
            except NotYours:
                await answer(send, 404, NOT_FOUND)
                return
        await self.app(scope, replaying(body, receive)(), send)


def request_problem(request: object) -> str | None:
    """What Chainlit's element routes would fail on (with a 500): None when it is an element."""
    if not isinstance(request, dict) or not isinstance(request.get("sessionId"), str):
        return "expected {element, sessionId}"
    element = request.get("element")
    if not isinstance(element, dict):
        return "expected an element object"
    for key in ("id", "type", "name", "display"):
        if not isinstance(element.get(key), str):
            return f"the element has no {key}"
    for key in ("threadId", "forId"):
        if not isinstance(element.get(key) or "", str):
            return f"the element's {key} is not a string"
    if not isinstance(element.get("props") or {}, dict):
        return "the element's props are not an object"
    return None


def install_element_route_guard(app: FastAPI, owners: Callable[[], HistoryOwners | None]) -> None:
    """Inside the middleware that marks the request's user (install it first)."""
    if app.middleware_stack is not None:  # `chainlit run -w` re-import: installed at start
        return
    app.add_middleware(ElementRouteGuard, owners=owners)
