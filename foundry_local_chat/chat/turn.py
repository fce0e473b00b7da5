"""One chat turn: conversation → streaming request → delta tokens, with timing and clear errors."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from openai import APIConnectionError, APIError, APIStatusError, APITimeoutError, AsyncOpenAI

from foundry_local_chat import request_ids
from foundry_local_chat.config import GenerationDefaults
from foundry_local_chat.errors import FoundryLocalChatError
from foundry_local_chat.text_repair import repair_unicode

log = logging.getLogger(__name__)

Message = dict[str, str]


@dataclass(frozen=True)
class ChatOptions:
    """How one chat asks for answers; each chat has its own (the settings panel edits them)."""

    model: str
    system_prompt: str
    temperature: float
    max_tokens: int
    top_p: float
    streaming: bool = True

    @classmethod
    def defaults(
        cls, model: str, system_prompt: str, generation: GenerationDefaults
    ) -> ChatOptions:
        return cls(
            model=model,
            system_prompt=system_prompt,
            temperature=generation.temperature,
            max_tokens=generation.max_tokens,
            top_p=generation.top_p,
        )


class Failure(StrEnum):
    TIMEOUT = "timeout"  # the model server did not answer in time
    UNREACHABLE = "unreachable"  # it cannot be reached
    BROKEN_OFF = "broken off"  # the connection broke after the answer began (the server died)
    REFUSED = "refused"  # it answered with an HTTP error (status, detail)
    REPORTED = "reported"  # it reported an error inside the answer (detail)


class ChatError(FoundryLocalChatError, RuntimeError):
    """The request failed: what kind of failure, with the server's own words (the chat view says it
    in the chat's language)."""

    def __init__(self, failure: Failure, detail: str = "", status: int | None = None) -> None:
        super().__init__(f"{failure.value}: {status or ''} {detail}".strip())
        self.failure = failure
        self.detail = detail
        self.status = status


class ServerBusy(ChatError):
    """The model server turned the request away (429/503): too many answers wait already."""

    def __init__(self, detail: str, status: int, retry_after_seconds: int | None) -> None:
        super().__init__(Failure.REFUSED, detail, status)
        self.retry_after_seconds = retry_after_seconds


class ContextExceeded(ChatError):
    """The server found the conversation longer than the model's context."""


