"""The body limit in front of Chainlit's routes (body_limit), around a real FastAPI app that reads
its body as Chainlit's routes do: a body within its route's limit arrives whole; a larger one
gets a 413, by its Content-Length before a byte is read, and by the running count otherwise,
and the app never receives more than the limit (property-based over how the body is cut)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_local_chat.config import DocumentLimits
from foundry_local_chat.server.body_limit import (
    DRAIN_BYTES,
    MULTIPART_SLACK,
    BodyLimit,
    limits_for,
)
from foundry_local_chat.server.chainlit_server import MAX_MESSAGE_BYTES

LIMIT = 1000


def app_reading_bodies() -> tuple[FastAPI, list[int]]:
    app = FastAPI()
    seen: list[int] = []

    @app.post("/project/threads")
    async def body(request: Request) -> dict[str, int]:
        seen.append(len(await request.body()))
        return {"bytes": seen[-1]}

    return app, seen


async def post(chunks: list[bytes], declared: int | None) -> tuple[int, list[int], int]:
    """The status, what the app read, and how many body messages were taken from the client."""
    app, seen = app_reading_bodies()
    limited = BodyLimit(app, lambda path: LIMIT)
    headers = [(b"content-length", str(declared).encode())] if declared is not None else []
    scope: dict[str, Any] = {
        "type": "http", "method": "POST", "path": "/project/threads", "raw_path": b"",
        "root_path": "", "scheme": "http", "query_string": b"", "headers": headers,
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2), "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }  # fmt: skip
    messages = [
        {"type": "http.request", "body": chunk, "more_body": number < len(chunks) - 1}
        for number, chunk in enumerate(chunks or [b""])
    ]
    taken = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal taken
        if taken < len(messages):
            taken += 1
            return messages[taken - 1]
        await asyncio.Event().wait()  # the client sends nothing more
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await limited(scope, receive, send)
    [start] = [m for m in sent if m["type"] == "http.response.start"]
    return start["status"], seen, taken


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=400), max_size=12),
    honest=st.booleans(),
)
def test_a_body_arrives_whole_within_the_limit_and_is_refused_past_it(
    chunks: list[bytes], honest: bool
) -> None:
    total = sum(map(len, chunks))
    status, seen, taken = asyncio.run(post(chunks, total if honest else None))
    if total <= LIMIT:
        assert (status, seen) == (200, [total])
    else:
        # The app is never given a body past its limit. A body at most DRAIN_BYTES over it is
        # read to its end and dropped, so that a client still sending it hears the 413.
        assert status == 413 and seen == []
        assert taken == len(chunks)


@given(declared=st.integers(min_value=LIMIT + DRAIN_BYTES + 1, max_value=10**12) | st.just(-1))
@settings(max_examples=50, deadline=None)
def test_a_body_claiming_far_more_than_the_limit_is_refused_before_it_is_read(
    declared: int,
) -> None:
    status, seen, taken = asyncio.run(post([b"x"], declared))
    assert (status, seen, taken) == (413, [], 0)


@given(declared=st.integers(min_value=LIMIT + 1, max_value=LIMIT + DRAIN_BYTES))
@settings(max_examples=50, deadline=None)
def test_a_body_claiming_a_little_more_is_dropped_then_refused(declared: int) -> None:
    status, seen, taken = asyncio.run(post([b"x", b"y"], declared))
    assert (status, seen, taken) == (413, [], 2)


def test_the_upload_route_takes_a_file_of_the_size_limit_and_socket_io_is_left_alone() -> None:
    limit = limits_for(DocumentLimits(max_mb=2))
    assert limit("/project/file") == 2 * 1024**2 + MULTIPART_SLACK
    assert limit("/chat/project/file/") == 2 * 1024**2 + MULTIPART_SLACK
    assert limit("/project/threads") == MAX_MESSAGE_BYTES
    assert limit("/ws/socket.io/") is None
