"""A backend's model list: what the server lists, or the backend's own model when the server
does not list them in time (a new chat's settings panel waits for it)."""

from __future__ import annotations

import asyncio

import httpx2

from foundry_local_chat.chat.backend import Backend, BackendKind

MODEL = "scripted-model:1"


def backend_answering(handler: httpx2.AsyncBaseTransport) -> Backend:
    client = httpx2.AsyncClient(transport=handler)
    return Backend(BackendKind.REMOTE, "http://model.test/v1", "key", MODEL, client)


async def test_the_listed_models_are_offered() -> None:
    async def listing(request: httpx2.Request) -> httpx2.Response:
        data = [{"id": name, "object": "model", "owned_by": "t"} for name in (MODEL, "other:2")]
        return httpx2.Response(200, json={"object": "list", "data": data})

    backend = backend_answering(httpx2.MockTransport(listing))
    assert await backend.served_models() == [MODEL, "other:2"]


async def test_a_server_that_fails_to_list_leaves_the_backends_own_model() -> None:
    async def failing(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(500, json={"error": {"message": "boom"}})

    async def gone(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    for handler in (failing, gone):
        assert await backend_answering(httpx2.MockTransport(handler)).served_models() == [MODEL]


async def test_a_server_that_never_lists_is_given_up_on() -> None:
    """A server on 127.0.0.1 that takes the request and never answers it."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    backend = Backend(BackendKind.REMOTE, f"http://127.0.0.1:{port}/v1", "key", MODEL)
    async with server:
        assert await backend.served_models(within_seconds=0.2) == [MODEL]
        assert held, "the request reached the server"
        for writer in held:
            writer.close()
