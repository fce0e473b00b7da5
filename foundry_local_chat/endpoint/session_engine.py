"""Chat completions answered by Foundry Local's in-process sessions, which keep each
conversation's KV cache between turns (endpoint/conversation_pool.py decides which one a request
continues).

Foundry's web service builds a fresh session for every request, so every turn re-reads the
whole conversation. Here a request that continues a retained conversation sends the engine only
its new messages. What a session cannot serve exactly as the web service would (tools, stop
sequences, penalties, content parts, another model, …) is left to the web service: `messages_of`
returns None for it.

The SDK's calls block: each runs in a worker thread, and its items reach the event loop through
an asyncio queue. A request cancelled by its client (stop, a closed tab) cancels the native
request, also while it is still reading the prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundry_local_chat.endpoint.conversation_pool import (
    Checkout,
    ConversationPool,
    Message,
    Turn,
    kv_cache_bytes,
)
from foundry_local_chat.endpoint.metrics import WarmConversations
from foundry_local_chat.endpoint.openai_errors import ApiError, from_foundry
from foundry_local_chat.endpoint.read_speed import ReadSpeed

if TYPE_CHECKING:
    from foundry_local_sdk.imodel import IModel

log = logging.getLogger(__name__)

SESSION_ROLES = ("system", "developer", "user", "assistant")
# Parameters a session reads the way Foundry's web service does; any other one that is set
# sends the request to the web service, which answers it as it always has.
SESSION_PARAMETERS = frozenset(
    {
        "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
        "temperature", "top_p", "seed", "n", "user", "metadata", "store", "service_tier",
        "prompt_cache_key", "safety_identifier", "logprobs", "parallel_tool_calls",
    }
)  # fmt: skip
FINISH_REASONS = {2: "stop", 3: "length", 4: "tool_calls"}  # the SDK's FinishReason values
MIB = 1024 * 1024
# Answered once, then undone. It must end by itself: a session whose answer was cut by the
# token limit drops its cache, and the next answer allocates it again (greedy, the bundled model
# ends this one after 46 tokens).
SPARE_PROMPT = (("system", "Answer with one word."), ("user", "Capital of France?"))
SPARE_MAX_TOKENS = 96


def messages_of(body: Mapping[str, Any], model: str) -> list[Message] | None:
    """The request's messages as the engine reads them, or None when a session cannot serve
    it the way Foundry's web service would."""
    if body.get("model") != model:
        return None
    for name, value in body.items():
        if value is not None and name not in SESSION_PARAMETERS:
            return None
    if body.get("logprobs") or (body.get("n") or 1) != 1:
        return None
    messages: list[Message] = []
    for message in body["messages"]:
        role, content = message.get("role"), message.get("content")
        if role not in SESSION_ROLES or not isinstance(content, str):
            return None
        if "\x00" in content:  # the SDK passes text as a C string: it would end there
            return None
        if any(message.get(key) is not None for key in ("name", "tool_calls", "function_call")):
            return None
        messages.append((role, content))
    if messages[-1][0] == "assistant":
        return None  # a prefilled answer to continue: the web service's business
    return messages


