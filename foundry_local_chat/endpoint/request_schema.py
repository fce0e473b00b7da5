"""A chat completion request checked against OpenAI's schema before Foundry Local sees it.

Foundry Local 2.2.1 ignores what it cannot read: `max_tokens: "16"` ran 1,584 tokens, and
`role: "wizard"`, `stream: "true"` or `n: 0` were answered. Each check here fails with a 400 that
names the parameter (`param`) and says what was wrong, e.g. `max_tokens: must be an integer, got
string`. Types are JSON's: a boolean is not an integer, and "16" is not a number.

Unknown top-level parameters are refused as OpenAI refuses them ("Unrecognized request
argument"); inside a message or a content part unknown keys are left alone, because clients add
their own (Open WebUI sends `cache_control` on parts).

The schema is a set of pydantic models in strict mode (`ChatCompletionRequest` and what it holds);
pydantic reports every problem with its path, and `check_chat_request` words the first one, in the
order a reader of the request meets them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Annotated, Any, ClassVar, NoReturn

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WrapValidator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from foundry_local_chat.endpoint.openai_errors import ApiError
from foundry_local_chat.errors import FoundryLocalChatError, shortened
from foundry_local_chat.text_repair import has_lone_surrogates

MAX_DEPTH = 32  # the deepest legitimate body (a tool's JSON schema) nests far less
MAX_INT = 2**31 - 1  # Foundry reads token counts as 32-bit integers
MAX_SEED = 2**63 - 1
MAX_STOPS = 4
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


# -- how a client's value is quoted ----------------------------------------------------------------


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


# -- the rules pydantic's types do not say ---------------------------------------------------------


def _problem(problem: str) -> PydanticCustomError:
    """A refusal worded here ("must be one of …"); pydantic adds where it is."""
    return PydanticCustomError("invalid", "{problem}", {"problem": problem})


def _refuse_at(field: str, problem: str, value: Any) -> NoReturn:
    """Refuse a model's `field` from a rule on the whole model (pydantic adds its path)."""
    raise ValidationError.from_exception_data(
        "ChatCompletionRequest", [{"type": _problem(problem), "loc": (field,), "input": value}]
    )


def _one_of(allowed: tuple[str, ...]) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in allowed:
            raise _problem(f"must be one of {', '.join(allowed)}, got {_shown(text)}")
        return text

    return check


