"""The socket.io payload check alone, fuzzed: it never raises, and a well-formed message passes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import given

from foundry_local_chat.server.socket_payloads import client_message
from foundry_local_chat.ui.texts import words_for
from tests.support.socket_events import payloads

ENGLISH, KOREAN = words_for("en-US").malformed_payload, words_for("ko-KR").malformed_payload


def step(**changes: Any) -> dict[str, Any]:
    good = {
        "id": str(uuid.uuid4()), "threadId": "", "name": "User", "type": "user_message",
        "output": "Hello", "createdAt": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    return {key: value for key, value in {**good, **changes}.items() if value is not ...}


@given(args=payloads)
def test_the_check_never_raises(args: tuple[Any, ...]) -> None:
    assert client_message(args) is not None  # nothing random is a well-formed message


def test_a_well_formed_message_passes_the_check() -> None:
    assert client_message(({"message": step(), "fileReferences": [{"id": "f"}]},)) is None
    assert client_message(({"message": step(), "fileReferences": None},)) is None
