"""What public/chat_care.js needs from the server: the words it puts into Chainlit's page (in
English and Korean, from texts.PAGE_TEXTS), at a route in front of Chainlit's catch-all page
route. Public: the sign-in page uses them too."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from foundry_local_chat.ui.texts import PAGE_TEXTS

PAGE_TEXTS_PATH = "/chat-page/texts.json"


async def page_texts(request: Request) -> JSONResponse:
    return JSONResponse(PAGE_TEXTS, headers={"Cache-Control": "no-cache"})


def mount_page_texts(app: Starlette) -> None:
    """Once: `chainlit run -w` imports app.py again into a running server."""
    if any(getattr(route, "name", None) == "chat_page_texts" for route in app.router.routes):
        return
    app.router.routes.insert(0, Route(PAGE_TEXTS_PATH, page_texts, name="chat_page_texts"))
