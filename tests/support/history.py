"""Rows of the chat history, made for a test."""

from __future__ import annotations

from chainlit.user import PersistedUser, User

from foundry_local_chat.history.data_layer import ChatDataLayer


async def user_named(layer: ChatDataLayer, name: str) -> PersistedUser:
    user = await layer.create_user(User(identifier=name))
    assert user is not None
    return user
