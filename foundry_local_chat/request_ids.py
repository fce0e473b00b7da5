"""One id per chat turn or endpoint request, carried in a context variable and in `X-Request-Id`.

The chat app makes an id when a turn starts and sends it to the endpoint; the gateway takes a
well-formed one it is sent (else makes its own), answers with it, and passes it on to Foundry
Local. `RequestIdFilter` puts the id of the running task into every log record, so the lines
of one turn can be found in the chat app's log and the endpoint's alike.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar

HEADER = "X-Request-Id"
NONE = "-"  # what a log line says outside any request
# Ids from clients end up in log lines: a strict character set keeps a line one line.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_id() -> str:
    return uuid.uuid4().hex


def well_formed(candidate: str | None) -> bool:
    return candidate is not None and _WELL_FORMED.fullmatch(candidate) is not None


def current() -> str | None:
    """The id of the request this task works for, if any."""
    return _current.get()


def use(request_id: str) -> None:
    """This task (and the tasks it starts from now on) work for `request_id`."""
    _current.set(request_id)


@contextlib.contextmanager
def bound(request_id: str) -> Iterator[str]:
    """`request_id` is the current one inside the `with` block."""
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)


def outgoing_headers() -> dict[str, str]:
    """The header that passes the current id on to the next server (none outside a request)."""
    request_id = current()
    return {HEADER: request_id} if request_id else {}


class RequestIdFilter(logging.Filter):
    """Sets `record.request_id` (the current id, or "-") on every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current() or NONE
        return True
