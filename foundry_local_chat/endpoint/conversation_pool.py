"""Conversations kept warm in Foundry Local's in-process sessions; which one a request continues.

A retained conversation is a native `ChatSession` whose generator still holds the KV cache of
every turn so far: a request that repeats those turns exactly (same scope, same messages, the
assistant's answers as they were generated) sends the engine only its new messages. Turns are
the unit: the native session can undo whole turns (regenerate, an edited message) and keeps
the cache of the turns before them.

Reuse is scoped: a conversation is only ever continued by requests of the scope that started
it (the API key sent, plus the client's `prompt_cache_key` / `user` / `safety_identifier`, plus
Open WebUI's user header), so one client's retained prefix can neither answer another's request
nor reveal itself through a faster first token.

The pool holds at most `capacity` conversations (each holds a KV cache sized for the model's
whole context, see `kv_cache_bytes`); the least recently used one makes room: its turns are
undone and its session answers the new conversation (a new session's first answer pays for
allocating that cache: 0.2-0.5 s for the bundled model). A conversation is checked out while
it answers, so two requests never share a session.

Pure bookkeeping: the native session is whatever object `open_session` returns (tests give a
stand-in); endpoint/session_engine.py runs the requests.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Message = tuple[str, str]  # (role, text) as the engine reads it


class NativeSession(Protocol):
    def undo_turns(self, count: int) -> None: ...
    def _close(self) -> None: ...


@dataclass(frozen=True)
class Turn:
    """One request's new messages and the answer the engine generated for them."""

    prompt: tuple[Message, ...]
    answer: str
    tokens: int  # what the cache holds after this turn: every turn's prompt and answer so far


@dataclass
class RetainedConversation:
    scope: str
    session: Any  # a NativeSession
    turns: list[Turn] = field(default_factory=list)
    warm: bool = True  # False: the native session dropped its cache (a cut or stopped turn)
    last_used: float = field(default_factory=time.monotonic)

    @property
    def tokens(self) -> int:
        return self.turns[-1].tokens if self.turns else 0

    def messages(self) -> list[Message]:
        out: list[Message] = []
        for turn in self.turns:
            out += turn.prompt
            out.append(("assistant", turn.answer))
        return out


@dataclass(frozen=True)
class Plan:
    """How a request continues a conversation: keep its first `keep` turns, undo the rest, and
    send `new` (the messages after them)."""

    keep: int
    new: tuple[Message, ...]


def plan(turns: Sequence[Turn], messages: Sequence[Message]) -> Plan:
    """The most turns of `turns` that `messages` repeats exactly from its start, at a turn's
    end; the messages after them are new. A request must end with new messages."""
    keep, position = 0, 0
    for turn in turns:
        end = position + len(turn.prompt) + 1
        if end >= len(messages):  # the request must still have something new after the turn
            break
        if tuple(messages[position : end - 1]) != turn.prompt:
            break
        if messages[end - 1] != ("assistant", turn.answer):
            break
        keep, position = keep + 1, end
    return Plan(keep, tuple(messages[position:]))


