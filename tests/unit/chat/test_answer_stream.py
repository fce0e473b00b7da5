"""An answer as it streams: thinking and answer apart, ended by its loop, and its request closed
however it ends."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from foundry_local_chat.chat.answer_stream import AnswerStream, Piece
from foundry_local_chat.chat.loop_guard import LoopGuard


class Tokens:
    """A token stream that notes how far it was read and whether it was closed."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.read = 0
        self.closed = False

    async def stream(self) -> AsyncGenerator[str, None]:
        try:
            for token in self.tokens:
                self.read += 1
                yield token
        finally:
            self.closed = True


async def all_pieces(stream: AnswerStream) -> list[Piece]:
    async with contextlib.aclosing(stream.pieces()) as pieces:
        return [piece async for piece in pieces]


async def test_thinking_and_answer_come_apart_even_when_a_tag_is_split() -> None:
    tokens = Tokens(["<thi", "nk>Let me see", "</think>", "Paris", " is the capital."])
    pieces = await all_pieces(AnswerStream(tokens.stream()))
    assert [(p.kind, p.text) for p in pieces] == [
        ("thinking", "Let me see"), ("answer", "Paris"), ("answer", " is the capital."),
    ]  # fmt: skip
    assert tokens.closed


async def test_an_answer_that_loops_ends_there_and_its_request_is_closed() -> None:
    loop = ["The sea is deep. "] + ["balances untold balances, "] * 200
    tokens = Tokens(loop)
    stream = AnswerStream(tokens.stream(), LoopGuard())
    shown = "".join(p.text for p in await all_pieces(stream))
    assert stream.loop is not None
    assert tokens.read < len(loop) and tokens.closed  # read no further than the loop
    assert shown.startswith(stream.loop.keep)
    assert stream.loop.keep.startswith("The sea is deep.")
    assert stream.loop.keep.count("balances untold balances") <= 1


async def test_without_a_guard_a_repeating_answer_is_read_to_its_end() -> None:
    loop = ["balances untold balances, "] * 50
    tokens = Tokens(loop)
    stream = AnswerStream(tokens.stream())
    shown = "".join(p.text for p in await all_pieces(stream))
    assert stream.loop is None and tokens.read == len(loop)
    assert shown == "".join(loop)


async def test_a_consumer_that_stops_early_closes_the_request_at_once() -> None:
    tokens = Tokens(["one ", "two ", "three ", "four "])
    async with contextlib.aclosing(AnswerStream(tokens.stream()).pieces()) as pieces:
        async for _ in pieces:
            break  # the stop button, or a cancelled task
    assert tokens.closed and tokens.read == 1
