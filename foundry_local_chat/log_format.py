"""How the app and the endpoint write their log: text for people, or one JSON object per line
(LOG_FORMAT=json) for log shippers. Either way every line carries the request id.

No logged value can forge a line or disguise one: in text, control characters (C0 with CR and
LF, DEL, C1), line separators and bidirectional controls are written as escapes (`\\n`,
`\\x85`, `\\u202e`), and a traceback's lines are indented under their record; in JSON, the
encoder escapes C0, and the rest are written as `\\uXXXX` escapes (which decode to the same
text).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from enum import StrEnum

from foundry_local_chat.request_ids import RequestIdFilter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
TEXT_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")  # Chainlit's server


# What could end a line or make it read otherwise than it is written.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
INVISIBLE_IN_JSON = re.compile(
    "[\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
CONTINUATION = "    "  # in front of each further line of a record (a traceback's)


def _escape(match: re.Match[str]) -> str:
    character = match[0]
    if character in NAMED_ESCAPES:
        return NAMED_ESCAPES[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralised(text: str) -> str:
    """`text` on one line, every control character, separator and bidi control escaped."""
    return UNSAFE.sub(_escape, text)


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, each record's first line neutralised and its traceback's lines (each
    neutralised too) indented below it, so that no value can start a line of its own."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        first = neutralised(self.formatMessage(record))
        more = []
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            more += record.exc_text.splitlines()
        if record.stack_info:
            more += self.formatStack(record.stack_info).splitlines()
        return "\n".join([first, *(CONTINUATION + neutralised(line) for line in more)])


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, request_id, message, and
    the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        line = json.dumps(entry, ensure_ascii=False, default=str)  # escapes C0 (and so CR, LF)
        return INVISIBLE_IN_JSON.sub(lambda match: f"\\u{ord(match[0]):04x}", line)


def formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format is LogFormat.JSON:
        return JsonFormatter()
    return TextFormatter(TEXT_FORMAT, TEXT_DATE_FORMAT)


def configure(log_format: LogFormat, level: int = logging.INFO) -> None:
    """Give the root logger's handlers (adding one on stderr if it has none), and those of
    uvicorn's own loggers (which do not propagate), the request-id filter and the chosen format.
    Chainlit's CLI has already set up its stdout handler; the `serve` command has none yet.
    Calling it again (a reload, or once uvicorn has set up its loggers) replaces what it set."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
        root.setLevel(level)
    own = [logging.getLogger(name) for name in UVICORN_LOGGERS]
    for handler in [h for logger in (root, *own) for h in logger.handlers]:
        handler.setFormatter(formatter(log_format))
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
