"""Start Foundry Local in-process and serve one model through its own OpenAI-compatible web service.

The bundled model reaches the web service the only way Foundry Local 2.2.1 allows offline: a
private catalog on loopback names it, and a pre-populated model cache makes `download()` a cache
hit. Catalog models (e.g. MODEL=phi-4-mini) come from the public catalog when it is reachable, or
from the catalogs in FOUNDRY_CATALOG_URLS, and are downloaded with progress on first use.

Foundry's web service listens on a private loopback port; clients use the gateway
(endpoint/gateway.py) on FOUNDRY_ENDPOINT_URL, which is bound first, so a busy port fails before
any model work.

The SDK's manager is a process-wide singleton: `start()` is meant to run once per process (app
startup or the `serve` command); per-chat state never lives here.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from foundry_local_chat.config import BUNDLED_MODEL_ALIAS, BUNDLED_MODEL_ID, Settings
from foundry_local_chat.endpoint.gateway import Gateway, GatewayConfig, Upstream
from foundry_local_chat.endpoint.openai_errors import readable
from foundry_local_chat.endpoint.session_engine import SessionEngine
from foundry_local_chat.errors import FoundryLocalChatError, one_line
from foundry_local_chat.models.bundled import MANIFEST, is_built
from foundry_local_chat.models.private_catalog import CatalogEntry, PrivateCatalog

if TYPE_CHECKING:  # the SDK loads its native runtime on import: only when starting it
    from foundry_local_sdk import FoundryLocalManager
    from foundry_local_sdk.imodel import IModel

log = logging.getLogger(__name__)

PUBLIC_CATALOG_URL = "https://api.catalog.azureml.ms/asset-gallery/v1.0/models"
BUNDLED_ENTRY = CatalogEntry(
    publisher="foundry-local-chat",
    name=BUNDLED_MODEL_ID.split(":")[0],
    version=BUNDLED_MODEL_ID.split(":")[1],
    alias=BUNDLED_MODEL_ALIAS,
    display_name="SmolLM2 135M Instruct (bundled, int4 CPU)",
    file_size_bytes=90_000_000,
)

Progress = Callable[[str, float | None], None]
"""Called with a stage ("download", "load", …) and a percent, or None when there is no percent."""


class FoundryStartError(FoundryLocalChatError, RuntimeError):
    """Foundry Local could not serve the requested model; the message says why and what to do."""


def sdk_reason(error: Exception) -> str:
    """The SDK's native message in one readable line (the log keeps the whole of it)."""
    # A failed HTTP call ends with the server's body: an HTML page says nothing to a person.
    return readable(one_line(error)).split(": <", 1)[0]


@dataclass(frozen=True)
class RunningEndpoint:
    url: str  # the public endpoint (the gateway), e.g. http://127.0.0.1:5273/v1
    model_id: str  # the full variant id the endpoint serves (and lists in /v1/models)
    model_alias: str  # accepted in requests as well
    api_key: str = ""  # clients must send it; empty: any key works
    foundry_url: str = ""  # Foundry's own web service behind the gateway (for benchmarks)


def private_web_bind() -> str:
    """Where Foundry's own web service listens: loopback, a free port, and on Linux a random
    address in 127.0.0.0/8 (Linux routes all of it to loopback; Foundry 2.2.1 binds it).

    That service has management routes with no authentication (`/models/unload/{name}`, …);
    a web page that port-scans 127.0.0.1 finds it, one among 16 million addresses it does not."""
    if not sys.platform.startswith("linux"):
        return "http://127.0.0.1:0"
    host = ".".join(str(1 + secrets.randbelow(254)) for _ in range(3))
    return f"http://127.{host}:0"


