"""The routes that move a chat in and out of the history: its export as a file, and the import of
an exported JSON file as a new chat.

    GET  /chat-transfer/export/{thread id}?format=md|json[&lang=ko]   the file, as a download
    POST /chat-transfer/import[?lang=ko]   body: the JSON file → 201 {"thread_id", "name"}

Both answer a signed-in user only (401 otherwise), and only with history on (404 otherwise).
A chat is exported for its owner only: another user's thread id, or one that does not exist, is
a 404, as everywhere in the history (history/ownership.py). The import writes a new thread of
the importer, all of it or nothing (history/new_thread.py), after the file was checked
(history/export.py); a refusal is a 422 whose `detail` says why in the user's language.

In front of them, as of every route: the origin guard (a foreign web page's request, which
carries its `Origin`, is refused), the session guard and the body limit. A page of another
origin can still make the browser load a URL without `Origin` (a link, an <img>, a <script>)
and with the cookie (SameSite=lax: same site, or a top-level navigation): browsers say so in
`Sec-Fetch-Site`, and such a request is refused here (403), so a chat is only ever downloaded
from the app's own pages, or by a program (which sends no such header). The import also wants
`Content-Type: application/json`, which no plain form or no-cors request can send.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from chainlit.types import ThreadDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from foundry_local_chat.documents.store import ListedDocument, Owner
from foundry_local_chat.history.data_layer import ChatDataLayer, history_layer
from foundry_local_chat.history.export import (
    MAX_IMPORT_BYTES,
    ChatExport,
    ImportProblem,
    ImportRefused,
    export_json,
    parse_chat_export,
)
from foundry_local_chat.history.new_thread import ThreadNotSaved, save_new_thread
from foundry_local_chat.history.ownership import NOT_FOUND, ActingUser, acting_user
from foundry_local_chat.ui.chat_export import chat_export, chat_markdown
from foundry_local_chat.ui.chat_import import imported_thread, why_not_imported
from foundry_local_chat.ui.texts import Words, words_for

log = logging.getLogger(__name__)

EXPORT_PATH = "/chat-transfer/export/{thread_id}"
IMPORT_PATH = "/chat-transfer/import"
FORMATS = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}
NOT_SIGNED_IN = "Not authenticated"
NOT_FROM_THIS_APP = "This route answers the app's own pages only."
UNKNOWN_FORMAT = "format must be md or json."
HISTORY_UNREADABLE = "The chat history cannot be read now; try again."
FOREIGN_FETCH_SITES = ("cross-site", "same-site")  # same-site: another port of this host
PRIVATE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _answer(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=PRIVATE)


def _words(request: Request) -> Words:
    """The user's language: the page's (`lang`), else the browser's first."""
    code = request.query_params.get("lang") or request.headers.get("accept-language", "")
    return words_for(code.split(",")[0].strip())


def _refusal(request: Request) -> tuple[ChatDataLayer, ActingUser] | Response:
    """The history and the signed-in user the request is for, or the answer that refuses it."""
    site = request.headers.get("sec-fetch-site", "")
    if site in FOREIGN_FETCH_SITES and "origin" not in request.headers:
        log.warning("refused %s %s: loaded by a page of another origin (Sec-Fetch-Site: %s)",
                    request.method, request.url.path, site)  # fmt: skip
        return _answer(403, NOT_FROM_THIS_APP)
    layer = history_layer()
    if layer is None:  # history is off: there are no chats to move
        return _answer(404, NOT_FOUND)
    user = acting_user()  # set from a valid session token (ownership.ActingUserMiddleware)
    if user is None:
        return _answer(401, NOT_SIGNED_IN)
    return layer, user


# -- export ----------------------------------------------------------------------------------------


_UNSAFE_IN_NAMES = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029/\\:*?"<>|]')
_RESERVED_NAMES = {"con", "prn", "aux", "nul"} | {
    f"{port}{number}" for port in ("com", "lpt") for number in range(10)
}  # Windows
MAX_NAME_CHARS = 80
MAX_NAME_BYTES = 180  # with the suffix well within the 255 bytes of most file systems


def file_name(title: str, suffix: str, fallback: str) -> str:
    """A name any file system takes: no path, no control, bidirectional or invisible characters, no
    characters Windows refuses, no leading dot, not too long; the title's letters kept."""
    visible = "".join(c for c in title if unicodedata.category(c) != "Cf")  # bidi, zero-width
    name = _UNSAFE_IN_NAMES.sub("_", visible)
    name = " ".join(name.split())[:MAX_NAME_CHARS]
    while len(name.encode()) > MAX_NAME_BYTES:
        name = name[:-1]
    name = name.strip(" ._")
    if not name or name.split(".")[0].lower() in _RESERVED_NAMES:
        name = fallback
    return f"{name}.{suffix}"


