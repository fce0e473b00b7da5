"""Text that cannot be encoded as UTF-8 (lone surrogates from a broken paste or a client bug)
would fail every request and every save that carries it; it is repaired where it enters."""

from __future__ import annotations

REPLACEMENT = "\N{REPLACEMENT CHARACTER}"


def has_lone_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def repair_unicode(text: str) -> str:
    """Surrogate pairs written as two code points are joined; lone surrogates become U+FFFD."""
    if not has_lone_surrogates(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
