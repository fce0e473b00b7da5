"""A chat completion request checked against OpenAI's schema before Foundry Local sees it.

Foundry Local 2.2.1 ignores what it cannot read: `max_tokens: "16"` ran 1,584 tokens, and
`role: "wizard"`, `stream: "true"` or `n: 0` were answered. Each check here fails with a 400 that
names the parameter (`param`) and says what was wrong, e.g. `max_tokens: must be an integer, got
string`. Types are JSON's: a boolean is not an integer, and "16" is not a number.

Unknown top-level parameters are refused as OpenAI refuses them ("Unrecognized request
argument"); inside a message or a content part unknown keys are left alone, because clients add
their own (Open WebUI sends `cache_control` on parts).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

from foundry_local_chat.errors import FoundryLocalChatError, shortened
from foundry_local_chat.openai_errors import ApiError
from foundry_local_chat.text_repair import has_lone_surrogates

MAX_DEPTH = 32  # the deepest legitimate body (a tool's JSON schema) nests far less
MAX_INT = 2**31 - 1  # Foundry reads token counts as 32-bit integers
MAX_SEED = 2**63 - 1
ROLES = ("system", "user", "assistant", "tool", "developer")
REASONING_EFFORTS = ("minimal", "low", "medium", "high")
UNSUPPORTED_PARTS = ("image_url", "input_audio", "file")


class Invalid(FoundryLocalChatError):
    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"{param}: {problem}")
        self.param = param


def invalid(error: Invalid) -> ApiError:
    return ApiError(400, str(error), param=error.param, code="invalid_request_parameter")


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# -- the body as JSON ------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_body(raw: bytes) -> Any | ApiError:
    """The JSON body, or a 400: not JSON, nested too deep, or holding text that is not Unicode."""
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        return ApiError(400, f"The request body nests deeper than {MAX_DEPTH} levels.")
    except ValueError as error:  # also bytes that are not UTF-8
        return ApiError(400, f"The request body is not valid JSON: {error}")
    for path, value, depth in _walk(body):
        if depth > MAX_DEPTH:
            return ApiError(400, f"The request body nests deeper than {MAX_DEPTH} levels.")
        if isinstance(value, str) and has_lone_surrogates(value):
            return ApiError(
                400,
                f"{path or 'body'}: has an unpaired surrogate (e.g. \\ud800), which is not "
                "Unicode text.",
                param=path or None,
            )
    return body


def _walk(value: Any) -> Iterator[tuple[str, Any, int]]:
    """Every value (dict keys too) with its path and depth, without recursion."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        yield path, item, depth
        if isinstance(item, dict):
            for key, child in item.items():
                yield path, key, depth + 1
                stack.append((f"{path}.{key}" if path else str(key), child, depth + 1))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child, depth + 1) for i, child in enumerate(item))


# -- value checks ----------------------------------------------------------------------------------


SHOWN_CHARS = 40