@dataclass
class ReplyStats:
    model: str
    started: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    finished_at: float | None = None
    chunks: int = 0
    completion_tokens: int | None = None  # from the server's usage chunk, when it sends one
    finish_reason: str | None = None
    streamed: bool = True  # False: one non-streaming request (chosen, or the fallback)
    stopped: bool = False
    cut_reason: str | None = None  # why it was stopped, when not by the stop button
    unwatched_seconds: float | None = None  # cut after no tab showed it for this long
    prompt_tokens: int | None = None  # from the server's usage, else the app's own count
    context_length: int | None = None  # the model's, when known
    queued_seconds: float = 0.0  # waited for its turn at the model server before starting
    document_tokens: int | None = None  # tokens of the chat's documents in the request
    reused_tokens: int | None = None  # prompt tokens the server kept from earlier turns

    @property
    def read_tokens(self) -> int | None:
        """Prompt tokens the server read for this answer (the rest it kept)."""
        if self.prompt_tokens is None or self.reused_tokens is None:
            return None
        return self.prompt_tokens - self.reused_tokens

    @property
    def ttft_seconds(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started

    @property
    def tokens(self) -> int:
        return self.completion_tokens if self.completion_tokens is not None else self.chunks

    @property
    def total_seconds(self) -> float:
        end = self.finished_at if self.finished_at is not None else time.perf_counter()
        return end - self.started

    @property
    def tokens_per_second(self) -> float | None:
        if not self.streamed:
            return self.tokens / self.total_seconds if self.tokens and self.total_seconds else None
        if self.first_token_at is None or self.tokens < 2:
            return None
        decode_seconds = (self.finished_at or time.perf_counter()) - self.first_token_at
        return (self.tokens - 1) / decode_seconds if decode_seconds > 0 else None

    @property
    def context_used(self) -> int | None:
        """Tokens of the context this turn filled: its prompt and its answer."""
        if self.prompt_tokens is None:
            return None
        return self.prompt_tokens + self.tokens


NOT_ABOUT_STREAMING = {401, 403, 404, 429}
# What the endpoint says about a streamed answer before it reads the prompt (endpoint/gateway.py).
PROMPT_TOKENS_HEADER = "x-prompt-tokens"
REUSED_TOKENS_HEADER = "x-prompt-tokens-reused"
READ_ESTIMATE_HEADER = "x-prompt-read-seconds"


@dataclass(frozen=True)
class ReadingPrompt:
    """The server is reading this many prompt tokens before the first one of the answer."""

    tokens: int
    reused_tokens: int
    estimate_seconds: float


OnReading = Callable[[ReadingPrompt], Awaitable[None]]

REPLY_MODEL_KEY = "reply_model"
"""Metadata key set on every answer message; only such assistant messages are conversation."""


SENT_KEY = "sent_as"
"""Metadata key of a user message sent with more than its text (the document passages found for
it): later requests repeat it as it was sent, so the endpoint's kept conversation still fits."""


REFUSED_KEY = "refused"
"""Metadata key set on a user message the model was never sent (it cannot fit): it stays in the
chat and its history, and is left out of every later request."""


def sent_content(content: str, metadata: Mapping[str, object] | None) -> str:
    """A chat message's text as the model was sent it."""
    sent = (metadata or {}).get(SENT_KEY)
    return sent if isinstance(sent, str) else content


def turn_role(message_type: str, metadata: Mapping[str, object] | None) -> str | None:
    """The OpenAI role of a chat message, or None for app notices, Chainlit's own messages
    (e.g. "Task manually stopped.") and refused messages, which must not reach the model."""
    if message_type == "user_message":
        return None if (metadata or {}).get(REFUSED_KEY) else "user"
    if message_type == "assistant_message" and (metadata or {}).get(REPLY_MODEL_KEY):
        return "assistant"
    return None


def build_messages(system_prompt: str, history: Iterable[Message]) -> list[Message]:
    """The request's messages: the system prompt, then the turns that have text (as valid
    Unicode: one lone surrogate would make every later request of the chat unsendable)."""
    messages = system_messages(system_prompt)
    messages += [
        {"role": turn["role"], "content": repair_unicode(turn["content"])}
        for turn in history
        if turn["role"] in {"user", "assistant"} and turn["content"].strip()
    ]
    return messages


def system_messages(system_prompt: str) -> list[Message]:
    prompt = repair_unicode(system_prompt)
    return [{"role": "system", "content": prompt}] if prompt.strip() else []


def _retry_after(error: APIStatusError) -> int | None:
    raw = error.response.headers.get("retry-after", "")
    return int(raw) if raw.isdigit() else None


def chat_error(error: APIError) -> ChatError:
    """The failure as data; the log keeps the full detail. Busy and context-length refusals are
    told apart: the chat handles each its own way."""
    if isinstance(error, APITimeoutError):
        return ChatError(Failure.TIMEOUT)
    if isinstance(error, APIConnectionError):
        return ChatError(Failure.UNREACHABLE)
    if isinstance(error, APIStatusError):
        detail = error.message
        body = error.body
        if isinstance(body, dict):
            nested = body.get("error")
            inner = nested.get("message") if isinstance(nested, dict) else None
            detail = str(body.get("message") or inner or detail)
        if error.status_code in (429, 503):
            return ServerBusy(detail, error.status_code, _retry_after(error))
        if getattr(error, "code", None) == "context_length_exceeded":
            return ContextExceeded(Failure.REFUSED, detail, error.status_code)
        return ChatError(Failure.REFUSED, detail, error.status_code)
    return ChatError(Failure.REPORTED, error.message)


async def stream_reply(
    client: AsyncOpenAI,
    options: ChatOptions,
    messages: list[Message],
    stats: ReplyStats,
    cache_key: str = "",
    on_reading: OnReading | None = None,
) -> AsyncGenerator[str, None]:
    """Yield the answer's text deltas. Closing the generator (stop) closes the HTTP request.

    With options.streaming off, or when the server fails a streaming request before its first
    token, the answer comes from one non-streaming request and is yielded whole. Raises ChatError
    when the request fails; what was already yielded stays valid.

    `cache_key` scopes the server's reuse of earlier turns to this chat (OpenAI's
    `prompt_cache_key`); `on_reading` hears how much prompt the server reads before answering.
    """
    request = _request(options, messages, cache_key)
    try:
        if options.streaming:
            try:
                async for text in _stream(client, request, stats, on_reading):
                    yield text
                return
            except APIStatusError as error:
                # Only a refusal of the request's form may be about streaming; a wrong key, an
                # unknown model or a rate limit would fail the same way without it.
                if (
                    stats.first_token_at is not None
                    or error.status_code in NOT_ABOUT_STREAMING
                    or error.code == "context_length_exceeded"
                ):
                    raise
                log.warning("streaming failed (%s); retrying without streaming", error)
        stats.streamed = False
        answer = await _complete(client, request, stats)
        if answer:
            yield answer
    except APIConnectionError as error:
        if stats.first_token_at is None or isinstance(error, APITimeoutError):
            raise chat_error(error) from error
        raise ChatError(Failure.BROKEN_OFF) from error
    except APIError as error:
        raise chat_error(error) from error
    finally:
        stats.finished_at = time.perf_counter()


def _request(options: ChatOptions, messages: list[Message], cache_key: str) -> dict[str, Any]:
    request = {
        "model": options.model,
        "messages": messages,
        "max_tokens": options.max_tokens,
        "temperature": options.temperature,
        "top_p": options.top_p,
        # The turn's id goes with it, so the endpoint's log lines of it carry the same id.
        "extra_headers": request_ids.outgoing_headers(),
    }
    if cache_key:
        request["extra_body"] = {"prompt_cache_key": cache_key}
    return request


def _reading(headers: Mapping[str, str]) -> ReadingPrompt | None:
    try:
        prompt = int(headers[PROMPT_TOKENS_HEADER])
        reused = int(headers.get(REUSED_TOKENS_HEADER, "0"))
        estimate = float(headers.get(READ_ESTIMATE_HEADER, "0"))
    except (KeyError, ValueError):
        return None  # a server that does not say (any other OpenAI-compatible one)
    return ReadingPrompt(max(0, prompt - reused), reused, estimate)


def _read_usage(usage: Any, stats: ReplyStats) -> None:
    stats.completion_tokens = usage.completion_tokens
    stats.prompt_tokens = usage.prompt_tokens or stats.prompt_tokens
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None)
    if isinstance(cached, int):
        stats.reused_tokens = cached


