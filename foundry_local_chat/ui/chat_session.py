"""What a chat's Chainlit session holds for this app, typed: the backend that answers it, the
options its settings panel chose, and the notices it was already given (each is said once)."""

from __future__ import annotations

from foundry_local_chat.chat.backend import Backend
from foundry_local_chat.chat.turn import ChatOptions
from foundry_local_chat.history.session_keys import CHAT_PROFILE, SessionKey

BACKEND = SessionKey[Backend]("backend")
OPTIONS = SessionKey[ChatOptions]("options")
TOLD_LEFT_OUT = SessionKey[bool]("told_left_out")  # earlier turns left out of the context
TOLD_NO_KOREAN = SessionKey[bool]("told_model_writes_no_korean")

__all__ = ["BACKEND", "CHAT_PROFILE", "OPTIONS", "TOLD_LEFT_OUT", "TOLD_NO_KOREAN"]