def content_disposition(name: str, fallback: str) -> str:
    """`attachment` with the name twice (RFC 6266): `filename*` in UTF-8 (RFC 8187, which
    browsers use), and `filename` in plain ASCII for the others (`fallback` when the name has
    too few ASCII letters to mean anything)."""
    stem, _, suffix = name.rpartition(".")
    plain = re.sub(r"[^\x20-\x7e]|[\"\\%;]", "_", stem)
    if sum(c.isalnum() for c in plain) < max(1, len(stem) // 2):
        plain = fallback
    encoded = quote(name, safe="!#$&+-.^_`|~")
    return f"attachment; filename=\"{plain}.{suffix}\"; filename*=UTF-8''{encoded}"


async def _thread(layer: ChatDataLayer, thread_id: str, user: ActingUser) -> ThreadDict | Response:
    """The user's thread: the data layer reads it for the acting user only (and says None when
    the database could not be read)."""
    found = await layer.get_all_user_threads(thread_id=thread_id)
    if found is None:
        return _answer(503, HISTORY_UNREADABLE)
    thread = next((t for t in found if t["id"] == thread_id), None)
    if thread is None or thread.get("userIdentifier") != user.identifier:
        return _answer(404, NOT_FOUND)
    return thread


def _written(
    thread: ThreadDict,
    documents: list[ListedDocument],
    top_p: float,
    suffix: str,
    user: ActingUser,
    said: Words,
) -> tuple[ChatExport, bytes]:
    chat = chat_export(thread, documents, top_p)
    if suffix == "json":
        return chat, export_json(chat)
    return chat, chat_markdown(chat, user.identifier, said).encode()


def export_route(top_p: float) -> Callable[[Request], Awaitable[Response]]:
    async def export_chat(request: Request) -> Response:
        checked = _refusal(request)
        if isinstance(checked, Response):
            return checked
        layer, user = checked
        suffix = request.query_params.get("format", "")
        if suffix not in FORMATS:
            return _answer(400, UNKNOWN_FORMAT)
        thread = await _thread(layer, request.path_params["thread_id"], user)
        if isinstance(thread, Response):
            return thread
        owner = Owner(thread["id"], thread.get("userId") or "")
        try:
            documents = await layer.documents.listed(owner)
        except Exception as error:
            log.error("exporting a chat: its documents cannot be read: %s", error)
            return _answer(503, HISTORY_UNREADABLE)
        said = _words(request)
        # A long chat takes a moment to write out (16 MB: about 0.1 s): not on the event loop.
        chat, body = await asyncio.to_thread(_written, thread, documents, top_p, suffix, user, said)
        fallback = f"chat-{chat.created_at:%Y-%m-%d}"
        name = file_name(chat.title, suffix, fallback)
        headers = {**PRIVATE, "Content-Disposition": content_disposition(name, fallback)}
        return Response(body, media_type=FORMATS[suffix], headers=headers)

    return export_chat


# -- import ----------------------------------------------------------------------------------------


async def _body(request: Request, limit: int) -> bytes | None:
    """The request's body; None once it is larger than `limit` bytes (the rest is not read)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind == "application/json"


async def import_chat(request: Request) -> Response:
    checked = _refusal(request)
    if isinstance(checked, Response):
        return checked
    layer, user = checked
    said = _words(request)
    if not _is_json(request.headers.get("content-type", "")):
        return _answer(415, said.import_refused.format(reason=said.import_needs_json))
    body = await _body(request, MAX_IMPORT_BYTES)
    try:
        if body is None:
            raise ImportRefused(ImportProblem.TOO_LARGE, limit=MAX_IMPORT_BYTES)
        chat = await asyncio.to_thread(parse_chat_export, body)
    except ImportRefused as refused:
        log.info("refused a chat file of %s: %s", user.identifier, refused)
        status = 413 if refused.problem == ImportProblem.TOO_LARGE else 422
        return _answer(status, why_not_imported(refused, said))
    persisted = await layer.get_user(user.identifier)
    if persisted is None:  # signed in, so Chainlit made the row; a database that lost it
        return _answer(503, HISTORY_UNREADABLE)
    new = imported_thread(chat, ActingUser(user.identifier, persisted.id), said)
    try:
        await save_new_thread(layer.engine, new)
    except ThreadNotSaved as error:
        log.error("importing a chat for %s failed: %s", user.identifier, error)
        reason = said.import_not_saved.format(reason=f"“{error}”")
        return _answer(503, said.import_refused.format(reason=reason))
    log.info("imported a chat of %d messages for %s as thread %s",
             len(chat.messages), user.identifier, new.id)  # fmt: skip
    return JSONResponse(
        {"thread_id": new.id, "name": new.thread["name"]}, status_code=201, headers=PRIVATE
    )


def mount_chat_transfer(app: Starlette, top_p: float) -> None:
    """In front of Chainlit's catch-all page route; once (`chainlit run -w` imports app.py again
    into the running server). `top_p`: what answers are sent with (the export names it)."""
    if any(getattr(route, "name", None) == "chat_export" for route in app.router.routes):
        return
    app.router.routes[0:0] = [
        Route(EXPORT_PATH, export_route(top_p), methods=["GET"], name="chat_export"),
        Route(IMPORT_PATH, import_chat, methods=["POST"], name="chat_import"),
    ]
