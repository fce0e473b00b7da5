"""The endpoint's Prometheus metrics, in a registry of its own per gateway (several gateways can
run in one process, as in the tests), and a meter that reads a completion's stream as it passes.

Exposed at the endpoint's /metrics in Prometheus' text format by prometheus-client.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

PREFIX = "foundry_local_chat_endpoint_"
# Time to first token: from tens of milliseconds (a short prompt) to minutes (a long one behind
# a queue). Total time and decode speed likewise span what the bundled and larger models do.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TOKENS_PER_SECOND_BUCKETS = (1, 5, 10, 20, 40, 60, 80, 100, 150, 200, 400)
UNMATCHED_ROUTE = "unmatched"  # a path no route serves: one label, whatever the path was


class EndpointMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            PREFIX + "requests",
            "Requests answered, by route and HTTP status.",
            ["route", "status"],
            registry=registry,
        )
        self.in_flight = Gauge(
            PREFIX + "requests_in_flight", "Requests being handled now.", registry=registry
        )
        self.completions_active = Gauge(
            PREFIX + "completions_active",
            "Completions Foundry Local is working on now.",
            registry=registry,
        )
        self.completions_queued = Gauge(
            PREFIX + "completions_queued",
            "Completions waiting for their turn (ENDPOINT_MAX_QUEUE).",
            registry=registry,
        )
        self.queue_wait = Histogram(
            PREFIX + "queue_wait_seconds",
            "Time a completion waited for its turn.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.time_to_first_token = Histogram(
            PREFIX + "time_to_first_token_seconds",
            "From a completion request's arrival to its first token (streamed) or its answer.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.completion_time = Histogram(
            PREFIX + "completion_seconds",
            "From a completion request's arrival to its last byte.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.generated_tokens = Counter(
            PREFIX + "generated_tokens",
            "Tokens generated in answers (usage, else streamed chunks).",
            registry=registry,
        )
        self.decode_speed = Histogram(
            PREFIX + "decode_tokens_per_second",
            "Decode speed of each streamed completion: tokens after the first per second.",
            buckets=TOKENS_PER_SECOND_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            PREFIX + "errors",
            "Error answers, by OpenAI error code (the type when there is no code).",
            ["code"],
            registry=registry,
        )
        self.model_loaded = Gauge(
            PREFIX + "model_loaded",
            "1 when the served model is loaded and answers, else 0.",
            ["model"],
            registry=registry,
        )
        self.model_load_seconds = Gauge(
            PREFIX + "model_load_seconds",
            "How long loading the served model took at start.",
            ["model"],
            registry=registry,
        )

    def watch_queue(self, active: Callable[[], int], waiting: Callable[[], int]) -> None:
        """Read the admission queue at each scrape (no bookkeeping of its own to drift)."""
        self.completions_active.set_function(active)
        self.completions_queued.set_function(waiting)

    def watch_conversations(self, read: Callable[[], WarmConversations | None]) -> None:
        """Read the pool of warm conversations at each scrape."""
        self.registry.register(_WarmConversationsCollector(read))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


@dataclass(frozen=True)
class WarmConversations:
    """A snapshot of the pool of conversations kept warm (conversation_pool.PoolStats)."""

    hits: int
    misses: int
    rebuilds: int
    tokens_reused: int
    tokens_read: int
    evictions: int
    conversations: int
    capacity: int
    pool_bytes: int


WARM_COUNTERS = {
    "hits": "Requests that continued a warm conversation (only new messages read).",
    "misses": "Requests that started a conversation (the whole prompt read).",
    "rebuilds": "Requests that continued a conversation whose cache was dropped (read again).",
    "tokens_reused": "Prompt tokens not read again: kept from earlier turns.",
    "tokens_read": "Prompt tokens read by requests served from sessions.",
    "evictions": "Warm conversations closed to make room for another.",
}
WARM_GAUGES = {
    "conversations": "Conversations kept warm now.",
    "capacity": "Conversations that may be kept warm (ENDPOINT_WARM_CONVERSATIONS and _MB).",
    "pool_bytes": "Memory the warm conversations' KV caches take.",
}


class _WarmConversationsCollector(Collector):
    def __init__(self, read: Callable[[], WarmConversations | None]) -> None:
        self._read = read

    def collect(self):  # type: ignore[no-untyped-def]
        snapshot = self._read()
        if snapshot is None:  # no session pool (BASE_URL only, or reuse turned off)
            return
        for name, doc in WARM_COUNTERS.items():
            yield CounterMetricFamily(PREFIX + "warm_" + name, doc, value=getattr(snapshot, name))
        for name, doc in WARM_GAUGES.items():
            yield GaugeMetricFamily(PREFIX + "warm_" + name, doc, value=getattr(snapshot, name))


@dataclass
class StreamMeter:
    """Follows one completion's server-sent events as they pass, chunk by chunk (a chunk may hold
    part of an event, or several): when the first token came, how many tokens, decode speed."""

    arrived: float  # time.perf_counter() when the request arrived
    first_token_at: float | None = None
    last_token_at: float | None = None
    content_chunks: int = 0
    usage_tokens: int | None = None  # completion_tokens of the usage chunk, when sent
    recorded: bool = False
    _pending: bytes = b""

    @property
    def tokens(self) -> int:
        return self.usage_tokens if self.usage_tokens is not None else self.content_chunks

    @property
    def tokens_per_second(self) -> float | None:
        if self.first_token_at is None or self.last_token_at is None or self.tokens < 2:
            return None
        seconds = self.last_token_at - self.first_token_at
        return (self.tokens - 1) / seconds if seconds > 0 else None

    def feed(self, chunk: bytes, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        self._pending += chunk
        *events, self._pending = self._pending.replace(b"\r\n", b"\n").split(b"\n\n")
        for event in events:
            self._read_event(event, now)

    def _read_event(self, event: bytes, now: float) -> None:
        for line in event.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            try:
                payload = json.loads(line[5:])
            except ValueError:  # [DONE], or something that is no JSON: not a token
                continue
            if isinstance(payload, dict):
                self.read_payload(payload, now)

    def read_payload(self, payload: dict[str, object], now: float) -> None:
        """One chunk's JSON, or a whole non-streamed completion."""
        usage = payload.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            self.usage_tokens = usage["completion_tokens"]
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return
        delta = choices[0].get("delta") or choices[0].get("message")
        if isinstance(delta, dict) and delta.get("content"):
            self.content_chunks += 1
            if self.first_token_at is None:
                self.first_token_at = now
            self.last_token_at = now

    def record(self, metrics: EndpointMetrics, finished: float | None = None) -> None:
        finished = time.perf_counter() if finished is None else finished
        self.recorded = True
        metrics.completion_time.observe(finished - self.arrived)
        if self.first_token_at is not None:
            metrics.time_to_first_token.observe(self.first_token_at - self.arrived)
        metrics.generated_tokens.inc(self.tokens)
        if (speed := self.tokens_per_second) is not None:
            metrics.decode_speed.observe(speed)