@dataclass
class Answer:
    """One request being answered by a session (filled in by its worker thread)."""

    checkout: Checkout | None = None
    prompt_tokens: int = 0  # the whole prompt, as the engine counts it
    reused_tokens: int = 0  # of which the engine keeps from earlier turns
    read_seconds_estimate: float = 0.0
    events: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)
    text: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    completion_tokens: int = 0
    first_token_at: float | None = None
    error: ApiError | None = None  # the engine failed after it began
    _stop: threading.Event = field(default_factory=threading.Event)
    _done: threading.Event = field(default_factory=threading.Event)
    _request: Any = None

    @property
    def read_tokens(self) -> int:
        return self.prompt_tokens - self.reused_tokens

    async def pieces(self) -> AsyncIterator[str]:
        """The answer's text as the engine produces it; on a native error it ends, with
        `error` set."""
        while True:
            kind, value = await self.events.get()
            if kind == "text":
                yield value
                continue
            if kind == "error":
                self.error = value
            return

    def stop(self) -> None:
        """Stop the native request, without waiting for it: a prompt being read is read to its
        end first (Foundry Local 2.2.1 checks for cancellation between tokens, not inside the
        prompt's read), and a client that left must not hold its place in the queue meanwhile.
        Its conversation goes back to the pool when the engine is done with it."""
        self._stop.set()
        task = asyncio.get_running_loop().create_task(self._cancel_until_done())
        _STOPPING.add(task)
        task.add_done_callback(_STOPPING.discard)

    async def _cancel_until_done(self) -> None:
        while not self._done.is_set():
            # Cancelling is a no-op until the native request is admitted: repeat until it ends.
            with contextlib.suppress(Exception):
                self._request.cancel()
            await asyncio.sleep(0.02)


_STOPPING: set[asyncio.Task[None]] = set()  # stopping answers, kept from the garbage collector


