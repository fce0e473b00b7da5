"""What an attacker sends at the endpoint to reach Foundry Local's management routes, and how a
test tells such a route's answer, and whether the model is still loaded."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import aiohttp

from tests.support.processes import Endpoint

# Foundry's management routes through dot segments or encoded separators: the reported ones
# (`/v1/%2e%2e/status`, `/v1/models/..%2F..%2Fmodels%2Floaded`, `…%2Funload%2F…`) and variants
# in other encodings (upper case, mixed, double and triple encoded, backslashes) and positions.
MANAGEMENT_PROBES = [
    "/v1/%2e%2e/status",
    "/v1/%2E%2E/status",
    "/v1/%2e./status",
    "/v1/.%2e/models/loaded",
    "/v1/%252e%252e/status",
    "/v1/%25252e%25252e/status",
    "/v1/../status",
    "/v1/./models",
    "/v1/models/..%2F..%2Fmodels%2Floaded",
    "/v1/models/..%2F..%2Fmodels%2Funload%2Fsmollm2-135m-instruct",
    "/v1/models/..%2f..%2fmodels%2funload%2fsmollm2-135m-instruct-generic-cpu:1",
    "/v1/models/..%252F..%252Fmodels%252Floaded",
    "/v1/models/%2e%2e%2f%2e%2e%2fstatus",
    "/v1/models/..\\..\\status",
    "/v1/models/%5c..%5cstatus",
    "/v1/models/x%2F..%2F..%2Fstatus",
    "/v1/models/%2e%2e",
    "/v1/models/..",
    "/v1/chat/completions/../../status",
    "/v1/chat/%2e%2e/%2e%2e/models/unload/smollm2-135m-instruct",
    "//status",
    "/status",
    "/models/loaded",
    "/models/unload/smollm2-135m-instruct",
    "/models/load/smollm2-135m-instruct",
    "/v1/models/loaded/../../../status",
    "/v1/%2fstatus",
    "/v1/models/%00",
    "http://127.0.0.1/status",
]


def looks_like_management(body: bytes) -> bool:
    """Foundry's /status (`modelCachePath`, `pid`) or /models/loaded (a bare JSON list)."""
    if b"modelCachePath" in body or b'"pid"' in body:
        return True
    try:
        return isinstance(json.loads(body), list)
    except ValueError:
        return False


def foundry_web_url(endpoint: Endpoint) -> str:
    """Foundry's own web service behind the endpoint, as `serve` logs it (without /v1)."""
    line = endpoint.process.find_line(r"own web service \(behind the endpoint\): (\S+)", 30)
    return line[1].removesuffix("/v1")


async def loaded_models(endpoint: Endpoint) -> list[str]:
    """Asked of Foundry directly: the route an attacker would unload the model through."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{foundry_web_url(endpoint)}/models/loaded") as reply,
    ):
        assert reply.status == 200
        return await reply.json(content_type=None)


def private_host(endpoint: Endpoint) -> str:
    return urlsplit(foundry_web_url(endpoint)).hostname or ""
