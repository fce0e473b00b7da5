"""PUT /project/element answers 404 for an element of another user's chat.

Chainlit's route saves the element in a background task (Element.send) and answers success
before the data layer has looked at it: the data layer refuses the write (and says so in the
sender's chat), but the route would still say it worked. This middleware runs the same check
(history_owners.check_element) first, for the request's user, so the refusal is the route's
answer too, as it is on every other route.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from foundry_local_chat.asgi_bodies import answer, read_body, replaying
from foundry_local_chat.history_owners import HistoryOwners
from foundry_local_chat.ownership import NOT_FOUND, NotYours

MAX_ELEMENT_BYTES = 1024**2  # a custom element's props (the app's are a few hundred bytes)


class ElementRouteGuard:
    def __init__(self, app: ASGIApp, owners: Callable[[], HistoryOwners | None]) -> None:
        self.app = app
        self.owners = owners

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "")).removeprefix(str(scope.get("root_path", "")))
        owners = self.owners() if scope["type"] == "http" else None
        if owners is None or scope.get("method") != "PUT" or path != "/project/element":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive, MAX_ELEMENT_BYTES)
        if body is None:
            await answer(send, 413, "The element is too large.")
            return
        try:
            element = json.loads(body)["element"]
            ids = [element["id"], element.get("threadId") or "", element.get("forId") or ""]
        except (ValueError, TypeError, KeyError, AttributeError):
            ids = []  # not an element: Chainlit's validation answers it
        if ids and all(isinstance(value, str) for value in ids):
            try:
                await owners.check_element(ids[0], ids[1] or None, ids[2] or None)
            except NotYours:
                await answer(send, 404, NOT_FOUND)
                return
        await self.app(scope, replaying(body, receive)(), send)


def install_element_route_guard(app: FastAPI, owners: Callable[[], HistoryOwners | None]) -> None:
    """Inside the middleware that marks the request's user (install it first)."""
    if app.middleware_stack is not None:  # `chainlit run -w` re-import: installed at start
        return
    app.add_middleware(ElementRouteGuard, owners=owners)
