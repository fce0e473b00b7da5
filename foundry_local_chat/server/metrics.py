"""The chat app's Prometheus metrics, in a registry of its own per app (AppState): several apps
can run in one process, as in the tests. Exposed at the chat app's /metrics (ops_routes)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from foundry_local_chat.endpoint.metrics import LATENCY_BUCKETS

PREFIX = "foundry_local_chat_chat_"


class ChatMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self._open_chats: set[str] = set()
        self.active_chats = Gauge(
            PREFIX + "active_chats",
            "Chats whose browser is connected now.",
            registry=registry,
        )
        self.active_chats.set_function(lambda: len(self._open_chats))
        self.answers = Counter(
            PREFIX + "answers",
            "Answers given in full (the loop guard's shortened ones included).",
            registry=registry,
        )
        self.stops = Counter(
            PREFIX + "stops",
            "Answers stopped with the stop button.",
            registry=registry,
        )
        self.abandoned = Counter(
            PREFIX + "answers_abandoned",
            "Answers cancelled because their browser left and did not come back in time.",
            registry=registry,
        )
        self.time_to_first_token = Histogram(
            PREFIX + "time_to_first_token_seconds",
            "From an answer's turn at the model server to its first token, as the chat saw it.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.saves_waiting = Gauge(
            PREFIX + "history_saves_waiting",
            "History saves waiting for the database to come back (an outage).",
            registry=registry,
        )

    def chat_opened(self, chat_id: str) -> None:
        self._open_chats.add(chat_id)

    def chat_closed(self, chat_id: str) -> None:
        self._open_chats.discard(chat_id)

    def answered(self, ttft_seconds: float | None) -> None:
        self.answers.inc()
        if ttft_seconds is not None:
            self.time_to_first_token.observe(ttft_seconds)

    def watch_saves(self, waiting: Callable[[], int]) -> None:
        self.saves_waiting.set_function(waiting)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
