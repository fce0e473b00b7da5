"""Typed keys of a chat's Chainlit session (`cl.user_session`): each module declares the keys it
keeps there with their type, so a read says what it gets and a misspelt key is a name error."""

from __future__ import annotations

from typing import Generic, TypeVar

import chainlit as cl

T = TypeVar("T")


class SessionKey(Generic[T]):
    def __init__(self, name: str) -> None:
        self.name = name

    def get(self) -> T | None:
        value: T | None = cl.user_session.get(self.name)
        return value

    def set(self, value: T | None) -> None:
        cl.user_session.set(self.name, value)

    def __repr__(self) -> str:
        return f"SessionKey({self.name!r})"


# Chainlit's own: the chat profile the user picked.
CHAT_PROFILE = SessionKey[str]("chat_profile")
