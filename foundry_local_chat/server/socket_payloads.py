"""The chat's socket.io events, checked before Chainlit's handlers see them.

Chainlit's handlers index what a client sends without looking (`payload["message"]["id"]`), so
a malformed payload showed Python's exception text in the chat ("string indices must be
integers"), and one with no payload at all raised before the chat was told anything (the
browser waited in silence). Each handler Chainlit registers is wrapped here: a payload of the
wrong shape gets one short notice in the chat's language, between task_start and task_end like
any answer, and never reaches Chainlit; events that take no payload ignore one that is sent. A
connection whose handshake (`auth`) is malformed is refused with the reason, as socket.io
refuses one (before, Chainlit raised on it and the client was left waiting).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import socketio
from chainlit.chat_context import chat_context
from chainlit.context import init_ws_context
from chainlit.message import ErrorMessage
from chainlit.session import WebsocketSession

from foundry_local_chat.ui.chat_view import APP_AUTHOR
from foundry_local_chat.ui.texts import words_for

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]
Check = Callable[[tuple[Any, ...]], str | None]  # the payload's problem, or None
OPTIONAL_STEP_TEXT = ("name", "parentId", "command", "language", "threadId")


def _uuid4(value: object) -> bool:
    try:
        return isinstance(value, str) and uuid.UUID(value).version == 4
    except ValueError:
        return False


def _one_dict(args: tuple[Any, ...]) -> tuple[dict[str, Any] | None, str | None]:
    if len(args) != 1:
        return None, f"{len(args)} arguments instead of 1"
    if not isinstance(args[0], dict):
        return None, f"a {type(args[0]).__name__} instead of an object"
    return args[0], None


def _step_problem(step: object, *, sent: bool) -> str | None:
    """What is wrong with a message (a step dict) from the browser; `sent`: a new message."""
    if not isinstance(step, dict):
        return "no message object"
    if not _uuid4(step.get("id")):
        return "the message id is not a UUID4"
    if not isinstance(step.get("output"), str):
        return "the message text is not a string"
    if not sent:
        return None
    if not isinstance(step.get("createdAt"), str):
        return "no createdAt"
    if step.get("type", "user_message") != "user_message":
        return "a message of another type than user_message"
    if not isinstance(step.get("metadata") or {}, dict):
        return "metadata is not an object"
    if not isinstance(step.get("modes") or {}, dict):
        return "modes is not an object"
    for key in OPTIONAL_STEP_TEXT:
        if not isinstance(step.get(key) or "", str):
            return f"{key} is not a string"
    return None


def client_message(args: tuple[Any, ...]) -> str | None:
    payload, problem = _one_dict(args)
    if payload is None:
        return problem
    if problem := _step_problem(payload.get("message"), sent=True):
        return problem
    references = payload.get("fileReferences") or []
    if not isinstance(references, list) or not all(
        isinstance(reference, dict) and isinstance(reference.get("id"), str)
        for reference in references
    ):
        return "fileReferences is not a list of {id}"
    return None


def edit_message(args: tuple[Any, ...]) -> str | None:
    payload, problem = _one_dict(args)
    if payload is None:
        return problem
    if problem := _step_problem(payload.get("message"), sent=False):
        return problem
    edited = [m for m in chat_context.get() if m.id == payload["message"]["id"]]
    if not edited:
        return "no message of this chat has that id"
    if edited[0].type != "user_message":
        return "only a question can be edited"
    return None


def message_favorite(args: tuple[Any, ...]) -> str | None:
    payload, problem = _one_dict(args)
    if payload is None:
        return problem
    step = payload.get("message")
    if not isinstance(step, dict) or not isinstance(step.get("id"), str):
        return "no message id"
    if not isinstance(step.get("metadata") or {}, dict):
        return "metadata is not an object"
    return None


def settings_values(args: tuple[Any, ...]) -> str | None:
    return _one_dict(args)[1]


def one_value(args: tuple[Any, ...]) -> str | None:
    return None if len(args) == 1 else f"{len(args)} arguments instead of 1"


def audio_chunk(args: tuple[Any, ...]) -> str | None:
    payload, problem = _one_dict(args)
    if payload is None:
        return problem
    shape = {"isStart": bool, "mimeType": str, "elapsedTime": int | float, "data": bytes}
    if set(payload) != set(shape) or not all(
        isinstance(payload[key], kind) for key, kind in shape.items()
    ):
        return "not an audio chunk"
    return None


CHECKS: Mapping[str, Check] = {
    "client_message": client_message,
    "edit_message": edit_message,
    "message_favorite": message_favorite,
    "chat_settings_change": settings_values,
    "chat_settings_edit": settings_values,
    "audio_chunk": audio_chunk,
    "window_message": one_value,
}
NO_PAYLOAD = (
    "connection_successful", "clear_session", "stop", "audio_start", "audio_end",
    "fetch_favorites",
)  # fmt: skip


async def tell_malformed(session: WebsocketSession, event: str, problem: str) -> None:
    log.warning("refused a malformed %s from chat %s: %s", event, session.id, problem)
    context = init_ws_context(session)
    said = words_for(session.language)
    notice = ErrorMessage(content=said.malformed_payload, author=APP_AUTHOR)
    await context.emitter.task_start()
    try:
        # Shown, not saved: nothing of the chat changed.
        await context.emitter.send_step(notice.to_dict())
    finally:
        await context.emitter.task_end()


def handshake_problem(auth: object) -> str | None:
    """What is wrong with the `auth` of a socket.io connection (Chainlit reads it unchecked)."""
    if not isinstance(auth, dict):
        return "no auth object"
    if not isinstance(auth.get("sessionId"), str) or not auth["sessionId"]:
        return "no sessionId"
    if not isinstance(auth.get("clientType"), str):
        return "no clientType"
    for key in ("threadId", "chatProfile", "userEnv"):
        if not isinstance(auth.get(key) or "", str):
            return f"{key} is not a string"
    try:
        user_env = json.loads(auth.get("userEnv") or "{}")
    except ValueError:
        return "userEnv is not JSON"
    return None if isinstance(user_env, dict) else "userEnv is not a JSON object"


def checked_connect(handler: Handler) -> Handler:
    async def connect(sid: str, environ: dict[str, Any], auth: object = None) -> Any:
        if (problem := handshake_problem(auth)) is not None:
            log.warning("refused a socket.io connection with a malformed handshake: %s", problem)
            raise socketio.exceptions.ConnectionRefusedError(f"malformed handshake: {problem}")
        return await handler(sid, environ, auth)

    connect.guarded = True  # type: ignore[attr-defined]
    return connect


def checked(event: str, handler: Handler, check: Check) -> Handler:
    async def checked_handler(sid: str, *args: Any) -> Any:
        session = WebsocketSession.get(sid)
        if session is None:  # not connected through Chainlit's connect: nothing to answer
            return None
        init_ws_context(session)  # edit_message's check reads the chat's messages
        if (problem := check(args)) is None:
            return await handler(sid, *args)
        await tell_malformed(session, event, problem)
        return None

    checked_handler.guarded = True  # type: ignore[attr-defined]
    return checked_handler


def without_payload(handler: Handler) -> Handler:
    async def handler_of_sid(sid: str, *_ignored: Any) -> Any:
        return await handler(sid)

    handler_of_sid.guarded = True  # type: ignore[attr-defined]
    return handler_of_sid


def check_socket_payloads(sio: socketio.AsyncServer) -> None:
    """Wrap Chainlit's handlers (registered when chainlit.socket was imported). `chainlit run
    -w` imports app.py again: handlers already wrapped stay as they are."""
    handlers: dict[str, Handler] = sio.handlers["/"]
    for event, handler in list(handlers.items()):
        if getattr(handler, "guarded", False):
            continue
        if event == "connect":
            handlers[event] = checked_connect(handler)
        elif event in CHECKS:
            handlers[event] = checked(event, handler, CHECKS[event])
        elif event in NO_PAYLOAD:
            handlers[event] = without_payload(handler)
