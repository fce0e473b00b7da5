"""One chat turn: conversation → streaming request → delta tokens, with timing and clear errors."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
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
    """The request failed: what kind of failure, with the server's own words (chat_ui says it
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

REPLY_MODEL_KEY = "reply_model"
"""Metadata key set on every answer message; only such assistant messages are conversation."""


REFUSED_KEY = "refused"
"""Metadata key set on a user message the model was never sent (it cannot fit): it stays in the
chat and its history, and is left out of every later request."""


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
    client: AsyncOpenAI, options: ChatOptions, messages: list[Message], stats: ReplyStats
) -> AsyncGenerator[str, None]:
    """Yield the answer's text deltas. Closing the generator (stop) closes the HTTP request.

    With options.streaming off, or when the server fails a streaming request before its first
    token, the answer comes from one non-streaming request and is yielded whole. Raises ChatError
    when the request fails; what was already yielded stays valid.
    """
    try:
        if options.streaming:
            try:
                async for text in _stream(client, options, messages, stats):
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
        answer = await _complete(client, options, messages, stats)
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


def _request(options: ChatOptions, messages: list[Message]) -> dict[str, Any]:
    return {
        "model": options.model,
        "messages": messages,
        "max_tokens": options.max_tokens,
        "temperature": options.temperature,
        "top_p": options.top_p,
        # The turn's id goes with it, so the endpoint's log lines of it carry the same id.
        "extra_headers": request_ids.outgoing_headers(),
    }


async def _stream(
    client: AsyncOpenAI, options: ChatOptions, messages: list[Message], stats: ReplyStats
) -> AsyncIterator[str]:
    stream = await client.chat.completions.create(
        **_request(options, messages), stream=True, stream_options={"include_usage": True}
    )
    async with stream:
        async for chunk in stream:
            if chunk.usage is not None:
                stats.completion_tokens = chunk.usage.completion_tokens
                stats.prompt_tokens = chunk.usage.prompt_tokens or stats.prompt_tokens
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


async def _complete(
    client: AsyncOpenAI, options: ChatOptions, messages: list[Message], stats: ReplyStats
) -> str:
    completion = await client.chat.completions.create(**_request(options, messages))
    stats.first_token_at = time.perf_counter()
    if completion.usage is not None:
        stats.completion_tokens = completion.usage.completion_tokens
        stats.prompt_tokens = completion.usage.prompt_tokens or stats.prompt_tokens
    if not completion.choices:
        return ""
    stats.finish_reason = completion.choices[0].finish_reason
    return completion.choices[0].message.content or ""
