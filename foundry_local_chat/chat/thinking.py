"""Split a reasoning model's streamed text into thinking (inside <think>…</think>) and answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

Kind = Literal["thinking", "answer"]
Part = tuple[Kind, str]

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplitter:
    """Feed tokens as they stream; get back (kind, text) parts in order.

    A tag may arrive split over several tokens ("<thi", "nk>"), so text that could be the start
    of a tag is held back until the next token decides it.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._thinking = False

    def feed(self, token: str) -> Iterator[Part]:
        self._buffer += token
        while self._buffer:
            tag = CLOSE if self._thinking else OPEN
            kind: Kind = "thinking" if self._thinking else "answer"
            index = self._buffer.find(tag)
            if index >= 0:
                if index:
                    yield kind, self._buffer[:index]
                self._buffer = self._buffer[index + len(tag) :]
                self._thinking = not self._thinking
                continue
            keep = _partial_tag_suffix(self._buffer, tag)
            text = self._buffer[: len(self._buffer) - keep]
            self._buffer = self._buffer[len(self._buffer) - keep :]
            if text:
                yield kind, text
            return

    def flush(self) -> Iterator[Part]:
        """At the end of the stream: whatever was held back is plain text of the current kind."""
        if self._buffer:
            yield ("thinking" if self._thinking else "answer"), self._buffer
            self._buffer = ""


def _partial_tag_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a beginning of `tag`."""
    for length in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:length]):
            return length
    return 0
