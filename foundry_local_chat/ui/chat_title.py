"""A new chat's title: after its first answer, when no answer is being written or waiting, the
model names the chat in a few words (chat/titles.py writes and cleans it, chat/idle_work.py
makes it give way to answers). It is stored with the thread, unless its user renamed the
thread first (history/data_layer.py), and the sidebars of the user's open tabs show it at once.

Only chats with history get one: without it there is no sidebar, and nothing keeps a name.
"""

from __future__ import annotations

import asyncio
import logging

import chainlit as cl
from chainlit.session import WebsocketSession
from chainlit.user import PersistedUser
from openai import OpenAIError

from foundry_local_chat.chat.backend import Backend
from foundry_local_chat.chat.idle_work import GaveWay, IdleWork
from foundry_local_chat.chat.titles import Title, language_of, title_from, write_title
from foundry_local_chat.history.data_layer import ChatDataLayer, history_layer
from foundry_local_chat.models.facts import facts_for
from foundry_local_chat.ui.thread_tabs import ThreadTabs, send, user_of

log = logging.getLogger(__name__)

TITLE_PENDING_KEY = "title_pending"  # a new chat's, until its first answer starts its title
_MAKING: set[asyncio.Task[Title | None]] = set()  # titles being made, kept from the collector


def expect_a_title() -> None:
    """A new chat (not a resumed one) gets a title after its first answer."""
    cl.user_session.set(TITLE_PENDING_KEY, True)


def title_after_answer(
    question: str, backend: Backend, model: str, idle: IdleWork, tabs: ThreadTabs
) -> asyncio.Task[Title | None] | None:
    """Called after an answer was given: the first of a new chat with history starts its title
    in the background (the turn does not wait for it). The task, or None."""
    session = cl.context.session
    layer = history_layer()
    if not cl.user_session.get(TITLE_PENDING_KEY) or layer is None:
        return None
    if not isinstance(session, WebsocketSession) or not isinstance(session.user, PersistedUser):
        return None
    cl.user_session.set(TITLE_PENDING_KEY, False)
    making = asyncio.create_task(
        _title(layer, session, session.user.id, question, backend, model, idle, tabs)
    )
    _MAKING.add(making)
    making.add_done_callback(_MAKING.discard)
    return making


async def _title(
    layer: ChatDataLayer,
    session: WebsocketSession,
    user_id: str,
    question: str,
    backend: Backend,
    model: str,
    idle: IdleWork,
    tabs: ThreadTabs,
) -> Title | None:
    thread_id = session.thread_id
    written = await _written(question, backend, model, idle)
    title = title_from(written, question)
    try:
        named = await layer.title_thread(thread_id, user_id, title.text)
    except Exception as error:  # the history database is down: the thread keeps its name
        log.warning("could not store the chat's title: %s", error)
        return None
    if not named:
        log.info("thread %s was renamed (or deleted) before its title: left as it is", thread_id)
        return None
    log.info(
        "thread %s titled %s (%d characters)",
        thread_id,
        "by the model" if title.by_model else "with its first message",
        len(title.text),
    )
    if title.text != question:
        await _show_in_sidebars(tabs, user_of(session), title)
    return title


async def _written(question: str, backend: Backend, model: str, idle: IdleWork) -> str | None:
    """What the model wrote, or None: it writes no such language, gave way to answers every
    time it was tried, or failed."""
    if facts_for(model).writes(language_of(question)) is False:
        return None  # the bundled model and a Korean chat: the first message names it
    try:
        return await idle.when_idle(lambda: write_title(backend.client, model, question))
    except GaveWay:
        log.info("the chat's title gave way to answers every time: its first message names it")
    except (OpenAIError, OSError) as error:
        log.warning("the model could not write the chat's title: %s", error)
    return None


async def _show_in_sidebars(tabs: ThreadTabs, owner: str | None, title: Title) -> None:
    """Every open tab of the user lists the chats again, with the new title. Chainlit's page
    fetches the list when a chat's first interaction is announced; a tab is told its own
    thread, and only a tab whose chat has begun (a new one would navigate to it)."""
    for tab in tabs.of_user(owner):
        if not tab.has_first_interaction:
            continue
        try:
            await send(
                tab,
                "first_interaction",
                {"interaction": f"title: {title.text}", "thread_id": tab.thread_id},
            )
        except Exception as error:  # a tab that is going away
            log.info("could not refresh a sidebar: %s", error)
