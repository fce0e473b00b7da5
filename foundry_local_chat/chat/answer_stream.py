"""One answer as it streams, without Chainlit: the model's text split into thinking and answer,
watched by the loop guard, which ends the answer (and closes its request) when it loops.

The chat view iterates the pieces and shows them; what the answer is (its parts, where it loops,
what of it is kept) is decided here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from foundry_local_chat.chat.loop_guard import Loop, LoopGuard
from foundry_local_chat.chat.thinking import Kind, ThinkSplitter


@dataclass(frozen=True)
class Piece:
    kind: Kind  # "answer" or "thinking"
    text: str


class AnswerStream:
    """`pieces()` yields the answer's pieces in order and closes the token stream when it ends:
    at the model's end, when the answer loops (`loop` then says where), or when the consumer
    closes it early (iterate it inside `contextlib.aclosing`, so that a cancellation closes it
    at once), which stops the model server's work on it."""

    def __init__(self, tokens: AsyncGenerator[str, None], guard: LoopGuard | None = None) -> None:
        self._tokens = tokens
        self._guard = guard

    @property
    def loop(self) -> Loop | None:
        return self._guard.loop if self._guard is not None else None

    async def pieces(self) -> AsyncGenerator[Piece, None]:
        splitter = ThinkSplitter()
        async with contextlib.aclosing(self._tokens):  # leaving it closes the request
            async for token in self._tokens:
                for kind, text in splitter.feed(token):
                    self._watch(kind, text)
                    yield Piece(kind, text)
                if self.loop is not None:
                    return
        for kind, text in splitter.flush():
            self._watch(kind, text)
            yield Piece(kind, text)

    def _watch(self, kind: Kind, text: str) -> None:
        if kind == "answer" and self._guard is not None:
            self._guard.feed(text)
