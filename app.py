"""Chainlit handlers only: everything else lives in the foundry_local_chat package."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

import chainlit as cl
from chainlit.types import ThreadDict
from starlette.datastructures import Headers

from foundry_local_chat.auth import Access, AuthError
from foundry_local_chat.backend import Backend, BackendResolver, BackendUnavailable
from foundry_local_chat.chat import (
    REPLY_MODEL_KEY,
    ChatError,
    ReplyStats,
    build_messages,
    stream_reply,
    turn_role,
)
from foundry_local_chat.config import ConfigError, Settings
from foundry_local_chat.database import DatabaseError
from foundry_local_chat.persistence import (
    HISTORY_OFF_NOTICE,
    ChatDataLayer,
    start_history,
    wait_for_saves,
)
from foundry_local_chat.progress import terminal_progress

log = logging.getLogger("foundry_local_chat.app")

try:
    settings = Settings.from_env()
except ConfigError as error:
    raise SystemExit(f"configuration error: {error}") from None

# Sign-in and history are decided once, here: Chainlit checks its auth secret after this import.
try:
    access = Access.from_settings(settings)
    start_history(settings, access, os.environ)
except (AuthError, DatabaseError) as error:
    raise SystemExit(f"error: {error}") from None

# Process-wide: one Foundry Local runtime per server process.
# Per-chat state lives in cl.user_session, never in module globals.
backends = BackendResolver(settings)
backends.on_progress(terminal_progress())
_startup_tasks: set[asyncio.Task[None]] = set()


async def notice(content: str) -> cl.Message:
    """A message from the app itself: shown in the chat, never sent to the model (see turn_role)."""
    message = cl.Message(content=content, author="Foundry Local Chat")
    await message.send()
    return message


@cl.on_app_startup
async def start_local_endpoint() -> None:
    # In the background, so the UI is up while a catalog model downloads; chats wait for it.
    task = asyncio.create_task(backends.start())
    _startup_tasks.add(task)
    task.add_done_callback(_startup_tasks.discard)


@cl.on_app_shutdown
async def stop_local_endpoint() -> None:
    await asyncio.to_thread(backends.stop)


async def show_start_progress() -> None:
    """While Foundry Local starts, show its stage (and percent while downloading) in the chat."""
    if backends.started:
        return
    status = await notice("Starting Foundry Local…")
    changed = asyncio.Event()
    unsubscribe = backends.on_progress(lambda stage, percent: changed.set())
    try:
        while not backends.started:
            stage, percent = backends.last_progress
            status.content = f"Starting Foundry Local: {stage}" + (
                f" {percent:.0f}%" if percent is not None else "…"
            )
            await status.update()
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=1.0)
    finally:
        unsubscribe()
    await status.remove()


async def connect() -> Backend | None:
    try:
        backend = await backends.backend()
    except BackendUnavailable as error:
        await notice(f"**No model server is available.** {error}")
        return None
    cl.user_session.set("backend", backend)
    cl.user_session.set("client", backend.client())
    return backend


@cl.on_chat_start
async def start_chat() -> None:
    await show_start_progress()
    backend = await connect()
    if backend is not None:
        await notice(
            f"Connected to **{backend.kind}** at `{backend.base_url}` with model `{backend.model}`."
        )
    if not access.enabled:
        await notice(HISTORY_OFF_NOTICE)


@cl.on_message
@wait_for_saves  # the turn ends (task_end) once what it said is saved
async def answer(message: cl.Message) -> None:
    backend: Backend | None = cl.user_session.get("backend") or await connect()
    if backend is None:
        return
    history = [
        {"role": role, "content": m.content}
        for m in cl.chat_context.get()
        if (role := turn_role(m.type, m.metadata))
    ]
    messages = build_messages(settings.system_prompt, history)
    reply = cl.Message(content="", author=backend.model, metadata={REPLY_MODEL_KEY: backend.model})
    stats = ReplyStats(model=backend.model)
    tokens = stream_reply(
        cl.user_session.get("client"), backend.model, messages, settings.generation, stats
    )
    try:
        async with contextlib.aclosing(tokens):
            async for token in tokens:
                await reply.stream_token(token)
    except ChatError as error:
        log.warning("chat request failed: %s", error, exc_info=error.__cause__)
        await reply.stream_token(f"\n\n⚠️ The answer was cut short: {error}.")
    except asyncio.CancelledError:
        # Stop pressed: keep what was streamed; the request is already closed by aclosing.
        if reply.content:
            reply.metadata["stopped"] = True
            await reply.send()
        raise
    reply.metadata["stats"] = stats.summary()
    await reply.send()


@cl.on_chat_end
async def end_chat() -> None:
    client = cl.user_session.get("client")
    if client is not None:
        await client.close()


# ----- sign-in and history (see foundry_local_chat.auth and .persistence) -----


@cl.data_layer
def history() -> ChatDataLayer | None:
    # None: no history, and no fallback to Chainlit's own DATABASE_URL data layer either.
    return ChatDataLayer(settings.database_url) if access.enabled else None


if access.password_login:

    @cl.password_auth_callback
    async def sign_in(username: str, password: str) -> cl.User | None:
        name = await asyncio.to_thread(access.check_password, username, password)
        return cl.User(identifier=name, metadata={"sign_in": "password"}) if name else None


if access.header:

    @cl.header_auth_callback
    async def sign_in_from_proxy(headers: Headers) -> cl.User | None:
        name = access.user_from_headers(headers)
        return cl.User(identifier=name, metadata={"sign_in": "header"}) if name else None


@cl.on_chat_resume
async def resume_chat(thread: ThreadDict) -> None:
    """Chainlit has put the thread's messages back into cl.chat_context (steps keep their
    metadata, so turn_role still knows answers from notices) and its metadata back into the
    session (user session, chat settings, chat profile); only the model client is new."""
    await show_start_progress()
    await connect()
