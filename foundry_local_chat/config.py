"""Typed settings read once from the environment (and an optional .env file)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from foundry_local_chat.errors import FoundryLocalChatError
from foundry_local_chat.log_format import LogFormat
from foundry_local_chat.origins import ANY_ORIGIN, CorsOrigins, Origin, parse_origin

BUNDLED_MODEL_ALIAS = "smollm2-135m-instruct"
BUNDLED_MODEL_ID = "smollm2-135m-instruct-generic-cpu:1"
DEFAULT_ENDPOINT_URL = "http://127.0.0.1:5273"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly and clearly."
SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"
HISTORY_DB_FILE = "chat.db"
USERS_FILE_NAME = "users"


class ConfigError(FoundryLocalChatError, ValueError):
    """A setting has a value the app cannot use; the message names the variable."""


def _dir(env: Mapping[str, str], name: str, xdg_variable: str, home_fallback: str) -> Path:
    """The folder `name` names, else the XDG base folder's foundry-local-chat subfolder."""
    if env.get(name):
        return Path(env[name]).expanduser()
    base = env.get(xdg_variable) or str(Path.home() / home_fallback)
    return Path(base) / "foundry-local-chat"


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a switch: use 1/0, true/false, yes/no or on/off.")


def _optional_flag(env: Mapping[str, str], name: str) -> bool | None:
    """A switch that may also be left to detection: unset or "auto" gives None."""
    if env.get(name, "").strip().lower() in {"", "auto"}:
        return None
    return _flag(env, name, False)


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number.") from None
    if not low <= value <= high:
        raise ConfigError(
            f"{name}={raw} is out of range: it must lie between {low:g} and {high:g}."
        )
    return value


def _whole_number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ConfigError(f"{name}={raw!r} is not a whole number.")
    if not low <= int(raw) <= high:
        raise ConfigError(f"{name}={raw} is out of range: it must lie between {low} and {high}.")
    return int(raw)


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip() or default
    if raw and not raw.startswith(("http://", "https://")):
        raise ConfigError(f"{name}={raw!r} is not an http(s) URL.")
    return raw.rstrip("/")


def redact_url(url: str) -> str:
    """The URL without its password, fit for messages and logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{credentials}{at}{host}"


def _database_url(env: Mapping[str, str], app_data_dir: Path) -> str:
    """DATABASE_URL with an asyncio driver; unset means the SQLite file in the app's data dir."""
    raw = env.get("DATABASE_URL", "").strip()
    if not raw:
        return f"{SQLITE_DRIVER}:///{app_data_dir / HISTORY_DB_FILE}"
    scheme, sep, rest = raw.partition("://")
    drivers = {"sqlite": SQLITE_DRIVER, "postgres": POSTGRES_DRIVER, "postgresql": POSTGRES_DRIVER}
    drivers |= {SQLITE_DRIVER: SQLITE_DRIVER, POSTGRES_DRIVER: POSTGRES_DRIVER}
    if not sep or scheme not in drivers or not rest:
        raise ConfigError(
            f"DATABASE_URL={redact_url(raw)!r} is not a database this app supports: use "
            f"{SQLITE_DRIVER}:////path/to/chat.db or {POSTGRES_DRIVER}://user:password@host/db."
        )
    return f"{drivers[scheme]}://{rest}"


def _header_name(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name, "").strip()
    if raw and not all(c.isalnum() or c == "-" for c in raw):
        raise ConfigError(f"{name}={raw!r} is not an HTTP header name (letters, digits, '-').")
    return raw.lower()


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip().rstrip("/") for item in env.get(name, "").split(",") if item.strip())


