"""Which server answers a chat: Foundry Local's endpoint first, any OpenAI-compatible BASE_URL
second, chosen by the chat's profile.

A Backend is all the chat code needs: an endpoint URL, an API key and a model id. The chat never
knows which kind of server it talks to. The resolver returns data (backends, and what each
profile would use for the welcome screen); how that reads is the chat view's business.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

import httpx2
from openai import AsyncOpenAI, OpenAIError, Timeout

from foundry_local_chat.chat.auto_routing import route_message
from foundry_local_chat.chat.context_window import ContextWindow, read_window
from foundry_local_chat.config import BUNDLED_MODEL_ALIAS, BUNDLED_MODEL_ID, Settings
from foundry_local_chat.errors import FoundryLocalChatError, one_line
from foundry_local_chat.models.bundled import is_built
from foundry_local_chat.models.foundry_runtime import RunningEndpoint
from foundry_local_chat.models.local_models import LocalModels

log = logging.getLogger(__name__)

# Foundry Local's web service accepts any key; the client needs one (and CI=true replaces
# OPENAI_API_KEY in Chainlit's process, so the key is always passed explicitly).
FOUNDRY_API_KEY = "foundry-local"
# A new chat's settings panel waits for the model list: a server that does not list its models
# this soon (hung, or gone since the chat's backend was chosen) must not keep the chat waiting.
MODELS_TIMEOUT_SECONDS = 5.0


class BackendKind(StrEnum):
    FOUNDRY_LOCAL = "Foundry Local"
    REMOTE = "BASE_URL"


class Profile(StrEnum):
    """The chat profiles a user picks from on the welcome screen."""

    FOUNDRY_LOCAL = "Foundry Local"
    REMOTE = "Remote"
    AUTO = "Auto"


class Problem(StrEnum):
    LOCAL_FAILED = "local failed"  # Foundry Local could not start or serve (reason: its words)
    LOCAL_OFF = "local off"  # FOUNDRY_LOCAL=0
    NO_FALLBACK = "no fallback"  # BASE_URL is not set
    REMOTE_SILENT = "remote silent"  # BASE_URL did not answer (reason: the client's words)
    REMOTE_LACKS_MODEL = "remote lacks model"  # BASE_URL does not serve MODEL


@dataclass(frozen=True)
class Unavailable:
    """Why one server cannot answer, as data (the chat view says it in the chat's language)."""

    problem: Problem
    reason: str = ""
    url: str = ""
    model: str = ""
    served: tuple[str, ...] = ()


class BackendUnavailable(FoundryLocalChatError, RuntimeError):
    """No backend can answer a chat: why each candidate cannot."""

    def __init__(self, *why: Unavailable) -> None:
        super().__init__("; ".join(f"{w.problem.value} {w.url} {w.reason}".strip() for w in why))
        self.why = why


@dataclass(frozen=True)
class Backend:
    kind: BackendKind
    base_url: str
    api_key: str
    model: str
    # The HTTP client under the openai client; None: the SDK's own. Tests pass one whose
    # transport is a scripted model server, so the chat code runs exactly as with a real one.
    http_client: httpx2.AsyncClient | None = field(default=None, compare=False, repr=False)

    @cached_property
    def client(self) -> AsyncOpenAI:
        """One client per backend, shared by every chat of the process (it pools connections)."""
        # No retries: a retried streaming request would replay a half-shown answer.
        timeout = Timeout(connect=5.0, read=120.0, write=30.0, pool=5.0)
        return AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key,
            max_retries=0,
            timeout=timeout,
            http_client=self.http_client,
        )

    async def served_models(self, within_seconds: float = MODELS_TIMEOUT_SECONDS) -> list[str]:
        """The models the server lists; only this backend's own when it does not list them
        within `within_seconds` (the chat still opens; its first answer says what is wrong)."""
        try:
            return [model.id async for model in self.client.models.list(timeout=within_seconds)]
        except OpenAIError as error:
            log.warning(
                "%s did not list its models (%s); the settings panel offers %s only",
                self.base_url, one_line(error), self.model,
            )  # fmt: skip
            return [self.model]


def foundry_backend(endpoint: RunningEndpoint) -> Backend:
    key = endpoint.api_key or FOUNDRY_API_KEY  # ENDPOINT_API_KEY when set, else any key works
    return Backend(BackendKind.FOUNDRY_LOCAL, endpoint.url, key, endpoint.model_id)


async def remote_backend(settings: Settings, http_client: httpx2.AsyncClient | None) -> Backend:
    """Check BASE_URL answers GET /models and pick MODEL, or its first model when MODEL is unset."""
    client = AsyncOpenAI(
        base_url=settings.base_url,
        api_key=settings.api_key or "none",
        max_retries=0,
        timeout=5.0,
        http_client=http_client,
    )
    try:
        served = [model.id async for model in client.models.list()]
    except OpenAIError as error:
        raise BackendUnavailable(
            Unavailable(Problem.REMOTE_SILENT, str(error), settings.base_url)
        ) from error
    finally:
        if http_client is None:
            await client.close()
    if settings.model in served:
        model = settings.model
    elif settings.wants_bundled_model and served:
        model = served[0]
    else:
        raise BackendUnavailable(
            Unavailable(
                Problem.REMOTE_LACKS_MODEL, "", settings.base_url, settings.model, tuple(served)
            )
        )
    return Backend(
        BackendKind.REMOTE,
        settings.base_url.rstrip("/"),
        settings.api_key or "none",
        model,
        http_client,
    )