def _integer_between(low: int, high: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise _problem(f"must be between {low} and {high}, got {_shown(value)}")
        return value

    return check


def _number_between(low: float, high: float) -> Callable[[Any, ValidatorFunctionWrapHandler], Any]:
    """JSON's number: an integer is one (compared as it is: 10**400 is not made a float)."""

    def check(value: Any, as_float: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            within = low <= value <= high
        else:
            number = as_float(value)  # a strict float: refuses strings, booleans and null
            within = math.isfinite(number) and low <= number <= high
        if not within:
            raise _problem(f"must be between {low:g} and {high:g}, got {_shown(value)}")
        return value

    return check


def _token_id(key: str) -> str:
    if not (key.isascii() and key.isdigit()):
        raise _problem("keys must be token ids (digits)")
    return key


def _at_most_stops(value: Any) -> Any:
    if isinstance(value, list) and len(value) > MAX_STOPS:
        raise _problem(f"has at most {MAX_STOPS} sequences, got {len(value)}")
    return value


def _string_or(string: Any, other: Any) -> PlainValidator:
    """A string checked as `string`, or else a value checked as `other`, as in OpenAI's schema
    (`stop`, `tool_choice`); pydantic's own union would report both branches' complaints."""
    strings = _adapter(string)
    others = _adapter(other)

    def check(value: Any) -> Any:
        return (strings if isinstance(value, str) else others).validate_python(value)

    return PlainValidator(check)


def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind, config=ConfigDict(strict=True))


# The types of JSON values, strict: a boolean is not an integer, "16" is not a number.
Text = str
NonEmptyText = Annotated[str, Field(min_length=1)]
JsonObject = dict[str, Any]
Role = Annotated[str, AfterValidator(_one_of(ROLES))]
TokenCount = Annotated[int, AfterValidator(_integer_between(1, MAX_INT))]
Choices = Annotated[int, AfterValidator(_integer_between(1, 128))]
TopLogprobs = Annotated[int, AfterValidator(_integer_between(0, 20))]
Seed = Annotated[int, AfterValidator(_integer_between(-MAX_SEED - 1, MAX_SEED))]
Temperature = Annotated[float, WrapValidator(_number_between(0, 2))]
Probability = Annotated[float, WrapValidator(_number_between(0, 1))]
Penalty = Annotated[float, WrapValidator(_number_between(-2, 2))]
Bias = Annotated[float, WrapValidator(_number_between(-100, 100))]
TokenId = Annotated[str, AfterValidator(_token_id)]
ReasoningEffort = Annotated[str, AfterValidator(_one_of(REASONING_EFFORTS))]
Verbosity = Annotated[str, AfterValidator(_one_of(("low", "medium", "high")))]
ResponseKind = Annotated[str, AfterValidator(_one_of(("text", "json_object", "json_schema")))]
ToolMode = Annotated[str, AfterValidator(_one_of(("none", "auto", "required")))]


class _Schema(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


# -- messages --------------------------------------------------------------------------------------


class _PartKind(_Schema):
    """A part whose `type` is not one the message's role may have: says why."""

    kinds: ClassVar[tuple[str, ...]] = ("text",)
    type: str = Field(default=None, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _known_kind(cls, part: Any) -> Any:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in UNSUPPORTED_PARTS:
            _refuse_at("type", f"{kind} parts are not supported: the model reads text only", kind)
        if isinstance(kind, str):  # one another role may have, or none
            _refuse_at("type", f"must be one of {', '.join(cls.kinds)}, got {_shown(kind)}", kind)
        return part  # not an object, or no string `type`: the fields say why


class _AssistantPartKind(_PartKind):
    kinds: ClassVar[tuple[str, ...]] = ("text", "refusal")


class _TextPart(_Schema):
    text: Text = Field(default=None, validate_default=True)


class _RefusalPart(_Schema):
    refusal: Text = Field(default=None, validate_default=True)


def _parts(unknown: type[_PartKind], **kinds: type[_Schema]) -> Any:
    """A message's content as an array of parts, each checked by the model of its `type`."""

    def part(value: Any) -> Any:
        kind = value.get("type") if isinstance(value, dict) else None
        model = kinds.get(kind) if isinstance(kind, str) else None
        return (model or unknown).model_validate(value)

    return Annotated[list[Annotated[Any, PlainValidator(part)]], Field(min_length=1)]


def _content(parts: Any) -> PlainValidator:
    """A string, or an array of text parts."""
    arrays = _adapter(parts)

    def check(value: Any) -> Any:
        if value is None or isinstance(value, str):  # null: `_content_required` said if it may be
            return value
        if isinstance(value, list):
            return arrays.validate_python(value)
        raise _problem(f"must be a string or an array of text parts, got {json_type(value)}")

    return PlainValidator(check)


def _no_tool_calls(value: Any) -> Any:
    if value is not None:
        raise _problem("only assistant messages have tool calls")
    return value


class _Message(_Schema):
    """A system, user or developer message; the others add to it. `role` is known valid."""

    role: str
    content: Annotated[Any, _content(_parts(_PartKind, text=_TextPart))] = None
    name: NonEmptyText | None = None
    tool_calls: Annotated[Any, AfterValidator(_no_tool_calls)] = None

    @model_validator(mode="before")
    @classmethod
    def _content_required(cls, message: dict[str, Any]) -> dict[str, Any]:
        if message.get("content") is None and not cls._may_omit_content(message):
            _refuse_at("content", "is required (a string or an array of text parts)", None)
        return message

    @classmethod
    def _may_omit_content(cls, message: dict[str, Any]) -> bool:
        return False


class _ToolMessage(_Message):
    tool_call_id: NonEmptyText = Field(default=None, validate_default=True)


class _AssistantMessage(_Message):
    content: Annotated[
        Any, _content(_parts(_AssistantPartKind, text=_TextPart, refusal=_RefusalPart))
    ] = None
    tool_calls: list[JsonObject] | None = None

    @classmethod
    def _may_omit_content(cls, message: dict[str, Any]) -> bool:
        return bool(message.get("tool_calls"))


class _Role(_Schema):
    """A message whose role is missing or unknown: says why."""

    role: Role


MESSAGES: dict[str, type[_Schema]] = {
    "system": _Message,
    "user": _Message,
    "developer": _Message,
    "tool": _ToolMessage,
    "assistant": _AssistantMessage,
}


def _message(value: Any) -> Any:
    role = value.get("role") if isinstance(value, dict) else None
    model = MESSAGES.get(role) if isinstance(role, str) else None
    return (model or _Role).model_validate(value)


# -- the request -----------------------------------------------------------------------------------


class StreamOptions(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    include_usage: bool = False
    include_obfuscation: bool = False


class ResponseFormat(_Schema):
    type: ResponseKind = Field(default=None, validate_default=True)


ToolChoice = Annotated[Any, _string_or(ToolMode, JsonObject)]
StopList = Annotated[list[NonEmptyText], BeforeValidator(_at_most_stops)]
Stops = Annotated[Any, _string_or(NonEmptyText, StopList)]


class ChatCompletionRequest(BaseModel):
    """Every parameter of OpenAI's chat completion request; null means "not set"."""

    model_config = ConfigDict(strict=True, extra="forbid")

    model: NonEmptyText
    messages: Annotated[list[Annotated[Any, PlainValidator(_message)]], Field(min_length=1)]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    temperature: Temperature | None = None
    top_p: Probability | None = None
    n: Choices | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    stop: Stops | None = None
    logprobs: bool | None = None
    top_logprobs: TopLogprobs | None = None
    seed: Seed | None = None
    logit_bias: dict[TokenId, Bias] | None = None
    user: Text | None = None
    metadata: dict[str, Text] | None = None
    store: bool | None = None
    service_tier: Text | None = None
    reasoning_effort: ReasoningEffort | None = None
    response_format: ResponseFormat | None = None
    tools: list[JsonObject] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    functions: list[JsonObject] | None = None
    function_call: ToolChoice | None = None
    modalities: list[Text] | None = None
    audio: JsonObject | None = None
    prediction: JsonObject | None = None
    web_search_options: JsonObject | None = None
    verbosity: Verbosity | None = None
    prompt_cache_key: Text | None = None
    safety_identifier: Text | None = None


# -- a refusal in a few words ----------------------------------------------------------------------


FIELDS = frozenset(ChatCompletionRequest.model_fields)
JSON_TYPES = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "a boolean",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
}
FORBID_UNKNOWN_KEYS: dict[str, type[BaseModel]] = {"stream_options": StreamOptions}


def _param(loc: tuple[int | str, ...]) -> str:
    """`messages[0].content[1].type`: the path as OpenAI names a parameter, a client's keys
    shortened (a top-level key is a parameter's name, quoted whole as before)."""
    if len(loc) == 3 and loc[-1] == "[key]":  # pydantic's mark of a dict's key (logit_bias)
        loc = loc[:-1]
    path = ""
    for depth, item in enumerate(loc):
        if isinstance(item, int):
            path += f"[{item}]"
        else:
            path += f".{_key(item)}" if depth else item
    return path


def _wording(error: ErrorDetails) -> str:
    kind, value = error["type"], error["input"]
    if kind == "invalid":
        return str(error.get("ctx", {})["problem"])
    if kind in JSON_TYPES:
        return f"must be {JSON_TYPES[kind]}, got {json_type(value)}"
    if kind == "missing":
        return "is required"
    if kind in ("string_too_short", "too_short"):
        return "must not be empty"
    if kind == "string_unicode":  # parse_body refuses these first; a direct caller may not
        return "has an unpaired surrogate (e.g. \\ud800), which is not Unicode text"
    if kind == "extra_forbidden":
        if len(error["loc"]) == 1:
            return "unrecognized request argument"
        known = ", ".join(FORBID_UNKNOWN_KEYS[str(error["loc"][0])].model_fields)
        return f"unknown parameter (known: {known})"
    return error["msg"]  # not met: every rule above is worded


def _first(errors: list[ErrorDetails], body: dict[str, Any]) -> ErrorDetails:
    """The problem a reader of the request meets first: `model` and `messages` missing, then
    `model`, then each parameter in the body's order (an unknown key of an object first)."""
    position = {name: index for index, name in enumerate(body)}

    def order(error: ErrorDetails) -> tuple[int, int]:
        loc = error["loc"]
        name = str(loc[0]) if loc else ""
        if error["type"] == "missing" and len(loc) == 1:
            rank = 0 if name == "model" else 1
        else:
            rank = 2 if name == "model" else 3 + position.get(name, len(position))
        return rank, 0 if error["type"] == "extra_forbidden" else 1

    return min(errors, key=order)  # min keeps pydantic's order among equals


def check_chat_request(body: Any) -> ApiError | None:
    """None when the body is a well-formed chat completion request, else the 400 saying why."""
    if not isinstance(body, dict):
        return ApiError(400, f"The request body must be a JSON object, got {json_type(body)}.")
    request = {
        name: value for name, value in body.items() if value is not None or name not in FIELDS
    }
    try:
        ChatCompletionRequest.model_validate(request)
    except ValidationError as error:
        first = _first(error.errors(include_url=False), request)
        return invalid(Invalid(_param(first["loc"]) or "body", _wording(first)))
    return None
