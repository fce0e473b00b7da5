"""A chat as a file: the versioned JSON format `foundry-local-chat/1`, written by the export and
read, strictly, by the import.

    {
      "format": "foundry-local-chat/1",
      "title": "What is the capital of France?",
      "created_at": "2026-12-06T23:48:01.376619Z",      # every time: ISO 8601, in UTC
      "exported_at": "2026-12-07T08:00:00.000000Z",
      "model": "smollm2-135m-instruct-generic-cpu:1",   # the chat's model (its settings')
      "chat_profile": "Auto",                            # or null
      "settings": {"model": …, "system_prompt": …, "temperature": 0.3, "max_tokens": 512,
                   "top_p": null, "streaming": true},    # each may be null (not known)
      "documents": [{"name": "notes.md", "kind": "md", "pages": null, "added_at": …}],
      "messages": [
        {"role": "user", "content": "…", "created_at": …, "documents": ["notes.md"],
         "refused": false},
        {"role": "assistant", "content": "…", "created_at": …, "model": "…", "stats": "…",
         "backend": "Foundry Local", "stopped": false, "sources": ["notes.md (whole)"],
         "versions": [{"content": "…", "stats": "…", "stopped": false}, …],
         "shown_version": 1}
      ]
    }

`content` is what the message says (an answer's: the version shown, which later questions are
sent with); `versions` lists every version of an answer given again (two or more), oldest first.
A document's text is not in the file, only its name: an imported chat has no documents. An
edited question's earlier versions (ui/question_versions.py) are not in it either: the file is
the chat as it is shown.

Reading a file (`parse_chat_export`) refuses, with an `ImportRefused` that says what and where:
more than MAX_IMPORT_BYTES, bytes that are not UTF-8, text that is not JSON (NaN, a key twice,
nesting deeper than MAX_DEPTH), text that is not Unicode (an unpaired surrogate) or that no
database stores (NUL), a file of another kind or of a format version this app does not read,
more than MAX_MESSAGES messages, and any field of the wrong type, out of its range, unknown, or
missing. Messages must be in the order of their times, and none may be dated more than a day
ahead (a question's time is its browser's clock, which may run a little fast).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from foundry_local_chat.chat.backend import Profile
from foundry_local_chat.errors import FoundryLocalChatError, shortened
from foundry_local_chat.text_repair import has_lone_surrogates

FORMAT_NAME = "foundry-local-chat"
FORMAT_VERSION = 1
FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"

MAX_IMPORT_BYTES = 16 * 1024**2  # the largest message the chat takes (chainlit_server)
MAX_MESSAGES = 1000
MAX_VERSIONS = 100
MAX_DEPTH = 8  # the format nests 5 levels deep (messages[0].versions[0].content)
MAX_TITLE_CHARS = 500
MAX_NAME_CHARS = 300  # a model's, a document's, a source's name
MAX_STATS_CHARS = 2000
MAX_LIST_ITEMS = 100  # a message's documents, an answer's sources
MAX_SYSTEM_PROMPT_CHARS = 8000  # the settings panel's limit (ui/settings_panel.py)
MAX_TOKENS_LIMIT = 10**6
FUTURE_SLACK = timedelta(days=1)  # a question's time is its browser's clock


class ImportProblem(StrEnum):
    TOO_LARGE = "too large"  # limit: bytes
    NOT_UTF8 = "not UTF-8"
    NOT_JSON = "not JSON"  # line, column
    TOO_DEEP = "too deep"  # limit: levels
    BAD_TEXT = "bad text"  # where: an unpaired surrogate or a NUL
    NOT_AN_EXPORT = "not an export"
    UNKNOWN_VERSION = "unknown version"  # detail: the file's format
    TOO_MANY_MESSAGES = "too many messages"  # count, limit
    INVALID = "invalid"  # where, field (FieldProblem) and its details


class FieldProblem(StrEnum):
    MISSING = "missing"
    UNKNOWN = "unknown"  # a key the format does not have
    TYPE = "type"  # detail: the JSON type expected (JSON_TYPES' values)
    EMPTY = "empty"
    TOO_FEW = "too few"  # limit: the fewest items
    TOO_LONG = "too long"  # limit: characters or items
    OUT_OF_RANGE = "out of range"  # detail: "low-high"
    NOT_ONE_OF = "not one of"  # detail: the values allowed, comma-separated
    TIME = "time"  # not an ISO 8601 time with its zone
    FUTURE = "future"  # a time after now (and FUTURE_SLACK)
    ORDER = "order"  # a message earlier than the one before it
    VERSION_SHOWN = "version shown"  # content is not versions[shown_version]'s


class ImportRefused(FoundryLocalChatError, ValueError):
    """The file cannot be imported; nothing was written. The ui words it for the person."""

    def __init__(
        self,
        problem: ImportProblem,
        where: str = "",
        field: FieldProblem | None = None,
        detail: str = "",
        limit: int | None = None,
        count: int | None = None,
    ) -> None:
        said = ": ".join(part for part in (where, field or "", detail) if part)
        super().__init__(f"{problem}{f' ({said})' if said else ''}")
        self.problem = problem
        self.where = where
        self.field = field
        self.detail = detail
        self.limit = limit
        self.count = count


# -- the types of the format -----------------------------------------------------------------------


def _refusal(field: FieldProblem, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(f"import_{field.value.replace(' ', '_')}", field.value, context)


def _timestamp(value: Any) -> datetime:
    """An ISO 8601 time with its zone (`Z` or an offset), in UTC (the app's own: a datetime)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if not isinstance(value, str) or len(value) > 40:
        raise _refusal(FieldProblem.TIME)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _refusal(FieldProblem.TIME) from None
    if moment.tzinfo is None:
        raise _refusal(FieldProblem.TIME)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """A time as the format writes it, and as Chainlit stores one (sorted as text)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _number(low: float, high: float) -> PlainValidator:
    """JSON's number (an integer is one), finite and within [low, high]; true is no number."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _refusal(FieldProblem.TYPE, expected="number")
        within = (
            low <= value <= high
            if isinstance(value, int)
            else math.isfinite(value) and low <= value <= high
        )
        if not within:
            raise _refusal(FieldProblem.OUT_OF_RANGE, range=f"{low:g}-{high:g}")
        return float(value)

    return PlainValidator(check)


def _whole_number(low: int, high: int) -> PlainValidator:
    """An integer within [low, high]; 512.0 counts (the settings panel's slider sends floats)."""

    def check(value: Any) -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _refusal(FieldProblem.TYPE, expected="integer")
        if not low <= value <= high:
            raise _refusal(FieldProblem.OUT_OF_RANGE, range=f"{low}-{high}")
        return value

    return PlainValidator(check)


def _one_of(allowed: tuple[str, ...]) -> PlainValidator:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _refusal(FieldProblem.TYPE, expected="string")
        if value not in allowed:
            raise _refusal(FieldProblem.NOT_ONE_OF, allowed=", ".join(allowed))
        return value

    return PlainValidator(check)


Timestamp = Annotated[datetime, PlainValidator(_timestamp), PlainSerializer(iso)]
Text = str  # any length: the file's size bounds it
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
Names = Annotated[list[Name], Field(max_length=MAX_LIST_ITEMS)]
Stats = Annotated[str, Field(max_length=MAX_STATS_CHARS)]
ProfileName = Annotated[str, _one_of(tuple(profile.value for profile in Profile))]


class _Format(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class ChatSettings(_Format):
    """The chat's settings panel as it was; null: not known (the app's defaults apply)."""

    model: Name | None = None
    system_prompt: Annotated[str, Field(max_length=MAX_SYSTEM_PROMPT_CHARS)] | None = None
    temperature: Annotated[float, _number(0, 2)] | None = None
    max_tokens: Annotated[int, _whole_number(1, MAX_TOKENS_LIMIT)] | None = None
    top_p: Annotated[float, _number(0, 1)] | None = None
    streaming: bool | None = None


class Document(_Format):
    name: Name
    kind: Annotated[str, Field(max_length=16)] | None = None
    pages: Annotated[int, _whole_number(0, 10**6)] | None = None
    added_at: Timestamp | None = None


class AnswerVersion(_Format):
    content: Text
    stats: Stats = ""
    stopped: bool = False


class UserMessage(_Format):
    role: Literal["user"]
    content: Text
    created_at: Timestamp
    documents: Names = []
    refused: bool = False  # never sent to the model (too long, or its files unreadable)


class AssistantMessage(_Format):
    role: Literal["assistant"]
    content: Text
    created_at: Timestamp
    model: Name
    stats: Stats = ""  # the speed line under it
    backend: Annotated[str, Field(max_length=MAX_NAME_CHARS)] = ""
    stopped: bool = False
    sources: Names = []
    versions: Annotated[list[AnswerVersion], Field(max_length=MAX_VERSIONS)] = []
    shown_version: Annotated[int, _whole_number(0, MAX_VERSIONS - 1)] | None = None

    @model_validator(mode="after")
    def _versions_agree(self) -> AssistantMessage:
        if not self.versions and self.shown_version is None:
            return self
        if len(self.versions) < 2:
            raise _refusal(FieldProblem.TOO_FEW, limit=2, at="versions")
        if self.shown_version is None or self.shown_version >= len(self.versions):
            raise _refusal(
                FieldProblem.OUT_OF_RANGE, range=f"0-{len(self.versions) - 1}", at="shown_version"
            )
        if self.versions[self.shown_version].content != self.content:
            raise _refusal(FieldProblem.VERSION_SHOWN, at="content", index=self.shown_version)
        return self


Message = Annotated[UserMessage | AssistantMessage, Field(discriminator="role")]
ROLES = ("user", "assistant")


class ChatExport(_Format):
    format: Literal["foundry-local-chat/1"] = "foundry-local-chat/1"  # FORMAT
    title: Annotated[str, Field(max_length=MAX_TITLE_CHARS)]
    created_at: Timestamp
    exported_at: Timestamp | None = None
    model: Name | None = None
    chat_profile: ProfileName | None = None
    settings: ChatSettings = Field(default_factory=ChatSettings)
    documents: list[Document] = []
    # At least one (Chainlit keeps a chat from its first message on); at most MAX_MESSAGES are
    # imported (parse_chat_export), and a longer chat is still exported.
    messages: Annotated[list[Message], Field(min_length=1)]


def export_json(chat: ChatExport) -> bytes:
    """The file: UTF-8, indented, its letters as they are (Korean is not \\u-escaped)."""
    return (json.dumps(chat.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n").encode()


# -- reading a file --------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("an object has a key twice")
    return found


def parse_chat_export(raw: bytes) -> ChatExport:
    """The chat the file holds; raises ImportRefused saying what is wrong, and where."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise ImportRefused(ImportProblem.TOO_LARGE, limit=MAX_IMPORT_BYTES)
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark, as some editors write, is fine
    except UnicodeDecodeError:
        raise ImportRefused(ImportProblem.NOT_UTF8) from None
    try:
        body = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as error:
        raise ImportRefused(
            ImportProblem.NOT_JSON, detail=f"{error.lineno}:{error.colno}"
        ) from None
    except RecursionError:
        raise ImportRefused(ImportProblem.TOO_DEEP, limit=MAX_DEPTH) from None
    except ValueError:  # NaN, a key twice, an integer of more than 4,300 digits
        raise ImportRefused(ImportProblem.NOT_JSON) from None
    _check_text(body)
    if not isinstance(body, dict) or not isinstance(body.get("format"), str):
        raise ImportRefused(ImportProblem.NOT_AN_EXPORT)
    name, _, version = body["format"].partition("/")
    if name != FORMAT_NAME:
        raise ImportRefused(ImportProblem.NOT_AN_EXPORT)
    if body["format"] != FORMAT:
        raise ImportRefused(ImportProblem.UNKNOWN_VERSION, detail=shortened(version, 40))
    messages = body.get("messages")
    if isinstance(messages, list) and len(messages) > MAX_MESSAGES:
        raise ImportRefused(
            ImportProblem.TOO_MANY_MESSAGES, count=len(messages), limit=MAX_MESSAGES
        )
    try:
        chat = ChatExport.model_validate(body)
    except ValidationError as error:
        raise refusal_of(error.errors(include_url=False)[0]) from None
    _check_times(chat, datetime.now(UTC) + FUTURE_SLACK)
    return chat


def _check_times(chat: ChatExport, latest: datetime) -> None:
    """Messages in the order of their times (the history shows them in that order), and no time
    after `latest`: a later message of the chat would come before it."""
    times = [("created_at", chat.created_at)]
    times += [(f"messages[{i}].created_at", m.created_at) for i, m in enumerate(chat.messages)]
    for at, moment in times:
        if moment > latest:
            raise ImportRefused(ImportProblem.INVALID, at, FieldProblem.FUTURE)
    for index, (before, message) in enumerate(zip(chat.messages, chat.messages[1:], strict=False)):
        if message.created_at < before.created_at:
            raise ImportRefused(
                ImportProblem.INVALID, f"messages[{index + 1}].created_at", FieldProblem.ORDER
            )


def _check_text(body: Any) -> None:
    """Every string (keys too) is Unicode a database stores, and nothing nests too deep."""
    for path, value, depth in _walk(body):
        if depth > MAX_DEPTH:
            raise ImportRefused(ImportProblem.TOO_DEEP, limit=MAX_DEPTH)
        if isinstance(value, str) and ("\x00" in value or has_lone_surrogates(value)):
            raise ImportRefused(ImportProblem.BAD_TEXT, where=path)


def _walk(value: Any) -> Iterator[tuple[str, Any, int]]:
    """Every value and key with its path and depth, without recursion."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        yield path, item, depth
        if isinstance(item, dict):
            for key, child in item.items():
                inner = f"{path}.{_key(key)}" if path else _key(key)
                yield inner, key, depth + 1
                stack.append((inner, child, depth + 1))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child, depth + 1) for i, child in enumerate(item))


def _key(key: str) -> str:
    return shortened(repr(key)[1:-1], 40)  # a key from the file, escaped and not too long


JSON_TYPES = {
    "string_type": "string",
    "int_type": "integer",
    "float_type": "number",
    "bool_type": "boolean",
    "list_type": "array",
    "dict_type": "object",
    "model_type": "object",
    "model_attributes_type": "object",
}


def where(loc: tuple[int | str, ...]) -> str:
    """`messages[3].versions[0].content`: a field's path in the file."""
    path = ""
    for number, item in enumerate(loc):
        if isinstance(item, int):
            path += f"[{item}]"
        elif number == 2 and loc[0] == "messages" and item in ROLES:
            continue  # the message's kind, as pydantic names its branch: no key of the file
        else:
            path += f".{_key(item)}" if path else _key(item)
    return path


def refusal_of(error: ErrorDetails) -> ImportRefused:
    """Pydantic's first complaint as an ImportRefused."""
    kind = error["type"]
    context = error.get("ctx") or {}
    at = where(error["loc"])
    if "at" in context:  # a rule on a whole message names the field it is about
        at = f"{at}.{context['at']}" if at else str(context["at"])
    if kind.startswith("import_"):
        field = FieldProblem(error["msg"])
        detail = str(context.get("expected") or context.get("range") or context.get("allowed")
                     or context.get("index", ""))  # fmt: skip
        return ImportRefused(
            ImportProblem.INVALID, at, field, detail=detail, limit=context.get("limit")
        )
    if kind == "missing":
        return ImportRefused(ImportProblem.INVALID, at, FieldProblem.MISSING)
    if kind == "extra_forbidden":
        return ImportRefused(ImportProblem.INVALID, at, FieldProblem.UNKNOWN)
    if kind in JSON_TYPES:
        return ImportRefused(ImportProblem.INVALID, at, FieldProblem.TYPE, JSON_TYPES[kind])
    if kind in ("string_too_short", "too_short"):
        return ImportRefused(ImportProblem.INVALID, at, FieldProblem.EMPTY)
    if kind in ("string_too_long", "too_long"):
        limit = context.get("max_length")
        return ImportRefused(ImportProblem.INVALID, at, FieldProblem.TOO_LONG, limit=limit)
    if kind == "literal_error":
        allowed = str(context.get("expected", "")).replace("'", "")
        return ImportRefused(ImportProblem.INVALID, at, FieldProblem.NOT_ONE_OF, allowed)
    if kind == "union_tag_not_found":
        return ImportRefused(ImportProblem.INVALID, f"{at}.role", FieldProblem.MISSING)
    if kind == "union_tag_invalid":
        return ImportRefused(ImportProblem.INVALID, f"{at}.role", FieldProblem.NOT_ONE_OF,
                             ", ".join(ROLES))  # fmt: skip
    return ImportRefused(ImportProblem.INVALID, at, FieldProblem.TYPE, "valid value")
