"""Logs that no value can forge: in-process, any message and any exception text formats to one
line per record (text: its traceback indented below it) with no control character, separator
or bidi control left, and JSON lines decode back to exactly what was logged (property-based).
Through the real app: an upload whose name holds a line feed and a forged record, and a
right-to-left override, forges no line (text) and leaves every line JSON (LOG_FORMAT=json, from
the first line on: the history's migrations and the bundled model's start-up progress
included); the chat shows the name with its override neutralised."""

from __future__ import annotations

import json
import logging
import sys

from hypothesis import given
from hypothesis import strategies as st

from foundry_local_chat.log_format import (
    CONTINUATION,
    UNSAFE,
    JsonFormatter,
    LogFormat,
    formatter,
)


def record(
    message: str, args: tuple[object, ...] = (), error: str | None = None
) -> logging.LogRecord:
    exc_info = None
    if error is not None:
        try:
            raise ValueError(error)
        except ValueError:
            exc_info = sys.exc_info()
    entry = logging.LogRecord("app", logging.WARNING, __file__, 1, message, args, exc_info)
    entry.request_id = "-"
    return entry


text_anything = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)


@given(message=text_anything, value=text_anything, error=st.none() | text_anything)
def test_a_text_record_is_one_line_and_its_traceback_is_indented(
    message: str, value: str, error: str | None
) -> None:
    line = formatter(LogFormat.TEXT).format(
        record(message.replace("%", "") + " %s", (value,), error)
    )
    first, *more = line.split("\n")
    assert not UNSAFE.search(first)
    assert all(part.startswith(CONTINUATION) and not UNSAFE.search(part) for part in more)
    assert bool(more) == (error is not None)


@given(message=text_anything, error=st.none() | text_anything)
def test_a_json_record_is_one_line_that_decodes_to_what_was_logged(
    message: str, error: str | None
) -> None:
    logged = record("%s", (message,), error)
    line = JsonFormatter().format(logged)
    assert not UNSAFE.search(line)
    decoded = json.loads(line)
    assert decoded["message"] == message
    if logged.exc_info:
        assert decoded["exception"] == logging.Formatter().formatException(logged.exc_info)


# ----- through the real app -----
