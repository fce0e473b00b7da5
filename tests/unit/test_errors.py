"""The package's errors share one base, and any error reads as one bounded line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from foundry_local_chat.chat.backend import BackendUnavailable
from foundry_local_chat.chat.context_window import MessageTooLong
from foundry_local_chat.chat.turn import ChatError, ContextExceeded, ServerBusy
from foundry_local_chat.config import ConfigError
from foundry_local_chat.endpoint.admission_queue import QueueFull
from foundry_local_chat.endpoint.request_schema import Invalid
from foundry_local_chat.errors import MAX_LINE_CHARS, FoundryLocalChatError, one_line, shortened
from foundry_local_chat.history.auth import AuthError
from foundry_local_chat.history.data_layer import PersistenceError
from foundry_local_chat.models.bundled import BuildError
from foundry_local_chat.models.foundry_runtime import FoundryStartError
from foundry_local_chat.storage.database import DatabaseError
from foundry_local_chat.ui.settings_panel import InvalidChatSettings


@pytest.mark.parametrize(
    ("error", "builtin_base"),
    [
        (ConfigError, ValueError),
        (AuthError, ValueError),
        (InvalidChatSettings, ValueError),
        (MessageTooLong, ValueError),
        (DatabaseError, RuntimeError),
        (PersistenceError, RuntimeError),
        (FoundryStartError, RuntimeError),
        (BackendUnavailable, RuntimeError),
        (BuildError, RuntimeError),
        (ChatError, RuntimeError),
        (ServerBusy, RuntimeError),
        (ContextExceeded, RuntimeError),
        (Invalid, Exception),
        (QueueFull, Exception),
    ],
)
def test_every_error_of_the_package_shares_one_base_and_keeps_its_builtin_one(
    error: type[Exception], builtin_base: type[Exception]
) -> None:
    assert issubclass(error, FoundryLocalChatError)
    assert issubclass(error, builtin_base)  # `except ValueError` elsewhere still catches it


def test_an_error_without_a_message_reads_as_its_type() -> None:
    assert one_line(TimeoutError()) == "TimeoutError"
    assert one_line(TimeoutError(), with_type=True) == "TimeoutError"
    assert one_line(RuntimeError(" \n\t\n ")) == "RuntimeError"


def test_the_first_non_empty_line_is_the_reason() -> None:
    error = RuntimeError('\n  connection refused  \nSELECT * FROM "steps"\n[parameters: …]')
    assert one_line(error) == "connection refused"
    assert one_line(OSError("disk full"), with_type=True) == "OSError: disk full"


def test_a_long_message_is_cut_with_an_ellipsis() -> None:
    line = one_line(ValueError("x" * 1000))
    assert len(line) == MAX_LINE_CHARS and line.endswith("…")
    assert one_line(ValueError("abcdef"), limit=4) == "abc…"
    with pytest.raises(ValueError, match="limit=0"):
        one_line(ValueError("abc"), limit=0)


def test_an_error_whose_message_cannot_be_built_still_reads_as_its_type() -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise UnicodeError("no")

    assert one_line(Broken()) == "Broken"


ERROR_TYPES = st.sampled_from([ValueError, RuntimeError, OSError, TimeoutError, KeyError])


@given(
    message=st.text(), error_type=ERROR_TYPES, with_type=st.booleans(), limit=st.integers(1, 400)
)
def test_any_error_gives_one_non_empty_bounded_line(
    message: str, error_type: type[Exception], with_type: bool, limit: int
) -> None:
    line = one_line(error_type(message), with_type=with_type, limit=limit)
    assert line and len(line) <= limit
    assert len(line.splitlines()) == 1


@given(message=st.text(max_size=200), error_type=ERROR_TYPES, with_type=st.booleans())
def test_the_line_is_one_of_the_messages_lines_or_the_type_name(
    message: str, error_type: type[Exception], with_type: bool
) -> None:
    error, name = error_type(message), error_type.__name__
    line = one_line(error, with_type=with_type)
    reason = line.removeprefix(f"{name}: ") if with_type else line
    assert reason == name or reason in [part.strip() for part in str(error).splitlines()]
    assert reason != ""


def test_a_clients_value_is_quoted_on_one_line_and_cut_with_an_ellipsis() -> None:
    assert shortened("a\nb\t c", 10) == "a b c"
    assert shortened("x" * 1_000_000, 5) == "xxxx…"