def _shown(value: Any) -> str:
    """A client's value inside an error message: at most SHOWN_CHARS characters of its repr (a
    megabyte "role" is not sent back; an int too long for repr is described by its size)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {len(format(value, 'x')) * 4} bits"
    return shortened(repr(value), SHOWN_CHARS)


def _key(key: str) -> str:
    """A client's key inside a parameter's path, shortened like `_shown`."""
    return shortened(key, SHOWN_CHARS)


def _string(param: str, value: Any, *, non_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid(param, f"must be a string, got {json_type(value)}")
    if non_empty and not value:
        raise Invalid(param, "must not be empty")
    return value


def _boolean(param: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise Invalid(param, f"must be a boolean, got {json_type(value)}")


def _integer(param: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(param, f"must be an integer, got {json_type(value)}")
    if not low <= value <= high:
        raise Invalid(param, f"must be between {low} and {high}, got {_shown(value)}")


def _number(param: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(param, f"must be a number, got {json_type(value)}")
    if not (math.isfinite(value) and low <= value <= high):
        raise Invalid(param, f"must be between {low:g} and {high:g}, got {_shown(value)}")


def _object(param: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(param, f"must be an object, got {json_type(value)}")
    return value


def _array(param: str, value: Any, *, non_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(param, f"must be an array, got {json_type(value)}")
    if non_empty and not value:
        raise Invalid(param, "must not be empty")
    return value


def _one_of(param: str, value: Any, allowed: tuple[str, ...]) -> str:
    text = _string(param, value)
    if text not in allowed:
        raise Invalid(param, f"must be one of {', '.join(allowed)}, got {_shown(text)}")
    return text


def _only_keys(param: str, value: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in value:
        if key not in allowed:
            known = ", ".join(allowed)
            raise Invalid(f"{param}.{_key(key)}", f"unknown parameter (known: {known})")


# -- messages --------------------------------------------------------------------------------------


def _content_part(param: str, value: Any, role: str) -> None:
    part = _object(param, value)
    kind = part.get("type")
    text_kinds = ("text", "refusal") if role == "assistant" else ("text",)
    if kind in UNSUPPORTED_PARTS:
        raise Invalid(f"{param}.type", f"{kind} parts are not supported: the model reads text only")
    text_kind = _one_of(f"{param}.type", kind, text_kinds)
    _string(f"{param}.{text_kind}", part.get(text_kind))


def _message(param: str, value: Any) -> None:
    message = _object(param, value)
    if "role" not in message:
        raise Invalid(f"{param}.role", "is required")
    role = message["role"]
    _one_of(f"{param}.role", role, ROLES)
    content = message.get("content")
    may_omit_content = role == "assistant" and bool(message.get("tool_calls"))
    if content is None and not may_omit_content:
        raise Invalid(f"{param}.content", "is required (a string or an array of text parts)")
    if isinstance(content, list):
        for index, part in enumerate(_array(f"{param}.content", content, non_empty=True)):
            _content_part(f"{param}.content[{index}]", part, role)
    elif content is not None and not isinstance(content, str):
        raise Invalid(
            f"{param}.content",
            f"must be a string or an array of text parts, got {json_type(content)}",
        )
    if message.get("name") is not None:
        _string(f"{param}.name", message["name"], non_empty=True)
    if message.get("tool_calls") is not None:
        if role != "assistant":
            raise Invalid(f"{param}.tool_calls", "only assistant messages have tool calls")
        for index, call in enumerate(_array(f"{param}.tool_calls", message["tool_calls"])):
            _object(f"{param}.tool_calls[{index}]", call)
    if role == "tool":
        _string(f"{param}.tool_call_id", message.get("tool_call_id"), non_empty=True)


def _messages(param: str, value: Any) -> None:
    for index, message in enumerate(_array(param, value, non_empty=True)):
        _message(f"{param}[{index}]", message)


# -- parameters ------------------------------------------------------------------------------------


def _stop(param: str, value: Any) -> None:
    stops = [value] if isinstance(value, str) else _array(param, value)
    if len(stops) > 4:
        raise Invalid(param, f"has at most 4 sequences, got {len(stops)}")
    for index, stop in enumerate(stops):
        _string(param if isinstance(value, str) else f"{param}[{index}]", stop, non_empty=True)


def _stream_options(param: str, value: Any) -> None:
    options = _object(param, value)
    _only_keys(param, options, ("include_usage", "include_obfuscation"))
    for key, flag in options.items():
        _boolean(f"{param}.{_key(key)}", flag)


def _logit_bias(param: str, value: Any) -> None:
    for token, bias in _object(param, value).items():
        if not (token.isascii() and token.isdigit()):
            raise Invalid(f"{param}.{_key(token)}", "keys must be token ids (digits)")
        _number(f"{param}.{_key(token)}", bias, -100, 100)


def _string_map(param: str, value: Any) -> None:
    for key, item in _object(param, value).items():
        _string(f"{param}.{_key(key)}", item)


def _response_format(param: str, value: Any) -> None:
    kinds = ("text", "json_object", "json_schema")
    _one_of(f"{param}.type", _object(param, value).get("type"), kinds)


def _tool_choice(param: str, value: Any) -> None:
    if isinstance(value, str):
        _one_of(param, value, ("none", "auto", "required"))
    else:
        _object(param, value)


def _objects(param: str, value: Any) -> None:
    for index, item in enumerate(_array(param, value)):
        _object(f"{param}[{index}]", item)


def _strings(param: str, value: Any) -> None:
    for index, item in enumerate(_array(param, value)):
        _string(f"{param}[{index}]", item)


Check = Callable[[str, Any], object]  # raises Invalid; what it returns is not used

# Every parameter of OpenAI's chat completion request, with its check; null means "not set".
PARAMETERS: dict[str, Check] = {
    "model": lambda p, v: None,  # required: checked first, in check_chat_request
    "messages": _messages,
    "stream": _boolean,
    "stream_options": _stream_options,
    "max_tokens": lambda p, v: _integer(p, v, 1, MAX_INT),
    "max_completion_tokens": lambda p, v: _integer(p, v, 1, MAX_INT),
    "temperature": lambda p, v: _number(p, v, 0, 2),
    "top_p": lambda p, v: _number(p, v, 0, 1),
    "n": lambda p, v: _integer(p, v, 1, 128),
    "presence_penalty": lambda p, v: _number(p, v, -2, 2),
    "frequency_penalty": lambda p, v: _number(p, v, -2, 2),
    "stop": _stop,
    "logprobs": _boolean,
    "top_logprobs": lambda p, v: _integer(p, v, 0, 20),
    "seed": lambda p, v: _integer(p, v, -MAX_SEED - 1, MAX_SEED),
    "logit_bias": _logit_bias,
    "user": _string,
    "metadata": _string_map,
    "store": _boolean,
    "service_tier": _string,
    "reasoning_effort": lambda p, v: _one_of(p, v, REASONING_EFFORTS),
    "response_format": _response_format,
    "tools": _objects,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": _boolean,
    "functions": _objects,
    "function_call": _tool_choice,
    "modalities": _strings,
    "audio": _object,
    "prediction": _object,
    "web_search_options": _object,
    "verbosity": lambda p, v: _one_of(p, v, ("low", "medium", "high")),
    "prompt_cache_key": _string,
    "safety_identifier": _string,
}


def check_chat_request(body: Any) -> ApiError | None:
    """None when the body is a well-formed chat completion request, else the 400 saying why."""
    if not isinstance(body, dict):
        return ApiError(400, f"The request body must be a JSON object, got {json_type(body)}.")
    try:
        request = body
        for name in ("model", "messages"):
            if request.get(name) is None:
                raise Invalid(name, "is required")
        _string("model", request["model"], non_empty=True)
        for name, value in request.items():
            check = PARAMETERS.get(name)
            if check is None:
                raise Invalid(name, "unrecognized request argument")
            if value is not None:
                check(name, value)
    except Invalid as error:
        return invalid(error)
    return None
