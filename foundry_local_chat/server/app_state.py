"""Everything the chat handlers share, built from Settings in one explicit step.

The Chainlit app creates it in its startup hook; tests build one around a scripted model server
and call the handlers in-process. Per-chat state never lives here (that is cl.user_session).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2

from foundry_local_chat.answers.live import LiveAnswers
from foundry_local_chat.chat.answer_queue import AnswerQueue
from foundry_local_chat.chat.backend import BackendKind, BackendUnavailable, ProfileResolver
from foundry_local_chat.chat.idle_work import IdleWork
from foundry_local_chat.chat.readiness import ChatReadiness, HistoryEngine
from foundry_local_chat.config import Settings
from foundry_local_chat.documents.reader import DocumentReader
from foundry_local_chat.endpoint.read_speed import ReadSpeed
from foundry_local_chat.models.foundry_runtime import FoundryRuntime, Progress
from foundry_local_chat.models.local_models import LocalModels
from foundry_local_chat.readiness import CachedReadiness
from foundry_local_chat.server.metrics import ChatMetrics
from foundry_local_chat.ui.thread_tabs import ThreadTabs

log = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: Settings
    local: LocalModels
    profiles: ProfileResolver
    # The endpoint admits ENDPOINT_CONCURRENCY answers at once: this app's chats take turns at
    # it here, where each can be told its place, instead of waiting unseen inside the endpoint.
    answer_queues: Mapping[BackendKind, AnswerQueue]
    metrics: ChatMetrics  # this app's own registry (/metrics)
    readiness: CachedReadiness  # /readyz
    # Reads uploaded files in worker processes, within DocumentLimits (per user and overall).
    document_reader: DocumentReader
    live_answers: LiveAnswers = field(default_factory=LiveAnswers)  # by thread
    tabs: ThreadTabs = field(default_factory=ThreadTabs)  # which tabs are open on a thread
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    read_speed: ReadSpeed = field(default_factory=ReadSpeed)  # the model's, measured on answers
    # What waits for the model to be idle and gives way to answers (a new chat's title).
    idle_work: IdleWork = field(default_factory=IdleWork)

    @classmethod
    def create(
        cls,
        settings: Settings,
        runtime: FoundryRuntime | None = None,
        http_client: httpx2.AsyncClient | None = None,
        history_engine: HistoryEngine = lambda: None,
    ) -> AppState:
        local = LocalModels(settings, runtime)
        profiles = ProfileResolver(settings, local, http_client)
        checks = ChatReadiness(local, profiles, history_engine, settings.readiness_timeout_seconds)
        return cls(
            settings=settings,
            local=local,
            profiles=profiles,
            answer_queues={BackendKind.FOUNDRY_LOCAL: AnswerQueue(settings.endpoint_concurrency)},
            metrics=ChatMetrics(),
            readiness=CachedReadiness(checks.check, settings.readiness_cache_seconds),
            document_reader=DocumentReader(settings.documents),
        )

    async def start(self, progress: Progress, wait_seconds: float) -> None:
        """Start Foundry Local, and wait up to `wait_seconds` for it: the bundled model loads in
        about a second, so the first page already says which model answers; a catalog model may
        download for minutes, and chats show that progress meanwhile."""
        self.local.on_startup_progress(progress)
        starting = self._in_background(self.local.start())
        if self.settings.base_url:  # which model BASE_URL answers with, for the welcome screen
            self._in_background(self._ask_remote())
        await asyncio.wait({starting}, timeout=wait_seconds)

    async def _ask_remote(self) -> None:
        try:
            await self.profiles.remote()
        except BackendUnavailable as error:
            log.warning("%s", error)

    def _in_background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self) -> None:
        await asyncio.to_thread(self.local.stop)
