"""The documents of the chat a tab shows, for the list above its composer (public/chat_care.js
draws it, each document with a remove button), at routes in front of Chainlit's catch-all page:

    GET    /chat-documents?session=<id>            {"documents": [{id, name, kind, pages, ...}]}
    DELETE /chat-documents/<document id>?session=<id>     {"removed": name}

The tab names its chat session (Chainlit's own id for it, which the page sends on connecting):
the session's chat and its signed-in user say whose documents these are, as for the chat
itself (history/chat_documents.py), so the list holds this chat's documents and no other's,
and a removal removes one of them or nothing. The request must come from the session's user:
the session token's user (or, without sign-in, nobody) must be the session's. Anything else,
an unknown session or document included, is a 404 that tells nothing.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from chainlit.context import init_ws_context
from chainlit.session import WebsocketSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from foundry_local_chat.documents.store import StoredDocument
from foundry_local_chat.history.chat_documents import chat_documents, documents_changed
from foundry_local_chat.history.ownership import NOT_FOUND, token_of, user_of_token
from foundry_local_chat.ui.chat_view import notice, words
from foundry_local_chat.ui.texts import shown_name
from foundry_local_chat.ui.thread_tabs import user_of

log = logging.getLogger(__name__)

DOCUMENTS_PATH = "/chat-documents"
AN_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")  # Chainlit's session ids and the store's are UUIDs


def _not_found() -> JSONResponse:
    return JSONResponse({"detail": NOT_FOUND}, status_code=404)


def _session_of(request: Request) -> WebsocketSession | None:
    """The chat session the request names, if the request comes from its user."""
    session_id = request.query_params.get("session", "")
    if not AN_ID.match(session_id):
        return None
    session = WebsocketSession.get_by_id(session_id)
    if not isinstance(session, WebsocketSession):
        return None
    if user_of(session) != user_of_token(token_of(request)):
        return None  # another user's chat (or a chat that needs a signed-in user)
    return session


def listed(document: StoredDocument) -> dict[str, Any]:
    return {
        "id": document.id,
        "name": document.name,
        "kind": document.kind,
        "pages": document.pages,
        "bytes": document.size,
        "chars": document.chars,
    }


async def list_documents(request: Request) -> JSONResponse:
    session = _session_of(request)
    if session is None:
        return _not_found()
    init_ws_context(session)  # as Chainlit's own routes for a session do
    store, owner = chat_documents()
    documents = await store.documents(owner) if store is not None else []
    return JSONResponse(
        {"documents": [listed(document) for document in documents]},
        headers={"Cache-Control": "no-store"},
    )


async def remove_document(request: Request) -> JSONResponse:
    session = _session_of(request)
    document_id = request.path_params["document"]
    if session is None or not AN_ID.match(document_id):
        return _not_found()
    init_ws_context(session)
    store, owner = chat_documents()
    removed = await store.remove(owner, document_id) if store is not None else None
    if removed is None:
        return _not_found()
    documents_changed()
    log.info("document %s removed from thread %s", removed.id, owner.thread_id)
    # The chat says so, also in its history: answers from here on are given without it.
    await notice(words().document_removed.format(file=shown_name(removed.name)))
    return JSONResponse({"removed": removed.name})


def mount_document_list(app: Starlette) -> None:
    """Once: `chainlit run -w` imports app.py again into a running server."""
    if any(getattr(route, "name", None) == "chat_documents" for route in app.router.routes):
        return
    app.router.routes.insert(0, Route(DOCUMENTS_PATH, list_documents, name="chat_documents"))
    app.router.routes.insert(
        0,
        Route(
            DOCUMENTS_PATH + "/{document}",
            remove_document,
            methods=["DELETE"],
            name="chat_document",
        ),
    )
