"""The endpoint speaks the OpenAI API the way Open WebUI 0.12 and the openai SDK use it.

Every test runs against the real `serve` command (the `endpoint` fixture: Foundry Local with the
bundled model behind the gateway, an API key set, CORS for one browser origin). Where the shape on
the wire matters, the test uses aiohttp, the HTTP client Open WebUI uses; elsewhere the openai SDK.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest

from tests.support.apps import BROWSER_ORIGIN
from tests.support.processes import Endpoint

LONG_ANSWER = "Write a long story about a lighthouse keeper and a storm."
TOO_LONG_PROMPT = "hello " * 10_000  # about 10,000 tokens; the model's context is 8192


OPENED: list[openai.AsyncOpenAI] = []


def sdk(endpoint: Endpoint, **options: Any) -> openai.AsyncOpenAI:
    """An openai client for the endpoint, closed after the test (see close_clients)."""
    settings = {"base_url": endpoint.url, "api_key": endpoint.api_key, "max_retries": 0}
    client = openai.AsyncOpenAI(**{**settings, **options})
    OPENED.append(client)
    return client


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    """Close the test's clients on the test's loop. An AsyncOpenAI client left to the garbage
    collector closes itself as a task on whatever loop runs in the collecting thread, which may be
    another loop's thread (a gateway's, in tests/unit/endpoint/test_gateway.py): never leave one
    open."""
    yield
    while OPENED:
        await OPENED.pop().close()


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def auth(endpoint: Endpoint) -> dict[str, str]:
    return {"Authorization": f"Bearer {endpoint.api_key}"}


async def stream_events(endpoint: Endpoint, body: dict[str, Any]) -> list[Any]:
    """POST a streaming request as Open WebUI does; the parsed `data:` events, `[DONE]` as is."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{endpoint.url}/chat/completions", json={**body, "stream": True},
            headers=auth(endpoint),
        ) as response,
    ):  # fmt: skip
        assert response.status == 200
        assert response.headers.getall("Content-Type") == ["text/event-stream"]
        events = []
        async for raw in response.content:
            line = raw.decode().strip()
            if not line or line.startswith(":"):  # blank separators and SSE comments
                continue
            assert line.startswith("data: "), line
            data = line.removeprefix("data: ")
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def text_of(events: list[Any]) -> str:
    return "".join(
        choice["delta"].get("content") or "" for event in events[:-1] for choice in event["choices"]
    )


# -- models -------------------------------------------------------------------------------------


async def test_models_list_has_the_ids_open_webui_reads(endpoint: Endpoint) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{endpoint.url}/models", headers=auth(endpoint)) as response,
    ):
        assert response.status == 200
        assert response.headers.getall("Content-Type") == ["application/json"]
        listing = await response.json()
    assert listing["object"] == "list"
    assert [model["id"] for model in listing["data"]] == [endpoint.model]
    assert all(model["object"] == "model" for model in listing["data"])


async def test_a_model_is_found_by_its_id_or_its_alias(endpoint: Endpoint) -> None:
    client = sdk(endpoint)
    assert (await client.models.retrieve(endpoint.model)).id == endpoint.model
    assert (await client.models.retrieve(endpoint.alias)).id == endpoint.model


# -- completions --------------------------------------------------------------------------------


async def test_a_completion_has_content_a_finish_reason_and_usage(endpoint: Endpoint) -> None:
    reply = await sdk(endpoint).chat.completions.create(
        model=endpoint.model, messages=user("What is the capital of France?"), max_tokens=20
    )
    assert reply.object == "chat.completion" and reply.model == endpoint.model
    message = reply.choices[0].message
    assert message.role == "assistant" and message.content
    assert reply.choices[0].finish_reason in {"stop", "length"}
    assert reply.usage is not None
    assert 0 < reply.usage.completion_tokens <= 20
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


async def test_a_stream_is_server_sent_events_ending_in_done(endpoint: Endpoint) -> None:
    events = await stream_events(
        endpoint, {"model": endpoint.model, "messages": user(LONG_ANSWER), "max_tokens": 12}
    )
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]) > 5
    finish_reasons = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert [reason for reason in finish_reasons if reason] == ["length"]
    assert finish_reasons[-1] == "length"  # the last chunk before [DONE]
    assert text_of(events).strip()


