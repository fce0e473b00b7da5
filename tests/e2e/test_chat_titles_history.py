"""A chat's title in the history database (SQLite and PostgreSQL), without a server: it is
stored with the thread, once, unless its user renamed the thread."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from chainlit.context import ChainlitContext, context_var
from chainlit.session import HTTPSession
from chainlit.user import PersistedUser

from foundry_local_chat.history.data_layer import ChatDataLayer
from foundry_local_chat.history.ownership import ActingUser, acting_as
from tests.support.history import user_named


@contextlib.contextmanager
def in_a_request_of(user: PersistedUser) -> Iterator[None]:
    """As a route runs for a signed-in user (the sidebar's rename is one)."""
    token = context_var.set(ChainlitContext(HTTPSession(id="s", client_type="webapp")))
    try:
        with acting_as(ActingUser(user.identifier, user.id)):
            yield
    finally:
        context_var.reset(token)


async def name_of(layer: ChatDataLayer, thread_id: str) -> str | None:
    thread = await layer.get_thread(thread_id)
    assert thread is not None
    return thread["name"]


async def test_a_title_is_stored_with_the_thread_once(layer: ChatDataLayer) -> None:
    alice = await user_named(layer, "alice")
    thread_id = str(uuid.uuid4())
    # Chainlit names a new thread after its first message.
    await layer.update_thread(thread_id, name="Can you plan a trip to Kyoto?", user_id=alice.id)
    assert await layer.title_thread(thread_id, alice.id, "Planning a trip to Kyoto")
    assert await name_of(layer, thread_id) == "Planning a trip to Kyoto"
    [listed] = await layer.get_all_user_threads(user_id=alice.id) or []
    assert listed["name"] == "Planning a trip to Kyoto"
    assert not await layer.title_thread(thread_id, alice.id, "Another title"), "titled twice"


async def test_a_rename_is_never_overwritten_by_a_title(layer: ChatDataLayer) -> None:
    alice = await user_named(layer, "alice")
    thread_id = str(uuid.uuid4())
    await layer.update_thread(thread_id, name="What is the capital of France?", user_id=alice.id)
    with in_a_request_of(alice):  # renamed to the very name it had: still the user's choice
        await layer.update_thread(thread_id, name="What is the capital of France?")
    assert not await layer.title_thread(thread_id, alice.id, "Capital of France")
    assert await name_of(layer, thread_id) == "What is the capital of France?"


async def test_a_title_goes_to_its_users_thread_only(layer: ChatDataLayer) -> None:
    alice, bob = await user_named(layer, "alice"), await user_named(layer, "bob")
    thread_id = str(uuid.uuid4())
    await layer.update_thread(thread_id, name="Alice's question", user_id=alice.id)
    assert not await layer.title_thread(thread_id, bob.id, "Bob's title")
    assert not await layer.title_thread(str(uuid.uuid4()), alice.id, "No such thread")
    assert await name_of(layer, thread_id) == "Alice's question"