# ----- what a profile uses, as data for the welcome screen -----


@dataclass(frozen=True)
class LocalStatus:
    starting: bool
    endpoint: RunningEndpoint | None  # set when it serves
    unavailable: Unavailable | None  # why it does not, once started
    model: str | None = None  # the model it serves, or will once started; None: unavailable


@dataclass(frozen=True)
class RemoteStatus:
    url: str
    model: str | None  # None: not asked yet, and MODEL is unset (its first model answers)


@dataclass(frozen=True)
class ProfileStatus:
    profile: Profile
    local: LocalStatus | None  # None: the profile never answers locally
    remote: RemoteStatus | None  # None: the profile never answers from BASE_URL
    long_prompt_chars: int  # Auto: longer prompts go to BASE_URL

    @property
    def first_model(self) -> str | None:
        """The model that answers a first, short question in this profile; None: not known."""
        if self.local is not None and self.local.model is not None:
            return self.local.model
        return self.remote.model if self.remote is not None else None


class ProfileResolver:
    """Hands each chat the Backend its profile uses (Auto routes each message)."""

    def __init__(
        self,
        settings: Settings,
        local: LocalModels,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.local = local
        self.http_client = http_client  # for BASE_URL; None: the openai SDK's own
        self._remote_backend: Backend | None = None
        self._local_backend: Backend | None = None

    def profiles(self) -> list[Profile]:
        """Chat profiles: Remote and Auto only when a BASE_URL is configured."""
        if self.settings.base_url:
            return [Profile.FOUNDRY_LOCAL, Profile.REMOTE, Profile.AUTO]
        return [Profile.FOUNDRY_LOCAL]

    def default_profile(self) -> Profile:
        return Profile.AUTO if self.settings.base_url else Profile.FOUNDRY_LOCAL

    def chosen(self, name: str | None) -> Profile:
        """The profile a chat named, or the default for a name that is not offered."""
        offered = {profile.value: profile for profile in self.profiles()}
        return offered.get(name or "", self.default_profile())

    def status(self, profile: Profile) -> ProfileStatus:
        endpoint = self.local.endpoint
        starting = not self.local.started and self.settings.use_foundry_local
        local = LocalStatus(
            starting=not self.local.started,
            endpoint=endpoint,
            unavailable=self._local_problem() if self.local.started else None,
            model=endpoint.model_id if endpoint else self.settings.model if starting else None,
        )
        remote = None
        if self.settings.base_url:
            answering = self._remote_backend.model if self._remote_backend else None
            explicit = None if self.settings.wants_bundled_model else self.settings.model
            remote = RemoteStatus(self.settings.base_url, answering or explicit)
        return ProfileStatus(
            profile=profile,
            local=None if profile == Profile.REMOTE else local,
            remote=None if profile == Profile.FOUNDRY_LOCAL else remote,
            long_prompt_chars=self.settings.auto_remote_prompt_chars,
        )

    async def backend(self, profile: Profile, prompt_chars: int = 0) -> Backend:
        """The backend that answers in this profile (Auto routes by prompt length and health).

        Raises BackendUnavailable with what failed and what to do.
        """
        await self.local.wait_started()
        if profile == Profile.FOUNDRY_LOCAL:
            return self._local_or_raise()
        if profile == Profile.REMOTE:
            return await self.remote()
        decision = route_message(
            prompt_chars,
            local_available=self.local.endpoint is not None,
            remote_configured=bool(self.settings.base_url),
            long_prompt_chars=self.settings.auto_remote_prompt_chars,
        )
        if decision.route == "local":
            return self._local_or_raise()
        try:
            return await self.remote()
        except BackendUnavailable as remote_error:
            if self.local.endpoint is not None:  # a long prompt, but the remote is down
                log.warning("Auto: %s; answering locally", remote_error)
                return self._local_or_raise()
            raise BackendUnavailable(self._local_problem(), *remote_error.why) from remote_error

    def _local_problem(self) -> Unavailable:
        if not self.settings.use_foundry_local:
            return Unavailable(Problem.LOCAL_OFF)
        return Unavailable(Problem.LOCAL_FAILED, self.local.error or "")

    def _local_or_raise(self) -> Backend:
        endpoint = self.local.endpoint
        if endpoint is None:
            why = [self._local_problem()]
            if not self.settings.base_url:
                why.append(Unavailable(Problem.NO_FALLBACK))
            raise BackendUnavailable(*why)
        if self._local_backend is None:
            self._local_backend = foundry_backend(endpoint)
        return self._local_backend

    async def remote(self) -> Backend:
        if self._remote_backend is None:
            self._remote_backend = await remote_backend(self.settings, self.http_client)
        return self._remote_backend

    async def context_window(self, backend: Backend, model: str) -> ContextWindow | None:
        """The model's context length and exact token counter, when its files are on this
        machine: Foundry Local's own models, and the bundled model wherever it is served (e.g.
        by `serve` endpoints behind BASE_URL). None: the request goes as it is."""
        model_dir = None
        if backend.kind == BackendKind.FOUNDRY_LOCAL:
            model_dir = await self.local.model_dir(model)
        bundled = self.settings.bundled_model_dir
        if model_dir is None and model in {BUNDLED_MODEL_ALIAS, BUNDLED_MODEL_ID}:
            model_dir = bundled if is_built(bundled) else None
        return None if model_dir is None else await asyncio.to_thread(read_window, model_dir)