class SessionEngine:
    """Serves chat completions for one loaded model from a pool of retained conversations."""

    def __init__(
        self,
        model: IModel,
        capacity: int,
        session_bytes: int | None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.model = model
        self.model_id: str = model.id
        self.session_bytes = session_bytes
        self.read_speed = ReadSpeed()
        self.pool = ConversationPool(capacity, self._open_session, on_change)
        self._native = threading.Lock()  # session creation and undo are short native calls
        # A session whose cache is allocated, waiting for the next new conversation: a new
        # session's first answer pays for allocating it (0.2-0.5 s for the bundled model).
        self._spare: Any = None
        self._spare_lock = threading.Lock()
        self._preparing = False
        self._closed = False

    @classmethod
    def for_model(
        cls, model: IModel, max_conversations: int, max_mb: float,
        on_change: Callable[[], None] | None = None,
    ) -> SessionEngine | None:  # fmt: skip
        """The engine for `model`, sized by the two caps; None when the caps leave no room."""
        session_bytes = _session_bytes(Path(model.get_path()))
        capacity = max_conversations
        if session_bytes:
            capacity = min(capacity, int(max_mb * MIB // session_bytes))
        if capacity < 1:
            need = f"{session_bytes / MIB:.0f} MB" if session_bytes else "unknown"
            log.warning(
                "conversations are not kept warm: one needs %s and ENDPOINT_WARM_MEMORY_MB=%g "
                "/ ENDPOINT_WARM_CONVERSATIONS=%d leave no room",
                need, max_mb, max_conversations,
            )  # fmt: skip
            return None
        log.info(
            "keeping up to %d conversations warm (%s each)",
            capacity, f"{session_bytes / MIB:.0f} MB" if session_bytes else "size unknown",
        )  # fmt: skip
        engine = cls(model, capacity, session_bytes, on_change)
        engine.prepare_spare()
        return engine

    @property
    def pool_bytes(self) -> int:
        spare = 1 if self._spare is not None else 0
        return (self.pool.size + spare) * (self.session_bytes or 0)

    def _new_session(self) -> Any:
        from foundry_local_sdk.session import ChatSession

        session = ChatSession(self.model)
        session.set_streaming(True)
        return session

    def _open_session(self) -> Any:
        """The spare session when there is one (its cache already allocated), else a new one."""
        with self._spare_lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            log.info("a new conversation takes the spare session")
            return spare
        return self._new_session()

    def prepare_spare(self) -> None:
        """Make a spare session in the background, when the pool has room for one more."""
        with self._spare_lock:
            if self._closed or self._preparing or self._spare is not None:
                return
            if self.pool.size + 1 > self.pool.capacity:
                return
            self._preparing = True
        threading.Thread(target=self._make_spare, name="session-spare", daemon=True).start()

    def _make_spare(self) -> None:
        """A short answer that ends by itself allocates the session's cache; undoing it leaves
        the session empty and its cache allocated."""
        try:
            session = self._new_session()
            options = _options({"temperature": 0.0, "max_tokens": SPARE_MAX_TOKENS})
            with session.process_streaming_request(_request(SPARE_PROMPT, options)) as stream:
                for _ in stream:
                    pass
            session.undo_turns(session.turn_count)
        except Exception as error:  # the SDK raises plain exceptions with native messages
            log.info("no spare session: %s", error)
            with self._spare_lock:
                self._preparing = False
            return
        with self._spare_lock:
            self._preparing = False
            if not self._closed and self._spare is None and self.pool.size < self.pool.capacity:
                self._spare, session = session, None
        if session is not None:  # the pool filled up meanwhile (or it is closing)
            session._close()
        else:
            log.info("a spare session is ready for the next new conversation")

    async def start(
        self, body: Mapping[str, Any], messages: list[Message], scope: str
    ) -> Answer | ApiError:
        """Begin answering: the conversation is chosen, the prompt counted, the engine started,
        all in one worker thread (each hop between threads costs a busy machine milliseconds
        of the first token). A request the engine refuses (the prompt does not fit) is an
        ApiError, as from Foundry."""
        loop = asyncio.get_running_loop()
        answer = Answer()
        worker = threading.Thread(
            target=self._serve,
            args=(answer, body, messages, scope, loop),
            name="session-answer",
            daemon=True,
        )
        worker.start()
        try:
            kind, value = await answer.events.get()
        except BaseException:  # the client left before the answer began
            answer.stop()
            raise
        if kind == "error":
            return value  # type: ignore[no-any-return]
        return answer

    def _checkout(self, scope: str, messages: list[Message]) -> Checkout:
        with self._native:
            checkout = self.pool.checkout(scope, messages)
        stats = self.pool.stats
        if checkout.new_conversation:
            stats.misses += 1
        elif checkout.conversation.warm:
            stats.hits += 1
        else:
            stats.rebuilds += 1
        return checkout

    def _serve(
        self,
        answer: Answer,
        body: Mapping[str, Any],
        messages: list[Message],
        scope: str,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """The worker thread: the conversation, the native request, its items onto the event
        loop's queue ("began" once the prompt is counted, then "text"…, then "end" or
        "error")."""
        put = answer.events.put_nowait

        def send(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(put, (kind, value))

        try:
            answer.checkout = checkout = self._checkout(scope, messages)
        except Exception as error:  # the SDK raises plain exceptions with native messages
            log.warning("no session for a conversation: %s", error)
            answer._done.set()
            send("error", _api_error(error))
            return
        conversation = checkout.conversation
        keep = True
        last: tuple[str, Any] = ("end", None)
        try:
            request = answer._request = _request(checkout.plan.new, _options(body))
            preflight = conversation.session.preflight_request(request)
            answer.prompt_tokens = preflight.prompt_tokens
            answer.reused_tokens = checkout.reused_tokens
            answer.read_seconds_estimate = self.read_speed.seconds_for(answer.read_tokens)
            if preflight.fits:  # else the engine refuses it at once, in Foundry's own words
                send("began", None)
            if answer._stop.is_set():
                return
            finish, usage = self._generate(answer, conversation, request, send, preflight.fits)
        except Exception as error:  # the SDK raises plain exceptions with native messages
            keep = _is_refusal(error)  # refused before it began: the session is as it was
            if not keep:
                log.warning("a session failed; its conversation is dropped: %s", error)
            last = ("error", _api_error(error))
        else:
            self._record(answer, finish, usage)
            answer.finish_reason = finish
        finally:
            # Back in the pool before the client hears the end: its next turn finds it idle.
            self.pool.give_back(conversation, keep=keep and bool(conversation.turns))
            answer._done.set()
            send(*last)
            if checkout.new_conversation:
                self.prepare_spare()  # this conversation took it (or none was ready)

    def _generate(
        self,
        answer: Answer,
        conversation: Any,
        request: Any,
        send: Callable[[str, Any], None],
        began: bool,
    ) -> tuple[str | None, Any]:
        """The finish reason (None: cancelled) and the usage of one native request."""
        started = time.perf_counter()
        with conversation.session.process_streaming_request(request) as stream:
            for item in stream:
                if answer.first_token_at is None:
                    answer.first_token_at = time.perf_counter()
                    self.read_speed.record(answer.read_tokens, answer.first_token_at - started)
                    if not began:
                        send("began", None)
                text = getattr(item, "text", None)
                if text:
                    answer.text.append(text)
                    send("text", text)
                if answer._stop.is_set():
                    return None, None
            with stream.final_response as final:
                return FINISH_REASONS.get(int(final.finish_reason), "stop"), final.get_usage()

    def _record(self, answer: Answer, finish: str | None, usage: Any) -> None:
        assert answer.checkout is not None
        conversation = answer.checkout.conversation
        stats = self.pool.stats
        stats.tokens_reused += answer.reused_tokens
        stats.tokens_read += answer.read_tokens
        if finish is None:  # cancelled: the engine keeps no trace of the turn, nor its cache
            conversation.warm = False
            return
        answer.completion_tokens = usage.completion_tokens if usage else len(answer.text)
        total = usage.total_tokens if usage else answer.prompt_tokens + answer.completion_tokens
        conversation.turns.append(Turn(answer.checkout.plan.new, "".join(answer.text), total))
        # A turn that did not end by itself is kept in the engine's history, but its cache is
        # dropped: the next turn reads the whole conversation once.
        conversation.warm = finish == "stop"

    def snapshot(self) -> WarmConversations:
        stats = self.pool.stats
        return WarmConversations(
            hits=stats.hits,
            misses=stats.misses,
            rebuilds=stats.rebuilds,
            tokens_reused=stats.tokens_reused,
            tokens_read=stats.tokens_read,
            evictions=stats.evictions,
            conversations=self.pool.size,
            capacity=self.pool.capacity,
            pool_bytes=self.pool_bytes,
        )

    def close(self) -> None:
        with self._spare_lock:
            self._closed = True
            spare, self._spare = self._spare, None
        if spare is not None:
            spare._close()
        self.pool.close()


def _session_bytes(model_dir: Path) -> int | None:
    try:
        config = json.loads((model_dir / "genai_config.json").read_text())
    except (OSError, ValueError):
        return None
    return kv_cache_bytes(config)


def _options(body: Mapping[str, Any]) -> Any:
    from foundry_local_sdk.session_types import RequestOptions, SearchOptions

    limit = body.get("max_completion_tokens")
    if limit is None:
        limit = body.get("max_tokens")
    return RequestOptions(
        search=SearchOptions(
            temperature=body.get("temperature"),
            top_p=body.get("top_p"),
            max_output_tokens=limit,
            seed=body.get("seed"),
        )
    )


def _request(messages: tuple[Message, ...], options: Any) -> Any:
    from foundry_local_sdk.items import MessageItem
    from foundry_local_sdk.request import Request

    request = Request()
    for role, text in messages:
        request.add_item(getattr(MessageItem, role)(text))
    request.set_options(options)
    return request


def _is_refusal(error: Exception) -> bool:
    return "exceeds the model's maximum context length" in str(error)


def _api_error(error: Exception) -> ApiError:
    """A native error as Foundry's web service reports the same one."""
    message = str(error)
    status = 400 if _is_refusal(error) else 500
    error_type = "invalid_request_error" if status == 400 else "server_error"
    prefix = "Invalid request: " if status == 400 else ""
    return from_foundry(status, {"error": {"message": prefix + message, "type": error_type}})
