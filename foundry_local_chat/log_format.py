"""How the app and the endpoint write their log: text for people, or one JSON object per line
(LOG_FORMAT=json) for log shippers. Either way every line carries the request id."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from enum import StrEnum

from foundry_local_chat.request_ids import RequestIdFilter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
TEXT_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")  # Chainlit's server


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
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format is LogFormat.JSON:
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT, TEXT_DATE_FORMAT)


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
