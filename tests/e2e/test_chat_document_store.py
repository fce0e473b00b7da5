"""A document removed from a chat in the history database (SQLite and PostgreSQL), without a
server: from its own chat only, with its passages, and the size it was attached with is kept."""

from __future__ import annotations

import uuid

from foundry_local_chat.documents.chunking import chunk
from foundry_local_chat.documents.extract import extract
from foundry_local_chat.documents.store import Owner
from foundry_local_chat.history.data_layer import ChatDataLayer
from tests.support.history import user_named


async def test_a_document_is_removed_from_its_own_chat_only(layer: ChatDataLayer) -> None:
    alice, bob = await user_named(layer, "alice"), await user_named(layer, "bob")
    thread_id = str(uuid.uuid4())
    owner = Owner(thread_id, alice.id)
    store = await layer.documents_of(owner)
    notes = extract("notes.md", b"# Garden\n\nThe roses bloom in June.\n")
    recipes = extract("recipes.md", b"The plum cake needs seventeen plums.")
    kept = await store.add(owner, notes, chunk(notes), size=38)
    removed = await store.add(owner, recipes, chunk(recipes), size=36)
    assert [(d.name, d.size) for d in await store.documents(owner)] == [
        ("notes.md", 38),
        ("recipes.md", 36),
    ]

    for someone_else in (Owner(thread_id, bob.id), Owner(str(uuid.uuid4()), alice.id)):
        assert await store.remove(someone_else, removed.id) is None
    assert len(await store.documents(owner)) == 2

    gone = await store.remove(owner, removed.id)
    assert gone is not None and gone.name == "recipes.md"
    assert [d.id for d in await store.documents(owner)] == [kept.id]
    assert await store.search(owner, "How many plums does the cake need?", 5) == []
    assert "plums" not in str(await store.passages(owner))
    assert await store.remove(owner, removed.id) is None  # once