def public_catalog_reachable(timeout: float = 1.5) -> bool:
    """A cheap TCP probe: offline, DNS fails in ~0.1 s instead of the runtime's ~4 s of retries."""
    host = urlparse(PUBLIC_CATALOG_URL).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def install_bundled_model(build_dir: Path, foundry_cache: Path) -> Path:
    """Make the built model a cache hit for Foundry Local: {cache}/{publisher}/{name}-{version}/.

    Files are hard-linked (copied across file systems) next to the `inference_model.json` marker
    the runtime looks for. Installing is atomic and redone only when the build changed.
    """
    entry = BUNDLED_ENTRY
    target = foundry_cache / entry.publisher / f"{entry.name}-{entry.version}"
    build_manifest = (build_dir / MANIFEST).read_text()
    installed_manifest = target / MANIFEST
    if installed_manifest.is_file() and installed_manifest.read_text() == build_manifest:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".install-", dir=target.parent))
    try:
        for source in build_dir.iterdir():
            try:
                os.link(source, staging / source.name)
            except OSError:
                shutil.copy2(source, staging / source.name)
        marker = {"Name": entry.model_id, "PromptTemplate": None}
        (staging / "inference_model.json").write_text(json.dumps(marker))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class FoundryRuntime:
    """Owns the SDK manager, the private catalog and the web service for one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._catalog_server: PrivateCatalog | None = None
        self._manager: FoundryLocalManager | None = None
        self._gateway: Gateway | None = None
        self.endpoint: RunningEndpoint | None = None

    @property
    def foundry_cache(self) -> Path:
        return self.settings.model_cache_dir / "foundry"

    def _catalog_urls(self) -> list[tuple[str, str | None]]:
        urls: list[tuple[str, str | None]] = []
        if is_built(self.settings.bundled_model_dir):
            install_bundled_model(self.settings.bundled_model_dir, self.foundry_cache)
            self._catalog_server = PrivateCatalog([BUNDLED_ENTRY])
            urls.append((self._catalog_server.url, None))
        elif self.settings.wants_bundled_model:
            raise FoundryStartError(
                f"The bundled model is not built yet ({self.settings.bundled_model_dir}). "
                "Run `make model` (or `make run`, which builds it first)."
            )
        urls += [(url, None) for url in self.settings.catalog_urls]
        if self.settings.offline is False or (
            self.settings.offline is None and public_catalog_reachable()
        ):
            urls.append((PUBLIC_CATALOG_URL, None))
        elif not self.settings.wants_bundled_model and not self.settings.catalog_urls:
            raise FoundryStartError(
                f"MODEL={self.settings.model} comes from Foundry's public catalog, which is "
                "unreachable (offline, or FOUNDRY_OFFLINE=1). Unset MODEL to use the bundled "
                "model, or set BASE_URL to another OpenAI-compatible server."
            )
        return urls

    def _initialize_manager(self) -> FoundryLocalManager:
        from foundry_local_sdk import Configuration, FoundryLocalManager

        existing = FoundryLocalManager.instance
        if existing is not None:  # chainlit -w re-imports the app
            return existing
        data_dir = self.settings.app_data_dir / "foundry"
        config = Configuration(
            app_name="foundry-local-chat",
            app_data_dir=str(data_dir),
            model_cache_dir=str(self.foundry_cache),
            logs_dir=str(data_dir / "logs"),
            catalog_urls=self._catalog_urls(),
            web=Configuration.WebService(urls=private_web_bind()),
            disable_nonessential_telemetry=True,
            catalog_region=self.settings.catalog_region or None,
        )
        FoundryLocalManager.initialize(config)
        manager = FoundryLocalManager.instance
        if manager is None:
            raise FoundryStartError("Foundry Local's manager did not initialize.")
        return manager

    def start(self, progress: Progress | None = None) -> RunningEndpoint:
        """Open the endpoint, initialize, download (with progress) and load the model, serve it."""
        report = progress or (lambda stage, percent: None)
        try:
            self._gateway = self._open_gateway()
            report("start runtime", None)
            self._manager = manager = self._initialize_manager()
            model = self._find_model(self.settings.model)
            if not model.is_cached:
                model.download(lambda percent: report("download", percent))
            report("load", None)
            loading = time.perf_counter()
            model.load()
            load_seconds = time.perf_counter() - loading
            if manager.urls is None:
                manager.start_web_service()
        except FoundryStartError:
            self.stop()
            raise
        except Exception as error:  # the SDK raises plain exceptions with native messages
            self.stop()
            raise FoundryStartError(
                f"Foundry Local failed to start: {sdk_reason(error)}"
            ) from error
        if not manager.urls:
            self.stop()
            raise FoundryStartError("Foundry Local's web service did not say where it listens.")
        foundry_url = manager.urls[0].rstrip("/")
        self._gateway.route_to(
            Upstream(foundry_url, {model.alias: model.id}, model.id),
            load_seconds,
            self._session_engine(model),
        )
        log.info("Foundry Local's own web service (behind the endpoint): %s/v1", foundry_url)
        self.endpoint = RunningEndpoint(
            url=self.settings.endpoint_address.client_url(self._gateway.port),
            model_id=model.id,
            model_alias=model.alias,
            api_key=self.settings.endpoint_api_key,
            foundry_url=f"{foundry_url}/v1",
        )
        report("ready", 100.0)
        return self.endpoint

    def _session_engine(self, model: IModel) -> SessionEngine | None:
        settings = self.settings
        if not settings.warm_conversations or not settings.warm_memory_mb:
            return None
        return SessionEngine.for_model(model, settings.warm_conversations, settings.warm_memory_mb)

    def prepare_model(self, name: str, progress: Progress | None = None) -> None:
        """Download (with progress) and load another model of the catalogs, for a model switch."""
        report = progress or (lambda stage, percent: None)
        if self._manager is None:
            raise FoundryStartError("Foundry Local is not running.")
        model = self._find_model(name)
        try:
            if not model.is_cached:
                model.download(lambda percent: report("download", percent))
            if not model.is_loaded:
                report("load", None)
                model.load()
        except Exception as error:  # the SDK raises plain exceptions with native messages
            raise FoundryStartError(
                f"Foundry Local could not prepare {name}: {sdk_reason(error)}"
            ) from error
        report("ready", 100.0)

    def model_dir(self, name: str) -> Path | None:
        """The folder of a downloaded model (its tokenizer and context length live there)."""
        if self._manager is None:
            return None
        try:
            model = self._find_model(name)
            return Path(model.get_path()) if model.is_cached else None
        except Exception as error:  # the SDK raises plain exceptions with native messages
            log.info("no model folder for %s: %s", name, sdk_reason(error))
            return None

    def _open_gateway(self) -> Gateway:
        address = self.settings.endpoint_address
        gateway = Gateway(
            GatewayConfig(
                host=address.host,
                port=address.port,
                api_key=self.settings.endpoint_api_key,
                cors_origins=self.settings.endpoint_cors_origins,
                concurrency=self.settings.endpoint_concurrency,
                max_queue=self.settings.endpoint_max_queue,
                max_body_bytes=self.settings.endpoint_max_body_bytes,
                readiness_timeout_seconds=self.settings.readiness_timeout_seconds,
                readiness_cache_seconds=self.settings.readiness_cache_seconds,
            )
        )
        try:
            gateway.start()
        except OSError as error:
            raise FoundryStartError(
                f"The endpoint cannot listen on FOUNDRY_ENDPOINT_URL={self.settings.endpoint_url}: "
                f"{error.strerror or error}. Another process (an earlier `make serve` or "
                "`make run`?) may hold the port: stop it, or choose another port."
            ) from error
        return gateway

    def _find_model(self, name: str) -> IModel:
        if self._manager is None:
            raise FoundryStartError("Foundry Local is not running.")
        catalog = self._manager.catalog
        model = catalog.get_model_variant(name) if ":" in name else catalog.get_model(name)
        if model is None:
            known = sorted({m.alias for m in catalog.list_models()})
            raise FoundryStartError(
                f"Foundry Local has no model {name!r}. Models in its catalogs: "
                f"{', '.join(known) or 'none'}."
            )
        return model

    def stop(self) -> None:
        if self._gateway is not None:
            self._gateway.close()
            self._gateway = None
        if self._manager is not None:
            self._manager.close()
            self._manager = None
        if self._catalog_server is not None:
            self._catalog_server.close()
            self._catalog_server = None
        self.endpoint = None
