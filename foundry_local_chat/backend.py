"""Backend selection: Foundry Local's endpoint first, any OpenAI-compatible BASE_URL second.

A Backend is all the chat code needs: an endpoint URL, an API key and a model id. The chat never
knows which kind of server it talks to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from openai import AsyncOpenAI, OpenAIError, Timeout

from foundry_local_chat.bundled_model import is_built
from foundry_local_chat.config import BUNDLED_MODEL_ALIAS, BUNDLED_MODEL_ID, Settings
from foundry_local_chat.context_window import ContextWindow, read_window
from foundry_local_chat.errors import FoundryLocalChatError
from foundry_local_chat.foundry_runtime import FoundryRuntime, FoundryStartError, RunningEndpoint
from foundry_local_chat.routing import route_message
from foundry_local_chat.ui_text import ENGLISH, WORDS, Words

log = logging.getLogger(__name__)

FOUNDRY_LOCAL = "Foundry Local"
REMOTE = "BASE_URL"
FOUNDRY_PROFILE, REMOTE_PROFILE, AUTO_PROFILE = "Foundry Local", "Remote", "Auto"
# Foundry Local's web service accepts any key; the client needs one (and CI=true replaces
# OPENAI_API_KEY in Chainlit's process, so the key is always passed explicitly).
FOUNDRY_API_KEY = "foundry-local"


class BackendUnavailable(FoundryLocalChatError, RuntimeError):
    """No backend can answer; the message says what failed and what to do."""


@dataclass(frozen=True)
class Backend:
    kind: str  # FOUNDRY_LOCAL or REMOTE
    base_url: str
    api_key: str
    model: str

    @cached_property
    def client(self) -> AsyncOpenAI:
        """One client per backend, shared by every chat of the process (it pools connections)."""
        # No retries: a retried streaming request would replay a half-shown answer.
        timeout = Timeout(connect=5.0, read=120.0, write=30.0, pool=5.0)
        return AsyncOpenAI(
            base_url=self.base_url, api_key=self.api_key, max_retries=0, timeout=timeout
        )

    async def served_models(self) -> list[str]:
        return [model.id async for model in self.client.models.list()]

    def describe(self) -> str:
        return f"{self.kind} · {self.base_url} · {self.model}"


def foundry_backend(endpoint: RunningEndpoint) -> Backend:
    key = endpoint.api_key or FOUNDRY_API_KEY  # ENDPOINT_API_KEY when set, else any key works
    return Backend(FOUNDRY_LOCAL, endpoint.url, key, endpoint.model_id)


async def remote_backend(settings: Settings) -> Backend:
    """Check BASE_URL answers GET /models and pick MODEL, or its first model when MODEL is unset."""
    client = AsyncOpenAI(
        base_url=settings.base_url, api_key=settings.api_key or "none", max_retries=0, timeout=5.0
    )
    try:
        served = [model.id async for model in client.models.list()]
    except OpenAIError as error:
        raise BackendUnavailable(f"BASE_URL {settings.base_url} did not answer: {error}") from error
    finally:
        await client.close()
    if settings.model in served:
        model = settings.model
    elif settings.wants_bundled_model and served:
        model = served[0]
    else:
        raise BackendUnavailable(
            f"BASE_URL {settings.base_url} does not serve MODEL={settings.model!r}; "
            f"it serves: {', '.join(served) or 'no models'}."
        )
    return Backend(REMOTE, settings.base_url.rstrip("/"), settings.api_key or "none", model)


Progress = Callable[[str, float | None], None]


class BackendResolver:
    """Process-wide: starts Foundry Local once, then hands each chat a Backend."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = FoundryRuntime(settings)
        self.local_error: str | None = None
        self._started = asyncio.Event()
        self._progress_listeners: list[Progress] = []
        self.last_progress: tuple[str, float | None] = ("waiting", None)
        self._remote_backend: Backend | None = None
        self._local_backend: Backend | None = None

    @property
    def started(self) -> bool:
        return self._started.is_set()

    def on_progress(self, listener: Progress) -> Callable[[], None]:
        """Listen to start-up progress; returns the function that stops listening."""
        self._progress_listeners.append(listener)
        return lambda: self._progress_listeners.remove(listener)

    def _report(self, stage: str, percent: float | None) -> None:
        last_stage, last_percent = self.last_progress
        if stage == last_stage and None not in (percent, last_percent) and percent < last_percent:
            return  # the SDK downloads files in parallel, and their reports arrive out of order
        self.last_progress = (stage, percent)
        for listener in list(self._progress_listeners):
            listener(stage, percent)

    def _reporter_for_threads(self) -> Progress:
        """A Progress for the SDK's worker thread: it reports on this (the calling) event loop."""
        loop = asyncio.get_running_loop()
        return lambda stage, percent: loop.call_soon_threadsafe(self._report, stage, percent)

    async def start(self) -> None:
        """Start the local endpoint in a worker thread (the SDK blocks); never raises."""
        if not self.settings.use_foundry_local:
            self.local_error = "Foundry Local is switched off (FOUNDRY_LOCAL=0)."
            self._started.set()
            return
        try:
            endpoint = await asyncio.to_thread(self.runtime.start, self._reporter_for_threads())
            log.info("Foundry Local serves %s at %s", endpoint.model_id, endpoint.url)
        except FoundryStartError as error:
            self.local_error = str(error)
            log.warning("Foundry Local is unavailable: %s", error, exc_info=error.__cause__)
        finally:
            self._started.set()

    async def wait_started(self) -> None:
        await self._started.wait()

    def profiles(self) -> list[str]:
        """Chat profiles: Remote and Auto only when a BASE_URL is configured."""
        return (
            [FOUNDRY_PROFILE, REMOTE_PROFILE, AUTO_PROFILE]
            if self.settings.base_url
            else [FOUNDRY_PROFILE]
        )

    def describe_profile(self, profile: str, words: Words = WORDS[ENGLISH]) -> str:
        """One Markdown line: which backend, endpoint and model answer in this profile now."""
        local = self._describe_local(words)
        remote = f"**BASE_URL** · `{self.settings.base_url}` · `{self.settings.model}`"
        if profile == REMOTE_PROFILE:
            return remote
        if profile == AUTO_PROFILE:
            if self.runtime.endpoint is None:
                return words.auto_remote_meanwhile.format(local=local, remote=remote)
            return words.auto_local_first.format(
                local=local, remote=remote, chars=self.settings.auto_remote_prompt_chars
            )
        return local

    def _describe_local(self, words: Words) -> str:
        if self.runtime.endpoint is not None:
            endpoint = self.runtime.endpoint
            return f"**Foundry Local** · `{endpoint.url}` · `{endpoint.model_id}`"
        if not self.started:
            return words.local_starting
        return words.local_unavailable.format(reason=self.local_error.rstrip("."))

    def default_profile(self) -> str:
        return AUTO_PROFILE if self.settings.base_url else FOUNDRY_PROFILE

    async def backend(self, profile: str | None = None, prompt_chars: int = 0) -> Backend:
        """The backend that answers in this profile (Auto routes by prompt length and health).

        Raises BackendUnavailable with what failed and what to do.
        """
        await self.wait_started()
        profile = profile if profile in self.profiles() else self.default_profile()
        if profile == FOUNDRY_PROFILE:
            return self._local_or_raise()
        if profile == REMOTE_PROFILE:
            return await self._remote()
        decision = route_message(
            prompt_chars,
            local_available=self.runtime.endpoint is not None,
            remote_configured=bool(self.settings.base_url),
            long_prompt_chars=self.settings.auto_remote_prompt_chars,
        )
        if decision.route == "local":
            return self._local_or_raise()
        try:
            return await self._remote()
        except BackendUnavailable as remote_error:
            if self.runtime.endpoint is not None:  # a long prompt, but the remote is down
                log.warning("Auto: %s; answering locally", remote_error)
                return self._local_or_raise()
            raise self._nothing_available(str(remote_error)) from remote_error

    def _local_or_raise(self) -> Backend:
        if self.runtime.endpoint is None:
            no_fallback = "BASE_URL is not set, so there is no fallback server."
            raise self._nothing_available(None if self.settings.base_url else no_fallback)
        if self._local_backend is None:
            self._local_backend = foundry_backend(self.runtime.endpoint)
        return self._local_backend

    async def _remote(self) -> Backend:
        if self._remote_backend is None:
            self._remote_backend = await remote_backend(self.settings)
        return self._remote_backend

    def _nothing_available(self, other_problem: str | None) -> BackendUnavailable:
        problems = [f"Foundry Local: {self.local_error}", other_problem or ""]
        return BackendUnavailable(
            " ".join(p for p in problems if p)
            + " To fix it: run `make model` for the bundled model, or set BASE_URL (and API_KEY, "
            "MODEL) to an OpenAI-compatible server, then restart."
        )

    async def prepare_model(self, backend: Backend, model: str) -> None:
        """Make a Foundry Local model servable (download, load), reporting progress."""
        if backend.kind != FOUNDRY_LOCAL:
            return
        self._report("checking the model cache", None)  # not the previous work's "ready 100%"
        try:
            await asyncio.to_thread(self.runtime.prepare_model, model, self._reporter_for_threads())
        except FoundryStartError as error:
            raise BackendUnavailable(str(error)) from error

    async def context_window(self, backend: Backend, model: str) -> ContextWindow | None:
        """The model's context length and exact token counter, when its files are on this
        machine: Foundry Local's own models, and the bundled model wherever it is served (e.g.
        by `serve` endpoints behind BASE_URL). None: the request goes as it is."""
        model_dir = None
        if backend.kind == FOUNDRY_LOCAL:
            model_dir = await asyncio.to_thread(self.runtime.model_dir, model)
        bundled = self.settings.bundled_model_dir
        if (
            model_dir is None
            and model in {BUNDLED_MODEL_ALIAS, BUNDLED_MODEL_ID}
            and is_built(bundled)
        ):
            model_dir = bundled
        return None if model_dir is None else await asyncio.to_thread(read_window, model_dir)

    def stop(self) -> None:
        self.runtime.stop()
