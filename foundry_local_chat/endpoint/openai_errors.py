"""OpenAI-shaped errors, and Foundry Local's native errors translated into them.

Foundry Local 2.2.1 reports errors with native source locations and C++ signatures in the message,
a 500 for a request it merely does not support (tools), and, on a stream, as a `data: {"error":…}`
event after a 200. Clients (the openai SDK, Open WebUI) act on the HTTP status and on
`error.code`, so the gateway turns every such error into the status and code OpenAI would send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"

_NATIVE_LOCATION = re.compile(r"[\w./-]+\.(?:cc|cpp|h|hpp):\d+ ")
_BUDGET = re.compile(
    r"requires (?P<total>\d+) total tokens \((?P<input>\d+) input \+ (?P<output>\d+) output\), "
    r"which exceeds the model's maximum context length of (?P<context>\d+) tokens"
)
_TOOLS_UNSUPPORTED = "structured tool calling requires model-published"


@dataclass(frozen=True)
class ApiError:
    status: int
    message: str
    type: str = INVALID_REQUEST
    param: str | None = None
    code: str | None = None

    def body(self) -> dict[str, dict[str, Any]]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass(frozen=True)
class ContextBudget:
    """Foundry's context check: prompt tokens + reserved output tokens must fit the context."""

    input_tokens: int
    output_tokens: int
    context_length: int

    @property
    def room_for_output(self) -> int:
        return self.context_length - self.input_tokens


def readable(message: str) -> str:
    """Drop the native source location and function signature Foundry puts in its messages.

    `Invalid request: search_options.cc:108 int fl::Validate…(int64_t, int, int) request requires…`
    becomes `Request requires…`. A message in any other shape is returned unchanged.
    """
    text = message.removeprefix("Invalid request: ")
    location = _NATIVE_LOCATION.search(text)
    if location is None:
        return message
    signature = text[location.end() :]
    depth = 0
    for index, char in enumerate(signature):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                rest = (text[: location.start()] + signature[index + 1 :].lstrip()).strip()
                return rest[:1].upper() + rest[1:] if rest else message
    return message


def context_budget(message: str) -> ContextBudget | None:
    """The numbers of a context-length rejection, or None for any other message."""
    match = _BUDGET.search(message)
    if match is None:
        return None
    return ContextBudget(int(match["input"]), int(match["output"]), int(match["context"]))


def from_foundry(status: int | None, payload: Any) -> ApiError:
    """Translate a Foundry Local error; status None means it arrived as a stream's first event."""
    detail = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(detail, dict):
        raw_message = str(detail.get("message") or "")
        error_type = str(detail.get("type") or "")
        param, code = detail.get("param"), detail.get("code")
    else:  # plain text, e.g. the web server's own 404 page: `…\nmessage=No mapping for …`
        raw_message, error_type, param, code = str(payload or ""), "", None, None
        raw_message = raw_message.rpartition("message=")[2]
    message = readable(raw_message) or "Foundry Local rejected the request."
    if status is None:  # in-band: the status the non-streaming request gets for the same fault
        status = 500 if error_type == SERVER_ERROR else 400
    if not error_type:
        error_type = SERVER_ERROR if status >= 500 else INVALID_REQUEST

    if _TOOLS_UNSUPPORTED in raw_message:
        return ApiError(
            400,
            "This model does not support tool calling: send the request without `tools`.",
            INVALID_REQUEST,
            "tools",
            "unsupported_parameter",
        )
    if context_budget(raw_message) is not None:
        return ApiError(400, message, INVALID_REQUEST, "messages", "context_length_exceeded")
    if status == 404 and message.startswith("Model not found"):
        return ApiError(404, message, INVALID_REQUEST, "model", "model_not_found")
    return ApiError(status, message, error_type, param, code)
