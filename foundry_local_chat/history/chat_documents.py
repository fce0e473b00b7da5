"""A Chainlit chat's documents: which store holds them and whose they are, for the session the
handler runs in. With history (a signed-in user and the data layer), the thread's and its user's
in the history database; without, the session's own store in memory, made with its first file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import chainlit as cl
from chainlit.data import get_data_layer
from chainlit.user import PersistedUser

from foundry_local_chat.chat.context_window import ContextWindow
from foundry_local_chat.chat.turn import Message
from foundry_local_chat.documents.context import (
    Decision,
    DocumentContext,
    ReadBudget,
    document_context,
)
from foundry_local_chat.documents.intake import Upload
from foundry_local_chat.documents.store import DocumentStore, Owner
from foundry_local_chat.errors import FoundryLocalChatError, one_line
from foundry_local_chat.history.data_layer import ChatDataLayer, is_outage
from foundry_local_chat.history.session_keys import SessionKey

STORE = SessionKey[DocumentStore]("documents")
# Whether this chat has documents: False for a new chat until a file is added, so a question
# costs no database query; unknown (unset) for a resumed chat until its first look-up.
HAS_DOCUMENTS = SessionKey[bool]("has_documents")
# How the chat's documents went with its last question (whole or as passages), kept while they
# are the same documents: what the endpoint has read of the conversation stays the same.
DECISION = SessionKey[Decision]("documents_decision")


class DocumentsUnreachable(FoundryLocalChatError):
    """The history database that holds this chat's documents cannot be reached."""


def start_without_documents() -> None:
    HAS_DOCUMENTS.set(False)


def documents_changed() -> None:
    """A document left the chat: whether it has any, and how they go with a question, are
    found again at its next question."""
    HAS_DOCUMENTS.set(None)
    DECISION.set(None)


def uploads(message: cl.Message) -> list[Upload]:
    """The files attached to a message, where Chainlit saved them."""
    return [
        Upload(element.name, Path(element.path) if element.path else None)
        for element in message.elements or []
    ]


def chat_documents() -> tuple[DocumentStore | None, Owner]:
    """The store of this chat's documents (None: a chat without history and no file yet)."""
    session = cl.context.session
    layer = get_data_layer()
    if isinstance(layer, ChatDataLayer) and isinstance(session.user, PersistedUser):
        return layer.documents, Owner(session.thread_id, session.user.id)
    store: DocumentStore | None = STORE.get()
    return store, Owner(session.thread_id)


async def documents_to_add() -> tuple[DocumentStore, Owner]:
    """Where this chat's new documents go: its thread (given its row first), or a new store in
    memory for a chat without history."""
    store, owner = chat_documents()
    layer = get_data_layer()
    HAS_DOCUMENTS.set(None)  # known again at the next look-up
    if isinstance(layer, ChatDataLayer) and store is layer.documents:
        return await layer.documents_of(owner), owner
    if store is None:
        store = await asyncio.to_thread(DocumentStore.in_memory)
        STORE.set(store)
    return store, owner


async def documents_for(
    question: Message,
    system_prompt: str,
    max_tokens: int,
    window: ContextWindow | None,
    budget: ReadBudget,
) -> DocumentContext | None:
    """What of this chat's documents goes with the question (None: it has none). Raises
    DocumentsUnreachable when the history database is down: the chat can go on without them."""
    store, owner = chat_documents()
    if store is None or HAS_DOCUMENTS.get() is False:
        return None
    before: Decision | None = DECISION.get()
    try:
        context = await document_context(
            store, owner, system_prompt, question, max_tokens, window, budget, before
        )
    except Exception as error:
        if not is_outage(error):
            raise
        raise DocumentsUnreachable(one_line(error)) from error
    HAS_DOCUMENTS.set(context is not None)
    if context is not None:
        DECISION.set((context.names, context.whole))
    return context