async def _stream(
    client: AsyncOpenAI, request: dict[str, Any], stats: ReplyStats, on_reading: OnReading | None
) -> AsyncIterator[str]:
    raw = await client.chat.completions.with_raw_response.create(
        **request, stream=True, stream_options={"include_usage": True}
    )
    stream = raw.parse()
    async with stream:  # leaving it, also while on_reading runs, closes the request
        reading = _reading(raw.headers)
        if reading is not None and on_reading is not None:
            await on_reading(reading)
        async for chunk in stream:
            if chunk.usage is not None:
                _read_usage(chunk.usage, stats)
            if not chunk.choices:  # the usage chunk has no choices
                continue
            choice = chunk.choices[0]
            if choice.finish_reason:
                stats.finish_reason = choice.finish_reason
            text = choice.delta.content if choice.delta else None
            if text:
                if stats.first_token_at is None:
                    stats.first_token_at = time.perf_counter()
                stats.chunks += 1
                yield text


async def _complete(client: AsyncOpenAI, request: dict[str, Any], stats: ReplyStats) -> str:
    completion = await client.chat.completions.create(**request)
    stats.first_token_at = time.perf_counter()
    if completion.usage is not None:
        _read_usage(completion.usage, stats)
    if not completion.choices:
        return ""
    stats.finish_reason = completion.choices[0].finish_reason
    return completion.choices[0].message.content or ""
