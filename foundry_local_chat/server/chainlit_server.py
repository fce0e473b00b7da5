"""Chainlit's own server: socket.io message and upload limits, the folder of its files."""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import chainlit.config
import chainlit.server
import socketio
from chainlit.config import FeaturesSettings as ChainlitFeatures
from chainlit.context import init_ws_context
from chainlit.session import WebsocketSession

from foundry_local_chat.config import DocumentLimits

MAX_MESSAGE_BYTES = 16 * 1024**2


def accept_long_messages(sio: socketio.AsyncServer) -> None:
    """python-engineio's default limit (1 MB) closes the socket on a longer message without a
    word to the browser, so a long paste looks like a dead chat. Up to this size a message
    arrives, and one the model cannot read is refused in the chat with its size."""
    sio.eio.max_http_buffer_size = MAX_MESSAGE_BYTES


def limit_uploads(features: ChainlitFeatures, limits: DocumentLimits) -> None:
    """Chainlit's upload button and its /project/file route take the limits from the settings
    (DOCUMENT_MAX_FILES, DOCUMENT_MAX_MB); .chainlit/config.toml switches uploads on. The chat
    checks the limits again (a client may skip the button)."""
    uploads = features.spontaneous_file_upload
    if uploads is None or not uploads.enabled:
        raise RuntimeError(".chainlit/config.toml must switch features.spontaneous_file_upload on")
    uploads.max_files = limits.max_files
    uploads.max_size_mb = math.ceil(limits.max_mb)


def own_files_directory() -> Path:
    """Give this server its own folder for the files of its chats (elements, uploads).

    Chainlit keeps them in `<app root>/.files` and deletes that whole folder when it stops, so
    of two instances started from one checkout (scale-out on one machine), the first to stop
    takes the other's files with it, and its chats fail on their next element. Each instance
    gets a subfolder instead, which its own shutdown deletes. Chainlit reads the folder from
    these two module globals at use time; `chainlit run -w` keeps the folder it already has."""
    current = chainlit.config.FILES_DIRECTORY
    if current.name.startswith(INSTANCE_PREFIX):
        return current
    own = Path(tempfile.mkdtemp(prefix=INSTANCE_PREFIX, dir=chainlit.config.FILES_DIRECTORY))
    chainlit.config.FILES_DIRECTORY = own
    chainlit.server.FILES_DIRECTORY = own  # type: ignore[attr-defined]  # imported from config
    return own


INSTANCE_PREFIX = "instance-"


def stop_quietly(sio: socketio.AsyncServer) -> None:
    """Chainlit's stop handler first sends "Task manually stopped." (in English, and saved with
    the thread) under an answer whose speed line already says "stopped". The same handler
    without it: the chat itself says what was stopped, in the chat's language."""

    async def stop(sid: str) -> None:
        session = WebsocketSession.get(sid)
        if session is None:
            return
        init_ws_context(session)
        if session.current_task:
            session.current_task.cancel()
        if chainlit.config.config.code.on_stop:
            await chainlit.config.config.code.on_stop()

    sio.on("stop", stop)


EditHandler = Callable[[str, str], Awaitable[None]]
"""Handles the edit of a message of the chat (its id, its new text) in the chat's context."""


def edit_with(sio: socketio.AsyncServer, edit: EditHandler) -> None:
    """Chainlit's edit handler removes every message after the edited one, then answers it; the
    app's keeps them (as the question's earlier version) before it answers. The same event,
    between task_start and task_end as Chainlit's; the payload is checked before
    (socket_payloads.py)."""

    async def edit_message(sid: str, payload: dict[str, Any]) -> None:
        session = WebsocketSession.get(sid)
        if session is None:
            return
        context = init_ws_context(session)
        await context.emitter.task_start()
        try:
            await edit(payload["message"]["id"], payload["message"]["output"])
        except asyncio.CancelledError:  # stopped: the answer keeps what it had written
            pass
        finally:
            await context.emitter.task_end()

    sio.on("edit_message", edit_message)
