"""The real Open WebUI 0.12, set up as the README says, chatting through the endpoint.

The endpoint fixture is the real `serve` command with an API key; Open WebUI gets it through
OPENAI_API_BASE_URL / OPENAI_API_KEY. The test then does over Open WebUI's own HTTP API what its
web page does: sign up the first user, read the model list, and chat (streamed and not).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.metrics_text import sample
from tests.support.open_webui import start_open_webui
from tests.support.processes import Endpoint

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


pytestmark = [pytest.mark.long]  # Open WebUI takes a minute of CPU to start


@pytest.fixture(scope="module")
async def open_webui(
    endpoint: Endpoint, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str]]:
    """Open WebUI's address, and the token of its first user (its admin), signed up as on the
    first visit of its page."""
    process, url = start_open_webui(
        endpoint.url, endpoint.api_key, tmp_path_factory.mktemp("open-webui")
    )
    account = {"name": "Ada", "email": "ada@example.com", "password": "correct-horse-42"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/api/v1/auths/signup", json=account) as response,
    ):
        assert response.status == 200, await response.text()
        token = (await response.json())["token"]
    yield url, token
    process.stop()


@pytest.fixture
async def signed_in(open_webui: tuple[str, str]) -> AsyncIterator[aiohttp.ClientSession]:
    url, token = open_webui
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url=f"{url}/", headers=headers) as http:
        yield http


async def chat(http: aiohttp.ClientSession, body: dict[str, Any]) -> tuple[str, list[Any]]:
    """POST /api/chat/completions as Open WebUI's page does: the text, and the stream's events."""
    async with http.post("api/chat/completions", json=body) as response:
        assert response.status == 200, await response.text()
        if not body.get("stream"):
            return (await response.json())["choices"][0]["message"]["content"], []
        events = [
            json.loads(line[5:])
            async for raw in response.content
            if (line := raw.decode().strip()).startswith("data:") and line != "data: [DONE]"
        ]
    text = "".join(
        event["choices"][0]["delta"].get("content") or "" for event in events if event["choices"]
    )
    return text, events


async def test_open_webui_lists_the_endpoints_model(
    signed_in: aiohttp.ClientSession, endpoint: Endpoint
) -> None:
    async with signed_in.get("api/models") as response:
        assert response.status == 200
        models = (await response.json())["data"]
    assert [model["id"] for model in models] == [endpoint.model]


async def test_open_webui_streams_an_answer_from_the_endpoint(
    signed_in: aiohttp.ClientSession, endpoint: Endpoint
) -> None:
    text, events = await chat(
        signed_in,
        {"model": endpoint.model, "messages": QUESTION, "stream": True, "temperature": 0,
         "max_tokens": 30},
    )  # fmt: skip
    assert "Paris" in text
    assert len([e for e in events if e["choices"] and e["choices"][0]["delta"].get("content")]) > 3
    assert {e["model"] for e in events} == {endpoint.model}


async def test_open_webui_gets_a_whole_answer_without_streaming(
    signed_in: aiohttp.ClientSession, endpoint: Endpoint
) -> None:
    text, _ = await chat(
        signed_in,
        {"model": endpoint.model, "messages": QUESTION, "stream": False, "temperature": 0,
         "max_tokens": 30},
    )  # fmt: skip
    assert "Paris" in text


async def warm_hits(endpoint: Endpoint) -> float:
    headers = {"Authorization": f"Bearer {endpoint.api_key}"}
    metrics_url = endpoint.url.removesuffix("/v1") + "/metrics"
    async with aiohttp.ClientSession() as http, http.get(metrics_url, headers=headers) as reply:
        value = sample(await reply.text(), "foundry_local_chat_endpoint_warm_hits_total")
    assert value is not None
    return value


async def test_open_webui_follow_ups_read_only_the_new_message(
    signed_in: aiohttp.ClientSession, endpoint: Endpoint
) -> None:
    hits = await warm_hits(endpoint)
    messages = [{"role": "user", "content": "Name a colour."}]
    options = {"model": endpoint.model, "stream": True, "temperature": 0, "max_tokens": 300}
    first, _ = await chat(signed_in, {**options, "messages": messages})
    messages += [{"role": "assistant", "content": first}, {"role": "user", "content": "Another?"}]
    second, _ = await chat(signed_in, {**options, "messages": messages})
    assert second
    assert await warm_hits(endpoint) == hits + 1  # the endpoint continued the kept conversation
