"""The package's own errors, and how any error reads in one line.

Standard library only: `config` and `models.bundled` import it in the model build's environment.
"""

from __future__ import annotations

MAX_LINE_CHARS = 300


class FoundryLocalChatError(Exception):
    """An error this package raises on purpose; its message is written for a person.

    Each subclass keeps the built-in base it had (ValueError, RuntimeError), so code that catches
    those still does; `except FoundryLocalChatError` catches every one of them."""


def one_line(error: BaseException, *, with_type: bool = False, limit: int = MAX_LINE_CHARS) -> str:
    """The first non-empty line of the error's message, or its type's name when it has none
    (a bare `TimeoutError()`); `with_type` puts the type's name in front ("OSError: disk full").
    At most `limit` characters, the last an ellipsis when it was cut."""
    if limit < 1:
        raise ValueError(f"limit={limit}: a line needs room for at least one character")
    name = type(error).__name__
    try:
        message = str(error)
    except Exception:  # a broken __str__ must not hide the error being reported
        message = ""
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    text = f"{name}: {first}" if first and with_type else first or name
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shortened(text: str, limit: int) -> str:
    """`text` on one line and at most `limit` characters, the last an ellipsis when it was cut:
    how a client's value is quoted back (a megabyte "model name" is not)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