def _urls(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    urls = _list(env, name)
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{name}: {url!r} is not an http(s) URL.")
    return urls


def _origins(env: Mapping[str, str], name: str) -> tuple[Origin, ...]:
    origins = []
    for item in _list(env, name):
        if item == ANY_ORIGIN:
            raise ConfigError(
                f"{name}: '*' would let every web page act with a signed-in user's session; "
                "list the origins instead, e.g. http://localhost:3000."
            )
        origin = parse_origin(item)
        if origin is None:
            raise ConfigError(
                f"{name}: {item!r} is not an origin: write scheme://host[:port] as the page's "
                "address shows it, without a path (e.g. http://localhost:3000; an international "
                "name in its xn-- form)."
            )
        origins.append(origin)
    return tuple(origins)


def _cors_origins(env: Mapping[str, str], name: str) -> CorsOrigins:
    """Like `_origins`, or `*` (any origin) when the list holds it."""
    if ANY_ORIGIN in _list(env, name):
        return ANY_ORIGIN
    return _origins(env, name)


def _log_format(env: Mapping[str, str], name: str) -> LogFormat:
    raw = env.get(name, "").strip().lower() or LogFormat.TEXT.value
    try:
        return LogFormat(raw)
    except ValueError:
        choices = " or ".join(f.value for f in LogFormat)
        raise ConfigError(f"{name}={raw!r} is not a log format: use {choices}.") from None


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


@dataclass(frozen=True)
class EndpointAddress:
    """Where the public endpoint listens, read from FOUNDRY_ENDPOINT_URL (http://host:port[/v1])."""

    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> EndpointAddress:
        parsed = urlparse(url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ConfigError(
                f"FOUNDRY_ENDPOINT_URL={url!r} must be http://host:port: the endpoint serves plain "
                "HTTP (put a TLS proxy in front of it for https)."
            )
        try:
            port = parsed.port if parsed.port is not None else 80
        except ValueError:
            raise ConfigError(f"FOUNDRY_ENDPOINT_URL={url!r} has an invalid port.") from None
        return cls(parsed.hostname, port)

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.host)

    def client_url(self, port: int | None = None) -> str:
        """The base URL clients on this machine use: a wildcard bind is reached via loopback."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port if port is None else port}/v1"


@dataclass(frozen=True)
class GenerationDefaults:
    """Sampling defaults, measured on the bundled 135M model (bench/tune_generation.py).

    The repetition penalty is not here: Foundry Local's web service rejects penalties, so the
    build writes it into the model's own search defaults (bundled_model.REPETITION_PENALTY).
    """

    max_tokens: int = 512
    temperature: float = 0.3
    top_p: float = 0.9


@dataclass(frozen=True)
class DocumentLimits:
    """How many files one message may attach, how large each may be, and what reading one may
    cost (document_reader reads each in a worker process that is killed at these limits)."""

    max_files: int = 5
    max_mb: float = 20.0
    read_seconds: float = 60.0  # wall clock and CPU time of one file's reading
    read_memory_mb: int = 1024  # the reading process's address space
    max_decompressed_mb: float = 256.0  # all of one file's decompressed streams together
    readers: int = 2  # files read at once, over all users
    readers_per_user: int = 1  # files one user (without sign-in: one chat) may have read at once

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)

    @property
    def max_decompressed_bytes(self) -> int:
        return int(self.max_decompressed_mb * 1024 * 1024)


@dataclass(frozen=True)
class Settings:
    """Build with Settings.from_env(); tests pass their own environment mapping."""

    model_cache_dir: Path
    app_data_dir: Path
    model: str = BUNDLED_MODEL_ALIAS
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    use_foundry_local: bool = True
    endpoint_url: str = DEFAULT_ENDPOINT_URL
    offline: bool | None = None  # None: detect whether the public catalog is reachable
    catalog_urls: tuple[str, ...] = ()  # more asset-gallery catalogs to take models from
    catalog_region: str = ""  # the Azure region catalog models download from; empty: auto
    endpoint_api_key: str = ""  # clients of the endpoint must send it; empty: any key works
    endpoint_cors_origins: CorsOrigins = ()  # browser origins that may call the endpoint, or "*"
    endpoint_concurrency: int = 1  # completions sent to Foundry at once (it runs one at a time)
    endpoint_max_queue: int = 16  # completions that may wait for a place; more get a 429
    endpoint_max_body_bytes: int = 1024**2  # larger request bodies get a 413
    # Conversations kept warm in Foundry's in-process sessions (endpoint/session_engine.py): at
    # most this many, and at most this much memory for their KV caches; 0 turns reuse off.
    warm_conversations: int = 4
    warm_memory_mb: float = 2048.0
    base_url: str = ""
    api_key: str = ""
    generation: GenerationDefaults = GenerationDefaults()
    auto_remote_prompt_chars: int = 4000  # Auto profile: longer prompts go to BASE_URL
    # An answer whose browser left and did not come back within this many seconds is cancelled.
    abandoned_answer_grace_seconds: float = 10.0
    # Stop an answer that loops: True, False, or None for small models only (model_facts).
    loop_guard: bool | None = None
    # A new chat's title, written by the model after its first answer while it is idle.
    chat_titles: bool = True
    # Sign-in and chat history (see history/auth.py and history/data_layer.py).
    database_url: str = ""  # SQLAlchemy URL; from_env fills in the SQLite default
    users_file: Path | None = None  # USERS_FILE; None: <app_data_dir>/users
    auth_header: str = ""  # lower-case header a trusted proxy sets to the signed-in user
    # Web pages besides the app's own that may use the chat server with a user's session.
    allowed_origins: tuple[Origin, ...] = ()
    # Operations (README, "Operating it"): log format, readiness probes, the chat app's /metrics.
    log_format: LogFormat = LogFormat.TEXT
    readiness_timeout_seconds: float = 10.0  # a probe's 1-token completion must answer in this
    readiness_cache_seconds: float = 5.0  # a readiness result is reused this long
    metrics_token: str = ""  # the chat app's /metrics wants it; empty: loopback clients only
    documents: DocumentLimits = DocumentLimits()  # files attached to a message
    documents_whole_within_seconds: float = 5.0  # documents go whole if read this fast

    @property
    def database_url_redacted(self) -> str:
        return redact_url(self.database_url)

    @property
    def endpoint_address(self) -> EndpointAddress:
        return EndpointAddress.parse(self.endpoint_url)

    @property
    def wants_bundled_model(self) -> bool:
        return self.model in {BUNDLED_MODEL_ALIAS, BUNDLED_MODEL_ID}

    @property
    def bundled_model_dir(self) -> Path:
        """Where the build puts the ONNX Runtime GenAI folder of the offline default model."""
        return self.model_cache_dir / "bundled" / f"{BUNDLED_MODEL_ALIAS}-int4-cpu"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = GenerationDefaults()
        documents = DocumentLimits()
        app_data_dir = _dir(env, "APP_DATA_DIR", "XDG_DATA_HOME", ".local/share")
        users_file = env.get("USERS_FILE", "").strip()
        settings = cls(
            model=env.get("MODEL", "").strip() or BUNDLED_MODEL_ALIAS,
            system_prompt=env.get("SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT),
            use_foundry_local=_flag(env, "FOUNDRY_LOCAL", True),
            endpoint_url=_url(env, "FOUNDRY_ENDPOINT_URL", DEFAULT_ENDPOINT_URL),
            endpoint_api_key=env.get("ENDPOINT_API_KEY", "").strip(),
            endpoint_cors_origins=_cors_origins(env, "ENDPOINT_CORS_ORIGINS"),
            endpoint_concurrency=_whole_number(env, "ENDPOINT_CONCURRENCY", 1, 1, 64),
            endpoint_max_queue=_whole_number(env, "ENDPOINT_MAX_QUEUE", 16, 0, 10_000),
            endpoint_max_body_bytes=_whole_number(
                env, "ENDPOINT_MAX_BODY_BYTES", 1024**2, 1024, 256 * 1024**2
            ),
            documents_whole_within_seconds=_number(
                env, "DOCUMENTS_WHOLE_WITHIN_SECONDS", 5.0, 0, 3600
            ),
            warm_conversations=_whole_number(env, "ENDPOINT_WARM_CONVERSATIONS", 4, 0, 1024),
            warm_memory_mb=_number(env, "ENDPOINT_WARM_MEMORY_MB", 2048.0, 0, 1_048_576),
            offline=_optional_flag(env, "FOUNDRY_OFFLINE"),
            catalog_urls=_urls(env, "FOUNDRY_CATALOG_URLS"),
            catalog_region=env.get("FOUNDRY_CATALOG_REGION", "").strip(),
            base_url=_url(env, "BASE_URL", ""),
            api_key=env.get("API_KEY", "").strip(),
            model_cache_dir=_dir(env, "MODEL_CACHE_DIR", "XDG_CACHE_HOME", ".cache"),
            app_data_dir=app_data_dir,
            auto_remote_prompt_chars=int(
                _number(env, "AUTO_REMOTE_PROMPT_CHARS", 4000, 1, 10_000_000)
            ),
            abandoned_answer_grace_seconds=_number(
                env, "ABANDONED_ANSWER_GRACE_SECONDS", 10.0, 0, 3600
            ),
            loop_guard=_optional_flag(env, "LOOP_GUARD"),
            chat_titles=_flag(env, "CHAT_TITLES", True),
            generation=GenerationDefaults(
                max_tokens=int(_number(env, "MAX_TOKENS", defaults.max_tokens, 1, 32768)),
                temperature=_number(env, "TEMPERATURE", defaults.temperature, 0, 2),
                top_p=_number(env, "TOP_P", defaults.top_p, 0, 1),
            ),
            database_url=_database_url(env, app_data_dir),
            users_file=Path(users_file).expanduser() if users_file else None,
            auth_header=_header_name(env, "AUTH_HEADER"),
            allowed_origins=_origins(env, "ALLOWED_ORIGINS"),
            log_format=_log_format(env, "LOG_FORMAT"),
            readiness_timeout_seconds=_number(env, "READINESS_TIMEOUT_SECONDS", 10.0, 0.1, 600),
            readiness_cache_seconds=_number(env, "READINESS_CACHE_SECONDS", 5.0, 0, 3600),
            metrics_token=env.get("METRICS_TOKEN", "").strip(),
            documents=DocumentLimits(
                max_files=_whole_number(env, "DOCUMENT_MAX_FILES", documents.max_files, 1, 20),
                max_mb=_number(env, "DOCUMENT_MAX_MB", documents.max_mb, 0.001, 500),
                read_seconds=_number(
                    env, "DOCUMENT_READ_SECONDS", documents.read_seconds, 0.1, 3600
                ),
                read_memory_mb=_whole_number(
                    env, "DOCUMENT_READ_MEMORY_MB", documents.read_memory_mb, 128, 65536
                ),
                max_decompressed_mb=_number(
                    env, "DOCUMENT_MAX_DECOMPRESSED_MB", documents.max_decompressed_mb, 0.001, 65536
                ),
                readers=_whole_number(env, "DOCUMENT_READERS", documents.readers, 1, 64),
                readers_per_user=_whole_number(
                    env, "DOCUMENT_READERS_PER_USER", documents.readers_per_user, 1, 64
                ),
            ),
        )
        if settings.use_foundry_local:
            _check_endpoint_exposure(settings, _flag(env, "ENDPOINT_ALLOW_NO_KEY", False))
        return settings


def _check_endpoint_exposure(settings: Settings, allow_no_key: bool) -> None:
    """An endpoint other machines can reach needs a key, unless that is explicitly allowed."""
    address = settings.endpoint_address
    if address.is_loopback or settings.endpoint_api_key or allow_no_key:
        return
    raise ConfigError(
        f"FOUNDRY_ENDPOINT_URL={settings.endpoint_url} listens on {address.host}, which other "
        "machines can reach, and ENDPOINT_API_KEY is not set. Set ENDPOINT_API_KEY (clients then "
        "send it as their API key), or ENDPOINT_ALLOW_NO_KEY=1 to serve it to anyone."
    )


@dataclass(frozen=True)
class EnvVariable:
    """A variable the app reads, as the README's settings table shows it (`make docs`)."""

    name: str
    default: str  # Markdown, as the table shows it
    meaning: str  # Markdown, one line


_GENERATION = GenerationDefaults()
_DOCUMENTS = DocumentLimits()

# Every variable the app reads, declared once: the README's table is generated from this
# (cog, `make docs`), and tests/test_readme.py fails when code reads one that is not here.
ENV_VARIABLES = (
    EnvVariable(
        "MODEL", f"`{BUNDLED_MODEL_ALIAS}`",
        "Model alias or full id. The default is the bundled offline model; other aliases come "
        "from Foundry's public catalog (needs internet). With `BASE_URL` it is the remote "
        "model's id.",
    ),
    EnvVariable(
        "SYSTEM_PROMPT", f"`{DEFAULT_SYSTEM_PROMPT}`",
        "Sent first in every request; empty sends none.",
    ),
    EnvVariable("FOUNDRY_LOCAL", "`1`", "`0` skips Foundry Local and uses `BASE_URL` only."),
    EnvVariable(
        "FOUNDRY_ENDPOINT_URL", f"`{DEFAULT_ENDPOINT_URL}`",
        "Where the OpenAI-compatible endpoint listens (clients use `…/v1`); plain "
        "`http://host:port`. `http://0.0.0.0:5273` listens on every interface (e.g. for a "
        "container), which needs `ENDPOINT_API_KEY`.",
    ),
    EnvVariable(
        "ENDPOINT_API_KEY", "–",
        "When set, every request to the endpoint must send `Authorization: Bearer <key>` (the "
        "OpenAI `api_key`); others get 401. Unset: any key, or none, works. The app itself "
        "sends it.",
    ),
    EnvVariable(
        "ENDPOINT_ALLOW_NO_KEY", "`0`",
        "`1` lets the endpoint listen on a non-loopback address without `ENDPOINT_API_KEY` "
        "(anyone who can reach it may use it).",
    ),
    EnvVariable(
        "ENDPOINT_CORS_ORIGINS", "–",
        "Comma-separated browser origins (`scheme://host[:port]`) allowed to call the endpoint "
        "from a web page (e.g. `http://localhost:3000` for Open WebUI's direct connections); "
        "`*` for any. Read like `ALLOWED_ORIGINS`: any spelling of an origin is the same one "
        "(`http://LOCALHOST:80` is `http://localhost`). Unset: no CORS. A request with any other "
        "`Origin` header (preflight or not) gets 403.",
    ),
    EnvVariable(
        "ENDPOINT_CONCURRENCY", "`1`",
        "Completions the endpoint sends to Foundry Local at once (1–64). Foundry answers one "
        "after another, so more only shares the CPU between answers.",
    ),
    EnvVariable(
        "ENDPOINT_MAX_QUEUE", "`16`",
        "Completions that may wait for their turn (0–10000), first come first served; more get "
        "429 `rate_limit_exceeded` with `Retry-After`.",
    ),
    EnvVariable(
        "ENDPOINT_MAX_BODY_BYTES", "`1048576`",
        "Largest request body, in bytes (1024–268435456); larger ones get 413.",
    ),
    EnvVariable(
        "ENDPOINT_WARM_CONVERSATIONS", "`4`",
        "Conversations the endpoint keeps warm in Foundry Local's sessions (0–1024), so a "
        "follow-up reads only its new message; the least recently used is dropped first. `0`: "
        "every request reads its whole conversation (no reuse).",
    ),
    EnvVariable(
        "ENDPOINT_WARM_MEMORY_MB", "`2048`",
        "Memory the warm conversations may take, in MB. Each holds a KV cache sized for the "
        "model's whole context (360 MB for the bundled model), so this caps their number too.",
    ),
    EnvVariable(
        "FOUNDRY_OFFLINE", "`auto`",
        "`1`: never contact Foundry's public catalog; `0`: always; `auto`: a quick reachability "
        "probe first, instead of the runtime's seconds of retries when offline.",
    ),
    EnvVariable(
        "FOUNDRY_CATALOG_URLS", "–",
        "More model catalogs (comma-separated URLs of the Azure AI Foundry asset-gallery API, "
        "ending in `/asset-gallery/v1.0/models`), e.g. your organization's own; their models "
        "can be `MODEL` or chosen in the settings panel. They are listed offline too.",
    ),
    EnvVariable(
        "FOUNDRY_CATALOG_REGION", "auto",
        "The Azure region Foundry Local downloads catalog models from (e.g. `westus3`); auto "
        "asks the public catalog.",
    ),
    EnvVariable(
        "BASE_URL", "–",
        "Fallback OpenAI-compatible server, e.g. `http://127.0.0.1:8080/v1`.",
    ),
    EnvVariable("API_KEY", "–", "Key for `BASE_URL`."),
    EnvVariable("MAX_TOKENS", f"`{_GENERATION.max_tokens}`", "Longest answer, in tokens."),
    EnvVariable("TEMPERATURE", f"`{_GENERATION.temperature}`", "Sampling temperature (0–2)."),
    EnvVariable("TOP_P", f"`{_GENERATION.top_p}`", "Nucleus sampling (0–1)."),
    EnvVariable(
        "AUTO_REMOTE_PROMPT_CHARS", "`4000`",
        "In the *Auto* profile, prompts longer than this go to `BASE_URL`.",
    ),
    EnvVariable(
        "LOOP_GUARD", "`auto`",
        "Stop an answer that falls into a loop, keep it up to the first copy of what repeats, "
        "and say so in the chat. `auto`: for models of up to 2 billion parameters (known from "
        "the model's name; the bundled model is one); `1`: for every model; `0`: never. The "
        "endpoint never does (see [The endpoint](#the-endpoint)).",
    ),
    EnvVariable(
        "CHAT_TITLES", "`1`",
        "With history on, a new chat's first answer is followed by a title of a few words the "
        "model writes (in the chat's language) for the sidebar: only while no answer is being "
        "written or waiting, and an answer that comes meanwhile cancels it. A rename is never "
        "overwritten. `0`: a chat keeps its first message as its name.",
    ),
    EnvVariable(
        "ABANDONED_ANSWER_GRACE_SECONDS", "`10`",
        "When a browser leaves (tab closed, connection lost) during an answer and does not "
        "reconnect within this many seconds, the answer is cancelled and its request to the "
        "model server closed, so chats waiting behind it are served. `0`: at once.",
    ),
    EnvVariable(
        "MODEL_CACHE_DIR", "`~/.cache/foundry-local-chat`",
        "The built bundled model and Foundry's model cache.",
    ),
    EnvVariable(
        "APP_DATA_DIR", "`~/.local/share/foundry-local-chat`",
        f"Foundry Local's registrations and logs; the chat history (`{HISTORY_DB_FILE}`), the "
        f"users file (`{USERS_FILE_NAME}`) and the session secret (`auth-secret`) unless set "
        "otherwise below.",
    ),
    EnvVariable(
        "DOCUMENT_MAX_FILES", f"`{_DOCUMENTS.max_files}`",
        "Files (`.txt`, `.md`, `.pdf`, `.html`) one message may attach (1–20); the chat answers "
        "from them. The welcome screen states the limits.",
    ),
    EnvVariable(
        "DOCUMENT_MAX_MB", f"`{_DOCUMENTS.max_mb:g}`",
        "Largest attached file, in megabytes (up to 500).",
    ),
    EnvVariable(
        "DOCUMENTS_WHOLE_WITHIN_SECONDS", "`5`",
        "A chat's documents go whole into the conversation when the model reads them within "
        "this many seconds (at the speed measured on this machine's answers; the endpoint "
        "keeps them read for the follow-ups); otherwise the passages that match each question "
        "go with it, at most 40 % of this budget's worth.",
    ),
    EnvVariable(
        "DOCUMENT_READ_SECONDS", f"`{_DOCUMENTS.read_seconds:g}`",
        "Longest one file's reading may take, in seconds of wall clock and of CPU: each file is "
        "read in a process of its own, killed at this limit or the next three, and the chat "
        "says which limit refused the file.",
    ),
    EnvVariable(
        "DOCUMENT_READ_MEMORY_MB", f"`{_DOCUMENTS.read_memory_mb}`",
        "Memory (address space) of the process that reads one file, in megabytes (128–65536).",
    ),
    EnvVariable(
        "DOCUMENT_MAX_DECOMPRESSED_MB", f"`{_DOCUMENTS.max_decompressed_mb:g}`",
        "All of one PDF's compressed streams together may decompress to this many megabytes "
        "(pypdf's own cap is per stream).",
    ),
    EnvVariable(
        "DOCUMENT_READERS", f"`{_DOCUMENTS.readers}`",
        "Files read at once, over all users; more wait (up to `DOCUMENT_READ_SECONDS`) for a "
        "place.",
    ),
    EnvVariable(
        "DOCUMENT_READERS_PER_USER", f"`{_DOCUMENTS.readers_per_user}`",
        "Files one signed-in user (without sign-in: one chat) may have read at once; another is "
        "refused until one is done.",
    ),
    EnvVariable("HOST", "`127.0.0.1`", "The address `make run` serves the chat UI on."),
    EnvVariable("PORT", "`8000`", "The port `make run` serves the chat UI on."),
    EnvVariable(
        "USERS_FILE", f"`$APP_DATA_DIR/{USERS_FILE_NAME}`",
        "Password users, one `name:argon2-hash` line each; written by `python -m "
        "foundry_local_chat users add NAME`. With at least one user the app asks to sign in "
        "and keeps history.",
    ),
    EnvVariable(
        "AUTH_HEADER", "–",
        "Header name (e.g. `X-Forwarded-User`) a trusted reverse proxy sets to the signed-in "
        "user's name; turns on header sign-in. Only behind a proxy that sets it and strips it "
        "from clients.",
    ),
    EnvVariable(
        "DATABASE_URL", f"`{SQLITE_DRIVER}:///$APP_DATA_DIR/{HISTORY_DB_FILE}`",
        f"Where history lives. `{POSTGRES_DRIVER}://user:password@host:5432/db` (or "
        "`postgresql://…`) for PostgreSQL. Needs sign-in to be on.",
    ),
    EnvVariable(
        "CHAINLIT_AUTH_SECRET", "generated into `$APP_DATA_DIR/auth-secret`",
        "Signs the session cookie. Several instances must share one.",
    ),
    EnvVariable(
        "CHAINLIT_ENV_FILE", "`.env`",
        "The settings file, relative to the folder the app starts in, that Chainlit and "
        "`python -m foundry_local_chat` load; variables already in the environment win.",
    ),
    EnvVariable(
        "ALLOWED_ORIGINS", "–",
        "Comma-separated web origins (`scheme://host[:port]`, e.g. `http://localhost:3000`) "
        "besides the app's own that may use the chat server from a browser, with the signed-in "
        "user's session. Unset: only the app's own pages. `*` is refused.",
    ),
    EnvVariable(
        "LOG_FORMAT", "`text`",
        "`json` writes the log of the app and of the endpoint as one JSON object per line (for "
        "log shippers); `text` as lines for people. Both carry each chat turn's request id.",
    ),
    EnvVariable(
        "READINESS_TIMEOUT_SECONDS", "`10`",
        "`/readyz` reports the model not ready when its 1-token test completion does not answer "
        "within this many seconds (0.1–600).",
    ),
    EnvVariable(
        "READINESS_CACHE_SECONDS", "`5`",
        "How long a `/readyz` result is reused, so frequent probes cost no model work (0–3600).",
    ),
    EnvVariable(
        "METRICS_TOKEN", "–",
        "When set, the chat app's `/metrics` wants `Authorization: Bearer <token>`; unset, it "
        "answers only clients on this machine that came through no proxy. The endpoint's "
        "`/metrics` wants `ENDPOINT_API_KEY` instead.",
    ),
)  # fmt: skip