def scope_key(api_key: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """Who a request belongs to, as far as the endpoint can tell: never shared across keys."""
    parts = [api_key]
    parts += [str(body.get(name) or "") for name in ("prompt_cache_key", "user")]
    parts.append(str(body.get("safety_identifier") or ""))
    parts.append(headers.get("X-OpenWebUI-User-Id", ""))
    parts.append(headers.get("X-OpenWebUI-Chat-Id", ""))
    encoded = json.dumps(parts).encode()  # unambiguous: no value can pose as two
    return hashlib.sha256(encoded).hexdigest()


@dataclass
class PoolStats:
    hits: int = 0  # requests that continued a warm conversation
    misses: int = 0  # requests that started a conversation
    rebuilds: int = 0  # continued a conversation whose cache the engine had dropped
    tokens_reused: int = 0
    tokens_read: int = 0
    evictions: int = 0
    undone_turns: int = 0


@dataclass
class Checkout:
    conversation: RetainedConversation
    plan: Plan
    reused_tokens: int  # tokens of the kept turns the engine will not read again
    new_conversation: bool


class ConversationPool:
    """At most `capacity` retained conversations, least recently used evicted first."""

    def __init__(
        self,
        capacity: int,
        open_session: Callable[[], Any],
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.capacity = capacity
        self._open_session = open_session
        self._idle: list[RetainedConversation] = []
        self._busy = 0
        self._lock = threading.Lock()
        self.stats = PoolStats()
        self._on_change = on_change or (lambda: None)

    @property
    def size(self) -> int:
        """Conversations held: idle and answering."""
        with self._lock:
            return len(self._idle) + self._busy

    def checkout(self, scope: str, messages: Sequence[Message]) -> Checkout:
        """The conversation of `scope` this request continues furthest, or a new one."""
        with self._lock:
            best: RetainedConversation | None = None
            best_plan = Plan(0, tuple(messages))
            for conversation in self._idle:
                if conversation.scope != scope:
                    continue
                candidate = plan(conversation.turns, messages)
                if candidate.keep > best_plan.keep:
                    best, best_plan = conversation, candidate
            if best is not None:
                self._idle.remove(best)
                self._busy += 1
            else:
                evicted = self._make_room()
        if best is None:
            session = None
            if evicted:  # the newest of them is emptied and answers the new conversation
                recycled = evicted.pop()
                try:
                    recycled.session.undo_turns(len(recycled.turns))
                    session = recycled.session
                except Exception:  # the SDK raises plain exceptions; a new session will do
                    evicted.append(recycled)
            for old in evicted:
                _close(old.session)
            self._on_change()
            if session is None:
                try:
                    session = self._open_session()
                except BaseException:
                    with self._lock:
                        self._busy -= 1
                    raise
            conversation = RetainedConversation(scope, session)
            return Checkout(conversation, Plan(0, tuple(messages)), 0, True)
        undo = len(best.turns) - best_plan.keep
        if undo:
            best.session.undo_turns(undo)
            del best.turns[best_plan.keep :]
            self.stats.undone_turns += undo
        reused = best.tokens if best.warm else 0
        return Checkout(best, best_plan, reused, False)

    def _make_room(self) -> list[RetainedConversation]:
        """Reserve a place for a new conversation (lock held): the evicted ones, to close."""
        self._busy += 1
        return self._over_capacity()

    def _over_capacity(self) -> list[RetainedConversation]:
        """Take the least recently used idle conversations out until the pool fits its
        capacity (lock held); the caller closes or reuses them."""
        evicted: list[RetainedConversation] = []
        while self._idle and len(self._idle) + self._busy > self.capacity:
            oldest = min(self._idle, key=lambda c: c.last_used)
            self._idle.remove(oldest)
            evicted.append(oldest)
            self.stats.evictions += 1
        return evicted

    def give_back(self, conversation: RetainedConversation, keep: bool) -> None:
        """Return a conversation after its request; `keep` False closes it (its session
        failed, or it answers nothing anyone can continue)."""
        conversation.last_used = time.monotonic()
        closing = [] if keep else [conversation]
        with self._lock:
            self._busy -= 1
            if keep:
                self._idle.append(conversation)
            # More answered at once than the pool holds (ENDPOINT_CONCURRENCY above it): the
            # least recently used go.
            closing += self._over_capacity()
        for old in closing:
            _close(old.session)
        self._on_change()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conversation in idle:
            _close(conversation.session)
        self._on_change()


def _close(session: Any) -> None:
    session._close()  # the SDK's own release; it waits for a request still running


def kv_cache_bytes(genai_config: Mapping[str, Any], bytes_per_value: int = 4) -> int | None:
    """What one session's KV cache takes: ONNX Runtime GenAI allocates it for the whole
    context (`past_present_share_buffer`). CPU int4 builds keep it in float32. None when the
    config does not say."""
    try:
        model = genai_config["model"]
        decoder = model["decoder"]
        layers = int(decoder["num_hidden_layers"])
        heads = int(decoder["num_key_value_heads"])
        head_size = int(decoder["head_size"])
        length = int(genai_config.get("search", {}).get("max_length") or model["context_length"])
    except (KeyError, TypeError, ValueError):
        return None
    return 2 * layers * heads * head_size * length * bytes_per_value
