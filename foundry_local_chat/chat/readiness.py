"""Whether the chat app can answer now: each part it is configured to use, checked for real.

- `foundry_local` (unless FOUNDRY_LOCAL=0): started without error, and its endpoint's own
  /readyz (a 1-token completion) says ready;
- `remote` (with BASE_URL): a 1-token completion of its model;
- `history` (when sign-in, and so history, is on): one round trip to the database.

The app is ready when every one of them is: a part it is set up to use that fails means some
chats fail. Each check is bounded by READINESS_TIMEOUT_SECONDS; results are cached
(readiness.CachedReadiness).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from openai import OpenAIError
from sqlalchemy.ext.asyncio import AsyncEngine

from foundry_local_chat import request_ids
from foundry_local_chat.chat.backend import BackendUnavailable, ProfileResolver
from foundry_local_chat.errors import one_line
from foundry_local_chat.models.local_models import LocalModels
from foundry_local_chat.readiness import Component
from foundry_local_chat.storage import database

HistoryEngine = Callable[[], AsyncEngine | None]
"""The history database's engine; None when history is off."""


class ChatReadiness:
    def __init__(
        self,
        local: LocalModels,
        profiles: ProfileResolver,
        history_engine: HistoryEngine,
        timeout_seconds: float,
    ) -> None:
        self.local = local
        self.profiles = profiles
        self.history_engine = history_engine
        self.timeout_seconds = timeout_seconds

    async def check(self) -> tuple[Component, ...]:
        with request_ids.bound(request_ids.new_id()):  # its log lines, and the endpoint's
            checks = []
            settings = self.local.settings
            if settings.use_foundry_local:
                checks.append(self._foundry_local())
            if settings.base_url:
                checks.append(self._remote())
            engine = self.history_engine()
            if engine is not None:
                checks.append(self._history(engine))
            return tuple(await asyncio.gather(*checks))

    async def _foundry_local(self) -> Component:
        name = "foundry_local"
        if not self.local.started:
            stage, percent = self.local.startup_progress
            done = f" {percent:.0f}%" if percent is not None else ""
            return Component(name, False, f"starting: {stage}{done}")
        endpoint = self.local.endpoint
        if endpoint is None:
            return Component(name, False, self.local.error or "Foundry Local is not running")
        url = endpoint.url.removesuffix("/v1") + "/readyz"
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds + 1)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.get(url, headers=request_ids.outgoing_headers()) as reply,
            ):
                report = await reply.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            return Component(
                name, False, f"the endpoint's /readyz did not answer: {one_line(error)}"
            )
        model = (report.get("components") or {}).get("model") or {}
        if reply.status == 200:
            return Component(name, True, str(model.get("reason", "")))
        return Component(name, False, str(model.get("reason") or f"/readyz said {reply.status}"))

    async def _remote(self) -> Component:
        name = "remote"
        try:
            async with asyncio.timeout(self.timeout_seconds):
                backend = await self.profiles.remote()
                await backend.client.chat.completions.create(
                    model=backend.model,
                    messages=[{"role": "user", "content": "Hi"}],
                    max_tokens=1,
                    extra_headers=request_ids.outgoing_headers(),
                )
        except TimeoutError:
            bound = f"{self.timeout_seconds:g}"
            return Component(name, False, f"no answer to a 1-token completion within {bound} s")
        except (BackendUnavailable, OpenAIError) as error:
            return Component(name, False, one_line(error))
        return Component(name, True)

    async def _history(self, engine: AsyncEngine) -> Component:
        name = "history"
        try:
            async with asyncio.timeout(self.timeout_seconds):
                await database.ping(engine)
        except TimeoutError:
            return Component(name, False, f"no answer within {self.timeout_seconds:g} s")
        except Exception as error:  # the driver's own errors (OSError, asyncpg's, SQLAlchemy's)
            return Component(name, False, f"unreachable: {database.driver_reason(error)}")
        return Component(name, True)
