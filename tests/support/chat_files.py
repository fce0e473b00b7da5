"""A chat as the tests of its export and import use it (tests/unit/ui/test_chat_transfer.py,
tests/unit/history/test_chat_file.py, tests/e2e/test_chat_import_history.py): a thread as the
data layer reads it back, with what a real one holds around its questions and answers, and its
exported file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from foundry_local_chat.chat.turn import REFUSED_KEY, REPLY_MODEL_KEY
from foundry_local_chat.documents.store import ListedDocument
from foundry_local_chat.history.export import ChatExport, export_json
from foundry_local_chat.history.ownership import ActingUser
from foundry_local_chat.ui.answer_versions import SHOWN_KEY, STATS_ELEMENT_KEY, VERSIONS_KEY
from foundry_local_chat.ui.chat_export import chat_export

ALICE = ActingUser("alice", "user-alice")

T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    """A time as Chainlit stores it, `seconds` after T0."""
    return (T0 + timedelta(seconds=seconds)).replace(tzinfo=None).isoformat() + "Z"


def step(kind: str, output: str, seconds: float, **metadata: Any) -> dict[str, Any]:
    return {"id": f"{kind}-{seconds}", "type": kind, "name": "x", "output": output,
            "createdAt": at(seconds), "metadata": metadata}  # fmt: skip


VERSIONS = [
    {"content": "Paris.", "stats": "12 tokens", "stopped": False},
    {"content": "It is Paris.", "stats": "14 tokens", "stopped": False},
]

MODEL = "smollm2-135m-instruct-generic-cpu:1"


def stored_thread(name: str = "What is the capital of France?") -> dict[str, Any]:
    """A thread as the data layer reads it back: Chainlit's own steps, app notices, a thinking
    step and a sources line around two questions and their answers (one given twice)."""
    return {
        "id": "thread-1",
        "name": name,
        "createdAt": at(0.5),
        "userIdentifier": "alice",
        "metadata": {
            "chat_profile": "Auto",
            "chat_settings": {
                "model": MODEL,
                "system_prompt": "Be brief.",
                "temperature": 0.0,
                "max_tokens": 64.0,
                "streaming": True,
            },
        },
        "steps": [
            step("run", "", 0),  # on_chat_start
            step("user_message", "What is the capital of France?", 1),
            step("run", "", 1.1),  # on_message
            step("tool", "thinking…", 1.2),
            step(
                "assistant_message",
                "It is Paris.",
                2,
                **{
                    REPLY_MODEL_KEY: MODEL,
                    "stats": "14 tokens",
                    "backend": "Foundry Local",
                    VERSIONS_KEY: VERSIONS,
                    SHOWN_KEY: 1,
                    STATS_ELEMENT_KEY: "element-1",
                },
            ),
            step("assistant_message", "", 2.5, sources=["notes.md (whole)"]),
            step("assistant_message", "⏳ 1 answer is ahead of yours", 2.6),  # a notice
            step("user_message", "Too long to send", 3, **{REFUSED_KEY: True}),
            step("user_message", "And of Spain?", 4),
            step(
                "assistant_message",
                "Madrid.",
                5,
                **{REPLY_MODEL_KEY: MODEL, "stats": "3 tokens", "stopped": True},
            ),
        ],
    }


DOCUMENTS = [ListedDocument("notes.md", "md", None, (T0 + timedelta(seconds=1.5)).isoformat())]


def exported(thread: dict[str, Any] | None = None) -> ChatExport:
    read: Any = thread or stored_thread()  # a ThreadDict, as the data layer reads one
    return chat_export(read, DOCUMENTS, top_p=0.9, now=T0 + timedelta(hours=1))


HOSTILE_TITLE = (
    "Hi\n# Owned\r\n![x](http://evil.example/p.png) <img src=x> [link](http://x) \u202etxt"
)


def a_file(**changes: Any) -> dict[str, Any]:
    body = json.loads(export_json(exported()))
    body.update(changes)
    return body


def with_message(index: int, **changes: Any) -> dict[str, Any]:
    body = a_file()
    body["messages"][index].update(changes)
    return body
