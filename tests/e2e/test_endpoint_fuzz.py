"""Property-based fuzzing of the real endpoint (the `endpoint` fixture: `serve` with the bundled
model, an API key, CORS for one origin): request bodies, and methods and raw paths.

Whatever arrives, the endpoint answers within a bounded time, never with a 5xx, never with a
management route's content, and the model still answers afterwards. Generated requests that are
valid ask for at most a few tokens, so each example takes milliseconds to a fraction of a second.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.endpoint_probes import MANAGEMENT_PROBES, loaded_models, looks_like_management
from tests.support.processes import Endpoint
from tests.support.raw_http import RawReply, raw_request

REQUEST_TIMEOUT = 60  # s; a valid example generates at most 4 tokens
FUZZ = settings(
    max_examples=120,
    deadline=None,  # each example is a real HTTP exchange with a real model
    database=None,  # nothing written into the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
PARAMETERS = [
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "n", "presence_penalty", "frequency_penalty", "stop", "logprobs",
    "top_logprobs", "seed", "user", "metadata", "tools", "tool_choice", "response_format",
    "logit_bias", "unknown_parameter",
]  # fmt: skip
ROLES = ["system", "user", "assistant", "tool", "developer", "wizard", "", "USER"]


def message() -> st.SearchStrategy[Any]:
    content = st.text(max_size=20) | st.lists(
        st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "x"])},
                              optional={"text": st.text(max_size=10) | json_values}),
        max_size=2,
    ) | json_values  # fmt: skip
    return st.fixed_dictionaries(
        {}, optional={"role": st.sampled_from(ROLES) | json_values, "content": content,
                      "tool_call_id": st.text(max_size=4), "name": json_values},
    ) | json_values  # fmt: skip


def bodies(endpoint: Endpoint) -> st.SearchStrategy[dict[str, Any]]:
    valid = {
        "model": endpoint.model,
        "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 2,
    }
    changes = st.dictionaries(
        st.sampled_from(PARAMETERS),
        json_values | st.sampled_from([True, False, "true", "16", 0, 1, -1, 2.5, 2**31, 2**70])
        | st.lists(message(), max_size=3),
        max_size=4,
    )  # fmt: skip
    return changes.map(lambda change: short({**valid, **change}))


def short(body: dict[str, Any]) -> dict[str, Any]:
    """Valid token limits above 4 come down to 4, so a valid example generates little."""
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 4:
            body[name] = 4
    if body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        body["max_completion_tokens"] = 2
    return body


def auth(endpoint: Endpoint) -> dict[str, str]:
    return {"Authorization": f"Bearer {endpoint.api_key}"}


def check(reply: RawReply, what: str) -> None:
    assert reply.status < 500, f"{what} -> {reply}"
    assert not looks_like_management(reply.body), f"{what} -> {reply}"


def fuzz_bodies(endpoint: Endpoint) -> None:
    @FUZZ
    @given(body=bodies(endpoint))
    def one(body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        reply = asyncio.run(
            raw_request(
                endpoint.url, "POST", "/v1/chat/completions",
                {"Content-Type": "application/json", **auth(endpoint)}, data, REQUEST_TIMEOUT,
            )
        )  # fmt: skip
        check(reply, f"POST {body!r}")
        if reply.status == 200 and body.get("stream") is not True:
            assert reply.json()["object"] == "chat.completion"
        if reply.status >= 400:
            assert set(reply.json()["error"]) == {"message", "type", "param", "code"}

    one()


def test_no_request_body_gets_a_5xx_or_hangs(endpoint: Endpoint) -> None:
    fuzz_bodies(endpoint)
    assert_the_model_still_answers(endpoint)


raw_bodies = st.binary(max_size=64) | st.text(max_size=64).map(str.encode) | st.builds(
    lambda depth, opener: (opener * depth).encode(), st.integers(0, 5000), st.sampled_from("[{")
)  # fmt: skip


def test_no_raw_body_gets_a_5xx_or_hangs(endpoint: Endpoint) -> None:
    @FUZZ
    @given(data=raw_bodies, content_type=st.sampled_from(["application/json", "text/plain", ""]))
    def one(data: bytes, content_type: str) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        reply = asyncio.run(
            raw_request(
                endpoint.url, "POST", "/v1/chat/completions", {**headers, **auth(endpoint)},
                data, REQUEST_TIMEOUT,
            )
        )  # fmt: skip
        check(reply, f"POST {data!r}")
        assert reply.status in (400, 415)

    one()


SEGMENTS = [
    "v1", "models", "chat", "completions", "status", "loaded", "unload", "load", "embeddings",
    "..", ".", "%2e%2e", "%2E%2e", ".%2e", "%252e%252e", "..%2f", "%2f", "%2F", "%5c", "\\",
    "%00", "smollm2-135m-instruct", "smollm2-135m-instruct-generic-cpu:1",
    "smollm2-135m-instruct-generic-cpu%3A1", "", "%", "%zz", "%c3%28", "~", ";", "@",
]  # fmt: skip
# Printable ASCII that may stand in an HTTP/1.1 request target (no space, no control character).
TARGET_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
paths = st.builds(
    lambda segments, query: "/" + "/".join(segments) + query,
    st.lists(st.sampled_from(SEGMENTS) | st.text(TARGET_CHARS, max_size=6), max_size=6),
    st.sampled_from(["", "?x=1", "?../../status", "?"]),
) | st.sampled_from(MANAGEMENT_PROBES)  # fmt: skip
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
SERVED = {("GET", "/v1/models"), ("GET", "/v1/models/{model}"), ("OPTIONS", "*")}
OPERATOR_ROUTES = {"/healthz", "/readyz", "/metrics"}


def test_no_method_or_path_reaches_anything_but_the_served_routes(endpoint: Endpoint) -> None:
    @FUZZ
    @given(method=st.sampled_from(METHODS), target=paths)
    def one(method: str, target: str) -> None:
        headers = {"Content-Type": "application/json", **auth(endpoint)}
        body = b'{"model": "m", "messages": []}' if method != "GET" else b""
        reply = asyncio.run(
            raw_request(endpoint.url, method, target, headers, body, REQUEST_TIMEOUT)
        )
        check(reply, f"{method} {target}")
        if target.partition("?")[0] in OPERATOR_ROUTES:  # tests/test_operations*.py
            return
        if reply.status < 300 and method != "OPTIONS":
            # Only the model list or one model: what GET /v1/models and /v1/models/{id} serve.
            assert method == "GET", f"{method} {target} -> {reply}"
            served = reply.json()
            assert served.get("object") in {"list", "model"}, f"{method} {target} -> {reply}"

    one()
    assert_the_model_still_answers(endpoint)


def assert_the_model_still_answers(endpoint: Endpoint) -> None:
    async def check_answer() -> None:
        assert await loaded_models(endpoint) == [endpoint.model]
        body = {"model": endpoint.model, "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 3}  # fmt: skip
        reply = await raw_request(
            endpoint.url, "POST", "/v1/chat/completions",
            {"Content-Type": "application/json", **auth(endpoint)}, json.dumps(body).encode(),
        )  # fmt: skip
        assert reply.status == 200 and reply.json()["choices"][0]["message"]["content"]

    asyncio.run(check_answer())
