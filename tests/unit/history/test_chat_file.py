"""The chat file format (history/export.py) on its own: what it writes reads back the same, whatever
was said, and any bytes at all are read or refused with an ImportRefused, never another error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_local_chat.history.export import (
    MAX_IMPORT_BYTES,
    AssistantMessage,
    ChatExport,
    ImportProblem,
    ImportRefused,
    UserMessage,
    export_json,
    parse_chat_export,
)
from tests.support.chat_files import MODEL, T0, exported


def test_a_byte_order_mark_and_a_file_of_the_app_itself_are_read() -> None:
    raw = export_json(exported())
    assert parse_chat_export(b"\xef\xbb\xbf" + raw) == exported()


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read() -> None:
    with pytest.raises(ImportRefused) as refused:
        parse_chat_export(b"{" + b" " * MAX_IMPORT_BYTES + b"}")
    assert refused.value.problem == ImportProblem.TOO_LARGE


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_are_read_or_refused_never_an_error(raw: bytes) -> None:
    try:
        chat = parse_chat_export(raw)
    except ImportRefused:
        return
    assert parse_chat_export(export_json(chat)) == chat


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(st.text(), min_size=1, max_size=6),
    title=st.text(max_size=80),
)
def test_any_text_survives_the_round_trip(texts: list[str], title: str) -> None:
    """Whatever was said (any Unicode a database stores), the file gives it back unchanged."""
    texts = [t.replace("\x00", "") for t in texts]
    messages: list[UserMessage | AssistantMessage] = [
        UserMessage(role="user", content=t, created_at=T0 + timedelta(seconds=i))
        if i % 2 == 0
        else AssistantMessage(
            role="assistant", content=t, created_at=T0 + timedelta(seconds=i), model=MODEL
        )
        for i, t in enumerate(texts)
    ]
    chat = ChatExport(title=title.replace("\x00", ""), created_at=T0, messages=messages)
    assert parse_chat_export(export_json(chat)) == chat