async def test_include_usage_adds_a_last_chunk_with_usage_and_no_choices(
    endpoint: Endpoint,
) -> None:
    stream = await sdk(endpoint).chat.completions.create(
        model=endpoint.model, messages=user(LONG_ANSWER), max_tokens=8, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = [chunk async for chunk in stream]
    *answer, last = chunks
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == 8
    assert all(chunk.usage is None for chunk in answer)
    assert answer[-1].choices[0].finish_reason == "length"


async def test_max_tokens_and_max_completion_tokens_both_limit_the_answer(
    endpoint: Endpoint,
) -> None:
    client = sdk(endpoint)
    old_style = await client.chat.completions.create(
        model=endpoint.model, messages=user(LONG_ANSWER), max_tokens=3
    )
    new_style = await client.chat.completions.create(
        model=endpoint.model, messages=user(LONG_ANSWER), max_completion_tokens=5
    )
    both = await client.chat.completions.create(
        model=endpoint.model, messages=user(LONG_ANSWER), max_tokens=9, max_completion_tokens=4
    )
    assert old_style.usage is not None and old_style.usage.completion_tokens == 3
    assert new_style.usage is not None and new_style.usage.completion_tokens == 5
    assert both.usage is not None and both.usage.completion_tokens == 4  # the newer name wins
    assert {r.choices[0].finish_reason for r in (old_style, new_style, both)} == {"length"}


async def test_a_stop_sequence_ends_the_answer_just_before_it(endpoint: Endpoint) -> None:
    client = sdk(endpoint)
    request = {"model": endpoint.model, "messages": user(LONG_ANSWER), "temperature": 0.0}
    full = await client.chat.completions.create(**request, max_tokens=40)
    text = full.choices[0].message.content or ""
    stop = next(word for word in text.split()[4:] if len(word) >= 4 and text.index(word) > 0)
    expected = text[: text.index(stop)]

    stopped = await client.chat.completions.create(**request, max_tokens=40, stop=[stop])
    assert stopped.choices[0].message.content == expected
    assert stopped.choices[0].finish_reason == "stop"

    events = await stream_events(endpoint, {**request, "max_tokens": 40, "stop": stop})
    assert text_of(events) == expected
    assert events[-2]["choices"][0]["finish_reason"] == "stop"


async def test_content_as_a_list_of_parts_works_as_open_webui_sends_it(endpoint: Endpoint) -> None:
    question = "What is the capital of France?"
    parts = [{"type": "text", "text": question, "cache_control": {"type": "ephemeral"}}]
    open_webui_request = {
        "model": endpoint.model,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": parts},
        ],
        "stream_options": {"include_usage": True},
        "max_tokens": 16,
    }
    events = await stream_events(endpoint, open_webui_request)
    assert text_of(events).strip()
    assert events[-2]["choices"] == [] and events[-2]["usage"]["completion_tokens"] > 0

    # The parts' text reaches the model: the prompt is as long as with a plain string.
    client = sdk(endpoint)
    as_parts = await client.chat.completions.create(
        model=endpoint.model, messages=[{"role": "user", "content": parts}], max_tokens=1
    )
    as_string = await client.chat.completions.create(
        model=endpoint.model, messages=user(question), max_tokens=1
    )
    assert as_parts.usage is not None and as_string.usage is not None
    assert as_parts.usage.prompt_tokens == as_string.usage.prompt_tokens


async def test_an_alias_works_as_the_model_of_a_request(endpoint: Endpoint) -> None:
    reply = await sdk(endpoint).chat.completions.create(
        model=endpoint.alias, messages=user("Hi"), max_tokens=3
    )
    assert reply.model == endpoint.model
    assert reply.usage is not None and reply.usage.completion_tokens > 0


async def test_two_streams_at_once_both_finish(endpoint: Endpoint) -> None:
    # Open WebUI asks for a title while the answer streams.
    body = {"model": endpoint.model, "messages": user(LONG_ANSWER), "max_tokens": 10}
    first, second = await asyncio.gather(
        stream_events(endpoint, body), stream_events(endpoint, body)
    )
    assert first[-1] == second[-1] == "[DONE]"
    assert text_of(first) and text_of(second)


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_an_unknown_model_is_a_404_with_an_openai_error(
    endpoint: Endpoint, stream: bool
) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        await sdk(endpoint).chat.completions.create(
            model="no-such-model", messages=user("Hi"), stream=stream
        )
    assert raised.value.code == "model_not_found"
    assert "no-such-model" in raised.value.message


