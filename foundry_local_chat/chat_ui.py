"""How a chat looks in Chainlit: notices, progress, the settings panel, and a streamed answer
with its thinking step and speed line. The handlers in app.py decide what to do; this module
only shows it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import chainlit as cl
from chainlit.input_widget import Select, Slider, Switch, TextInput

from foundry_local_chat.backend import Backend, BackendResolver
from foundry_local_chat.chat import (
    REPLY_MODEL_KEY,
    ChatError,
    ChatOptions,
    ReplyStats,
    stream_reply,
)
from foundry_local_chat.chat_settings import MAX_TOKENS_RANGE, TEMPERATURE_RANGE
from foundry_local_chat.thinking import ThinkSplitter
from foundry_local_chat.ui_text import Words, words_for

log = logging.getLogger(__name__)


def words() -> Words:
    """The app's words in this chat's language (the browser's, as Chainlit detected it)."""
    return words_for(cl.context.session.language)


async def notice(content: str) -> cl.Message:
    """A message from the app itself: shown in the chat, never sent to the model (see turn_role)."""
    message = cl.Message(content=content, author="Foundry Local Chat")
    await message.send()
    return message


async def show_progress_while(
    backends: BackendResolver, work: asyncio.Future[Any] | asyncio.Task[Any], title: str
) -> None:
    """Show the runtime's stage (and percent while downloading) in the chat until work is done."""
    status = await notice(f"{title}…")
    changed = asyncio.Event()
    unsubscribe = backends.on_progress(lambda stage, percent: changed.set())
    try:
        while not work.done():
            stage, percent = backends.last_progress
            status.content = f"{title}: {stage}" + (
                f" {percent:.0f}%" if percent is not None else "…"
            )
            await status.update()
            changed.clear()
            next_change = asyncio.ensure_future(changed.wait())
            await asyncio.wait({work, next_change}, return_when=asyncio.FIRST_COMPLETED)
            next_change.cancel()
    finally:
        unsubscribe()
    await status.remove()


async def send_settings_panel(options: ChatOptions, served: list[str]) -> None:
    models = served if options.model in served else [options.model, *served]
    said = words()
    await cl.ChatSettings(
        [
            Select(id="model", label=said.model, values=models, initial_value=options.model),
            TextInput(
                id="system_prompt",
                label=said.system_prompt,
                initial=options.system_prompt,
                multiline=True,
            ),
            Slider(
                id="temperature",
                label=said.temperature,
                initial=options.temperature,
                min=TEMPERATURE_RANGE[0],
                max=TEMPERATURE_RANGE[1],
                step=0.1,
            ),
            Slider(
                id="max_tokens",
                label=said.max_tokens,
                initial=options.max_tokens,
                min=MAX_TOKENS_RANGE[0],
                max=MAX_TOKENS_RANGE[1],
                step=16,
            ),
            Switch(id="streaming", label=said.stream_the_answer, initial=options.streaming),
        ]
    ).send()


async def reply_with(
    backend: Backend, options: ChatOptions, messages: list[dict[str, str]]
) -> None:
    reply = cl.Message(content="", author=options.model, metadata={REPLY_MODEL_KEY: options.model})
    thinking: cl.Step | None = None
    splitter = ThinkSplitter()
    stats = ReplyStats(model=options.model)
    tokens = stream_reply(backend.client, options, messages, stats)

    async def show(parts: Any) -> None:
        nonlocal thinking
        for kind, text in parts:
            if kind == "answer" and not options.streaming:
                reply.content += text  # shown whole by finish(), as the user asked
                continue
            if kind == "answer":
                await reply.stream_token(text)
                continue
            if thinking is None:
                thinking = cl.Step(name=words().thinking, type="tool", show_input=False)
                await thinking.send()
            await thinking.stream_token(text)

    try:
        async with contextlib.aclosing(tokens):
            async for token in tokens:
                await show(splitter.feed(token))
        await show(splitter.flush())
    except ChatError as error:
        log.warning("chat request failed: %s", error, exc_info=error.__cause__)
        await reply.stream_token("\n\n" + words().answer_cut_short.format(error=error))
    except asyncio.CancelledError:
        # Stop pressed: keep what was streamed (the request is already closed by aclosing).
        stats.stopped = True
        reply.metadata["stopped"] = True
        if reply.content:
            await finish(reply, thinking, stats, backend)
        raise
    await finish(reply, thinking, stats, backend)


async def finish(
    reply: cl.Message, thinking: cl.Step | None, stats: ReplyStats, backend: Backend
) -> None:
    if thinking is not None:
        await thinking.update()
    said = words()
    summary = stats.summary(said)
    reply.metadata["stats"] = summary
    reply.metadata["backend"] = backend.kind
    reply.elements = [
        cl.CustomElement(
            name="AnswerStats",
            props={
                "summary": summary,
                "backend": backend.kind,
                "stopped": stats.stopped,
                "title": said.answered_by.format(backend=backend.kind),
            },
            display="inline",
        )
    ]
    await reply.send()
