"""The routes the public endpoint serves: an explicit allow-list, matched on the raw request path.

Foundry Local's web service also has management routes (`/status`, `/models/loaded`,
`/models/unload/{name}`, …) with no authentication. The gateway must never reach them, so nothing
here is decided on a decoded or normalized path: a path with a dot segment or an encoded separator,
in any encoding (`..`, `%2e%2e`, `%252e`, `%2f`, `\\`), is refused before any route is looked at,
and a path parameter is checked against a strict character set before it goes into a URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from foundry_local_chat.endpoint.openai_errors import ApiError

MODEL_PARAM = "{model}"
MAX_PATH_LENGTH = 1024
# Foundry's model ids: `name:version` with letters, digits, '.', '_', '-' (e.g. qwen2.5-0.5b…:3).
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
# RFC 3986 path characters; anything else (a backslash, a space, '#', a quote…) is refused.
_PATH_CHARS = re.compile(r"[A-Za-z0-9\-._~%!$&'()*+,;=:@/]*")
_DECODE_ROUNDS = 4  # a double (or deeper) encoded dot or slash is found as well


@dataclass(frozen=True)
class Route:
    method: str
    segments: tuple[str, ...]  # MODEL_PARAM where a model id goes
    name: str  # the gateway's handler for it
    needs_key: bool = True  # ENDPOINT_API_KEY, when set; probes of orchestrators send none
    needs_model: bool = True  # answered with a 503 until Foundry Local serves the model


ROUTES = (
    Route("GET", ("v1", "models"), "list_models"),
    Route("GET", ("v1", "models", MODEL_PARAM), "retrieve_model"),
    Route("POST", ("v1", "chat", "completions"), "chat_completions"),
    # Operations (README, "Operating it"): liveness and readiness say only whether the parts
    # work; the metrics tell how it is used, so they want the key.
    Route("GET", ("healthz",), "healthz", needs_key=False, needs_model=False),
    Route("GET", ("readyz",), "readyz", needs_key=False, needs_model=False),
    Route("GET", ("metrics",), "metrics", needs_model=False),
)


@dataclass(frozen=True)
class Match:
    route: Route
    model: str | None = None  # the decoded, checked model id of a /v1/models/{model} request


def bad_path(message: str) -> ApiError:
    return ApiError(400, message, code="invalid_request_path")


def _decoded(segment: str) -> str:
    """A segment decoded until nothing changes (bounded), so `%252e` is seen as '.'."""
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(segment, errors="strict")
        if decoded == segment:
            return segment
        segment = decoded
    return segment


def split_path(raw_target: str) -> list[str] | ApiError:
    """The raw segments of a request target's path, or why the path is refused."""
    path = raw_target.partition("?")[0]
    if not path.startswith("/") or path.startswith("//"):
        return bad_path("The request target must be an absolute path such as /v1/models.")
    if len(path) > MAX_PATH_LENGTH:
        return bad_path(f"The request path is longer than {MAX_PATH_LENGTH} characters.")
    if _PATH_CHARS.fullmatch(path) is None:
        return bad_path("The request path has characters a URL path may not contain.")
    segments = path[1:].split("/")
    for segment in segments:
        try:
            decoded = _decoded(segment)
        except UnicodeDecodeError:
            return bad_path("The request path has percent-encoded bytes that are not UTF-8.")
        if decoded in {".", ".."} or decoded.startswith(".."):
            return bad_path("The request path may not contain dot segments ('.', '..').")
        if any(separator in decoded for separator in "/\\"):
            return bad_path("The request path may not contain encoded '/' or '\\'.")
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in decoded):
            return bad_path("The request path may not contain control characters.")
    return segments


def _fits(route: Route, segments: list[str]) -> bool:
    return len(route.segments) == len(segments) and all(
        expected == given or (expected == MODEL_PARAM and given != "")
        for expected, given in zip(route.segments, segments, strict=True)
    )


def allowed_methods(segments: list[str]) -> list[str]:
    return [route.method for route in ROUTES if _fits(route, segments)]


def resolve(method: str, raw_target: str) -> Match | ApiError:
    """The allow-listed route for this method and raw request target, else a 400/404/405 error."""
    segments = split_path(raw_target)
    if isinstance(segments, ApiError):
        return segments
    path = "/" + "/".join(segments)
    fitting = [route for route in ROUTES if _fits(route, segments)]
    if not fitting:
        return ApiError(
            404,
            f"{method} {path} is not served here. This endpoint serves GET /v1/models, "
            "GET /v1/models/{model}, POST /v1/chat/completions, and GET /healthz, /readyz "
            "and /metrics.",
            code="unknown_url",
        )
    route = next((route for route in fitting if route.method == method), None)
    if route is None:
        allowed = ", ".join(route.method for route in fitting)
        return ApiError(
            405, f"{method} is not allowed on {path}: use {allowed}.", code="method_not_allowed"
        )
    if MODEL_PARAM not in route.segments:
        return Match(route)
    model = unquote(segments[route.segments.index(MODEL_PARAM)])
    if MODEL_ID.fullmatch(model) is None or ".." in model:
        return ApiError(
            400,
            f"{model!r} is not a model id: ids are up to 200 letters, digits, '.', '_', '-' "
            "and ':'.",
            param="model",
            code="invalid_model_id",
        )
    return Match(route, model)


def model_path(model: str) -> str:
    """Foundry's path for one model; the id is checked by `resolve` and quoted all the same."""
    return f"/v1/models/{quote(model, safe=':')}"
