"""The reported attacks on the endpoint, replayed against the real `serve` command.

`keyless` is the endpoint as a fresh clone starts it (default settings: no API key, no CORS),
which is where the attacks worked; `endpoint` (tests/conftest.py) has a key and one browser
origin. Paths go out over a raw socket (tests/support/raw_http.py) so that nothing normalizes
them on the way, and each test ends by asking Foundry itself whether the model is still loaded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web
from playwright.async_api import Browser, Response

from tests.support.apps import BROWSER_ORIGIN
from tests.support.browser import new_page
from tests.support.endpoint_probes import (
    MANAGEMENT_PROBES,
    loaded_models,
    looks_like_management,
    private_host,
)
from tests.support.processes import Endpoint, start_bundled_endpoint
from tests.support.raw_http import raw_request

pytestmark = [pytest.mark.e2e]  # runs `serve`

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def keyless(
    bundled_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Endpoint]:
    running = start_bundled_endpoint(tmp_path_factory.mktemp("keyless-endpoint-data"))
    yield running
    running.process.stop()


def chat(endpoint: Endpoint, **options: Any) -> dict[str, Any]:
    return {
        "model": endpoint.model,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 3,
        **options,
    }


async def assert_the_model_still_answers(endpoint: Endpoint) -> None:
    assert await loaded_models(endpoint) == [endpoint.model]
    async with openai.AsyncOpenAI(
        base_url=endpoint.url, api_key=endpoint.api_key or "any", max_retries=0
    ) as client:
        reply = await client.chat.completions.create(**chat(endpoint))
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens > 0


async def test_foundrys_own_service_listens_on_a_random_loopback_address(
    keyless: Endpoint, endpoint: Endpoint
) -> None:
    hosts = {private_host(keyless), private_host(endpoint)}
    assert all(ipaddress.ip_address(host).is_loopback for host in hosts)
    assert "127.0.0.1" not in hosts and len(hosts) == 2  # one random address per process
    # The route the attack unloaded the model through is real, there: the checks below mean it.
    assert await loaded_models(keyless) == [keyless.model]


@pytest.mark.parametrize("which", ["keyless", "endpoint"])
async def test_management_routes_are_out_of_reach_in_any_encoding(
    which: str, request: pytest.FixtureRequest
) -> None:
    endpoint: Endpoint = request.getfixturevalue(which)
    key = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    answers = []
    for target in MANAGEMENT_PROBES:
        for method in ("GET", "POST"):
            reply = await raw_request(
                endpoint.url, method, target, {**JSON, **key}, json.dumps(chat(endpoint)).encode()
            )
            answers.append((method, target, reply.status, reply.body))
    leaked = [(m, t, s) for m, t, s, body in answers if looks_like_management(body)]
    assert leaked == []
    assert {s for _, _, s, _ in answers} <= {400, 404, 405}, answers
    assert all(set(json.loads(body)["error"]) == {"message", "type", "param", "code"}
               for *_, body in answers)  # fmt: skip
    await assert_the_model_still_answers(endpoint)


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"max_tokens": "16"}, "max_tokens"),  # was silently ignored: 1,584 tokens in 31 s
        ({"messages": [{"role": "wizard", "content": "Hi"}]}, "messages[0].role"),
        ({"stream": "true"}, "stream"),
        ({"n": 0}, "n"),
        ({"messages": [{"role": "user", "content": "\ud800"}]}, "messages[0].content"),
    ],
)
async def test_the_reported_malformed_requests_get_a_400_naming_the_parameter(
    keyless: Endpoint, change: dict[str, Any], param: str
) -> None:
    body = json.dumps({**chat(keyless), **change}).encode()
    reply = await raw_request(keyless.url, "POST", "/v1/chat/completions", JSON, body)
    assert reply.status == 400
    assert reply.json()["error"]["param"] == param


async def test_deeply_nested_json_is_a_400_in_openai_shape_not_a_500(keyless: Endpoint) -> None:
    depth = 100_000  # was a plain-text 500 (RecursionError)
    body = ('{"model": "m", "messages": ' + "[" * depth + "]" * depth + "}").encode()
    reply = await raw_request(keyless.url, "POST", "/v1/chat/completions", JSON, body)
    assert reply.status == 400
    assert "nests deeper than" in reply.json()["error"]["message"]
    await assert_the_model_still_answers(keyless)


async def test_a_foreign_origin_is_refused_and_the_configured_one_served(
    endpoint: Endpoint,
) -> None:
    key = {"Authorization": f"Bearer {endpoint.api_key}", **JSON}
    body = json.dumps(chat(endpoint)).encode()
    for origin in ("http://evil.example", "http://127.0.0.1:1234", "null"):
        for method, target in (("POST", "/v1/chat/completions"), ("GET", "/v1/models")):
            reply = await raw_request(endpoint.url, method, target, {**key, "Origin": origin}, body)
            assert reply.status == 403, (origin, target)
            assert reply.json()["error"]["code"] == "cors_origin_not_allowed"
    allowed = await raw_request(
        endpoint.url, "POST", "/v1/chat/completions", {**key, "Origin": BROWSER_ORIGIN}, body
    )
    assert allowed.status == 200
    assert allowed.headers["access-control-allow-origin"] == BROWSER_ORIGIN
    assert allowed.json()["choices"][0]["message"]["content"]
    for spelled in ("http://LOCALHOST:3000", "HTTP://localhost:3000"):  # the same origin
        listing = await raw_request(endpoint.url, "GET", "/v1/models", {**key, "Origin": spelled})
        assert listing.status == 200, spelled
        assert listing.headers["access-control-allow-origin"] == spelled


async def test_a_post_that_is_not_json_is_a_415(keyless: Endpoint) -> None:
    body = json.dumps(chat(keyless)).encode()
    reply = await raw_request(
        keyless.url, "POST", "/v1/chat/completions", {"Content-Type": "text/plain"}, body
    )
    assert reply.status == 415
    assert reply.json()["error"]["code"] == "unsupported_media_type"


async def test_beyond_the_default_queue_a_request_is_told_at_once_to_retry(
    keyless: Endpoint,
) -> None:
    """Defaults: one completion at a time, 16 waiting. With one answer streaming, of 17 more
    requests exactly one (whichever came last) gets a 429 with Retry-After; the rest are served
    once the first client leaves."""
    async with aiohttp.ClientSession() as session:
        streaming = await session.post(
            f"{keyless.url}/chat/completions",
            json=chat(keyless, max_tokens=4000, stream=True),
        )
        # Its first event (a keep-alive comment, then tokens) means it holds the one place.
        assert (await streaming.content.readline()).startswith((b"data:", b":"))

        async def one_more() -> tuple[int, str | None]:
            async with session.post(
                f"{keyless.url}/chat/completions", json=chat(keyless, max_tokens=1)
            ) as reply:
                await reply.read()
                return reply.status, reply.headers.get("Retry-After")

        others = [asyncio.ensure_future(one_more()) for _ in range(17)]
        done, _ = await asyncio.wait(others, return_when=asyncio.FIRST_COMPLETED, timeout=60)
        [(status, retry_after)] = [task.result() for task in done]
        assert status == 429 and retry_after is not None and int(retry_after) >= 1
        streaming.close()  # the first client leaves: the 16 waiting are answered in turn
        results = await asyncio.wait_for(asyncio.gather(*others), timeout=120)
    assert sorted(status for status, _ in results) == [200] * 16 + [429]


# -- a web page on another port, in a real browser --------------------------------------------

ATTACK_PAGE = """<!doctype html><title>not the endpoint</title><script>
async function attack(endpoint, targets, chatBody) {
  const shots = [];
  for (const target of targets) {
    shots.push(fetch(endpoint + target, {mode: "no-cors"}));
    shots.push(fetch(endpoint + target, {mode: "no-cors", method: "POST", body: chatBody}));
  }
  // "Simple" requests, sent without a preflight: text/plain and form bodies.
  shots.push(fetch(endpoint + "/v1/chat/completions",
    {mode: "no-cors", method: "POST", body: chatBody, headers: {"Content-Type": "text/plain"}}));
  const form = new URLSearchParams({model: "x", messages: "y"});
  shots.push(fetch(endpoint + "/v1/chat/completions",
    {mode: "no-cors", method: "POST", body: form}));
  const settled = await Promise.allSettled(shots);
  return settled.length;
}
</script>"""


@pytest.fixture
async def attack_page() -> AsyncIterator[str]:
    """A page on another 127.0.0.1 port: another origin, as any web site is."""
    app = web.Application()

    async def serve_page(_: web.Request) -> web.Response:
        return web.Response(text=ATTACK_PAGE, content_type="text/html")

    app.router.add_get("/", serve_page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_a_web_page_cannot_reach_the_management_routes_from_a_browser(
    browser: Browser, keyless: Endpoint, attack_page: str
) -> None:
    context, page, _ = await new_page(browser, attack_page)
    targets = [t for t in MANAGEMENT_PROBES if t.startswith("/")]
    expected = 2 * len(targets) + 2
    endpoint_origin = keyless.url.removesuffix("/v1")
    statuses: list[tuple[str, str, int]] = []  # what the endpoint answered, read off the network
    all_seen = asyncio.Event()

    def seen(response: Response) -> None:
        if response.url.startswith(endpoint_origin):
            statuses.append((response.request.method, response.url, response.status))
            if len(statuses) == expected:
                all_seen.set()

    page.on("response", seen)
    try:
        await page.goto("/")
        sent = await page.evaluate(
            "([e, t, b]) => attack(e, t, b)",
            [endpoint_origin, targets, json.dumps(chat(keyless))],
        )
        assert sent == expected
        await asyncio.wait_for(all_seen.wait(), timeout=30)  # every shot was answered
    finally:
        await context.close()
    # The page cannot read an opaque answer, but the browser saw each status: nothing served but
    # the public model list, where Chromium itself turned `/v1/./models` into `/v1/models`.
    served = {(method, url) for method, url, status in statuses if status < 400}
    assert served <= {("GET", f"{keyless.url}/models")}, statuses
    assert {status for *_, status in statuses} <= {200, 400, 403, 404, 405, 415}, statuses
    # Chromium sends an Origin with every POST: refused (or its bad path first), never run.
    assert {status for method, _, status in statuses if method == "POST"} <= {400, 403}
    chats = [status for method, url, status in statuses if url.endswith("/chat/completions")]
    assert chats and set(chats) == {403}
    await assert_the_model_still_answers(keyless)