@pytest.mark.parametrize("stream", [False, True])
async def test_an_over_long_prompt_is_a_clear_400(endpoint: Endpoint, stream: bool) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk(endpoint).chat.completions.create(
            model=endpoint.model, messages=user(TOO_LONG_PROMPT), stream=stream
        )
    assert raised.value.code == "context_length_exceeded"
    assert "exceeds the model's maximum context length of 8192 tokens" in raised.value.message
    assert ".cc:" not in raised.value.message  # no native source locations


async def test_an_over_long_streamed_prompt_is_json_not_an_event_stream(endpoint: Endpoint) -> None:
    # Open WebUI only reads a reply as a stream when its Content-Type says so.
    body = {"model": endpoint.model, "messages": user(TOO_LONG_PROMPT), "stream": True}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{endpoint.url}/chat/completions", json=body, headers=auth(endpoint)) as r,
    ):
        assert r.status == 400
        assert r.content_type == "application/json"
        error = (await r.json())["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "messages"


async def test_tools_the_model_cannot_call_are_a_400_that_is_not_retried(
    endpoint: Endpoint,
) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    started = time.perf_counter()
    with pytest.raises(openai.BadRequestError) as raised:  # the SDK retries a 500, not a 400
        await sdk(endpoint, max_retries=2).chat.completions.create(
            model=endpoint.model, messages=user("Weather in Paris?"), tools=[tool]
        )
    assert raised.value.param == "tools"
    assert time.perf_counter() - started < 0.5  # one request; retries wait about 1.4 s


@pytest.mark.parametrize(
    ("option", "value"), [("n", 2), ("logprobs", True)]
)  # fmt: skip
async def test_options_the_endpoint_cannot_honour_are_refused(
    endpoint: Endpoint, option: str, value: object
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk(endpoint).chat.completions.create(
            model=endpoint.model, messages=user("Hi"), max_tokens=3, **{option: value}
        )
    assert raised.value.param == option


# -- the connection -----------------------------------------------------------------------------


async def test_a_client_leaving_mid_stream_leaves_the_server_ready(endpoint: Endpoint) -> None:
    endpoint.process.skip_output_so_far()
    body = {"model": endpoint.model, "messages": user(LONG_ANSWER), "max_tokens": 4000}
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{endpoint.url}/chat/completions", json={**body, "stream": True},
            headers=auth(endpoint),
        )  # fmt: skip
        data_lines = 0
        async for line in response.content:
            data_lines += line.startswith(b"data: {")
            if data_lines == 3:
                break
        response.close()  # gone, with up to 4000 tokens still to come

    # The gateway closed its request to Foundry Local, which stops generating when that happens.
    await asyncio.to_thread(endpoint.process.wait_for_line, r"client left a stream", 10)
    started = time.perf_counter()
    next_reply = await sdk(endpoint).chat.completions.create(
        model=endpoint.model, messages=user("Hi"), max_tokens=5
    )
    assert next_reply.usage is not None and next_reply.usage.completion_tokens > 0
    # Served at once: not after the abandoned 4000 tokens (20+ s at this machine's speed).
    assert time.perf_counter() - started < 5


async def test_requests_without_the_api_key_get_a_401(endpoint: Endpoint) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{endpoint.url}/models") as response,
    ):
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        error = (await response.json())["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert set(error) == {"message", "type", "param", "code"}

    with pytest.raises(openai.AuthenticationError):
        await sdk(endpoint, api_key="not-the-key").chat.completions.create(
            model=endpoint.model, messages=user("Hi"), max_tokens=3
        )
    accepted = await sdk(endpoint).chat.completions.create(
        model=endpoint.model, messages=user("Hi"), max_tokens=3
    )
    assert accepted.choices[0].message.content is not None


async def test_a_browser_at_the_configured_origin_may_call_the_endpoint(
    endpoint: Endpoint,
) -> None:
    preflight = {
        "Origin": BROWSER_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with aiohttp.ClientSession() as session:
        async with session.options(f"{endpoint.url}/chat/completions", headers=preflight) as ok:
            assert ok.status == 204
            assert ok.headers["Access-Control-Allow-Origin"] == BROWSER_ORIGIN
            assert "POST" in ok.headers["Access-Control-Allow-Methods"]
        async with session.get(
            f"{endpoint.url}/models", headers={"Origin": BROWSER_ORIGIN, **auth(endpoint)}
        ) as listing:
            assert listing.headers["Access-Control-Allow-Origin"] == BROWSER_ORIGIN
