"""Typed settings read once from the environment (and an optional .env file).

Every variable the app reads is declared once, as a `Setting` in `SETTINGS`: its name, the
field of `Settings` it fills, its reader (which holds its range), its default and its meaning.
`Settings.from_env` reads them all from that table, the dataclasses below take their defaults
from it, and the README's settings table is generated from it (`make docs`), so a default or a
range is written in one place.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
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

T = TypeVar("T")


class ConfigError(FoundryLocalChatError, ValueError):
    """A setting has a value the app cannot use; the message names the variable."""


def plain(number: float) -> str:
    """A number as a person writes it: 268435456, not 2.68435e+08; 0.001, not 0.0010."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


# ----- readers: a variable's raw text (it is set) into its value, or a ConfigError -----


def text(raw: str, name: str) -> str:
    return raw.strip()


def verbatim(raw: str, name: str) -> str:
    """As written: an empty value means empty (SYSTEM_PROMPT= sends no system prompt)."""
    return raw


def switch(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={value!r} is not a switch: use 1/0, true/false, yes/no or on/off.")


def switch_or_auto(raw: str, name: str) -> bool | None:
    """A switch that may also be left to detection: "auto" gives None."""
    return None if raw.strip().lower() == "auto" else switch(raw, name)


@dataclass(frozen=True)
class WholeNumber:
    low: int
    high: int

    def __call__(self, raw: str, name: str) -> int:
        value = raw.strip()
        if not (value.isascii() and value.isdigit()):
            raise ConfigError(f"{name}={value!r} is not a whole number.")
        if not self.low <= int(value) <= self.high:
            raise ConfigError(f"{name}={value} is out of range: {self.range}.")
        return int(value)

    @property
    def range(self) -> str:
        return f"it must lie between {self.low} and {self.high}"


@dataclass(frozen=True)
class Number:
    low: float
    high: float

    def __call__(self, raw: str, name: str) -> float:
        value = raw.strip()
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not a number.") from None
        if not self.low <= number <= self.high:
            raise ConfigError(f"{name}={value} is out of range: {self.range}.")
        return number

    @property
    def range(self) -> str:
        return f"it must lie between {self.low:g} and {self.high:g}"


def http_url(raw: str, name: str) -> str:
    value = raw.strip()
    if value and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name}={value!r} is not an http(s) URL.")
    return value.rstrip("/")


def _items(raw: str) -> tuple[str, ...]:
    return tuple(item.strip().rstrip("/") for item in raw.split(",") if item.strip())


def http_urls(raw: str, name: str) -> tuple[str, ...]:
    urls = _items(raw)
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{name}: {url!r} is not an http(s) URL.")
    return urls


def origins(raw: str, name: str) -> tuple[Origin, ...]:
    found = []
    for item in _items(raw):
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
        found.append(origin)
    return tuple(found)


def cors_origins(raw: str, name: str) -> CorsOrigins:
    """Like `origins`, or `*` (any origin) when the list holds it."""
    return ANY_ORIGIN if ANY_ORIGIN in _items(raw) else origins(raw, name)


def header_name(raw: str, name: str) -> str:
    value = raw.strip()
    if value and not all(c.isalnum() or c == "-" for c in value):
        raise ConfigError(f"{name}={value!r} is not an HTTP header name (letters, digits, '-').")
    return value.lower()


def log_format(raw: str, name: str) -> LogFormat:
    value = raw.strip().lower()
    try:
        return LogFormat(value)
    except ValueError:
        choices = " or ".join(f.value for f in LogFormat)
        raise ConfigError(f"{name}={value!r} is not a log format: use {choices}.") from None


def folder(raw: str, name: str) -> Path:
    return Path(raw.strip()).expanduser()


def optional_file(raw: str, name: str) -> Path | None:
    return Path(raw.strip()).expanduser() if raw.strip() else None


def redact_url(url: str) -> str:
    """The URL without its password, fit for messages and logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{credentials}{at}{host}"


def database_url(raw: str, name: str) -> str:
    """DATABASE_URL with an asyncio driver; empty is the SQLite file in the app's data dir, which
    `Settings.from_env` fills in."""
    value = raw.strip()
    if not value:
        return ""
    scheme, sep, rest = value.partition("://")
    drivers = {"sqlite": SQLITE_DRIVER, "postgres": POSTGRES_DRIVER, "postgresql": POSTGRES_DRIVER}
    drivers |= {SQLITE_DRIVER: SQLITE_DRIVER, POSTGRES_DRIVER: POSTGRES_DRIVER}
    if not sep or scheme not in drivers or not rest:
        raise ConfigError(
            f"{name}={redact_url(value)!r} is not a database this app supports: use "
            f"{SQLITE_DRIVER}:////path/to/chat.db or {POSTGRES_DRIVER}://user:password@host/db."
        )
    return f"{drivers[scheme]}://{rest}"


def _xdg_folder(variable: str, home_fallback: str) -> Callable[[Mapping[str, str]], Path]:
    """The XDG base folder's foundry-local-chat subfolder: a default set by the desktop."""

    def default(env: Mapping[str, str]) -> Path:
        base = env.get(variable) or str(Path.home() / home_fallback)
        return Path(base) / "foundry-local-chat"

    return default


# ----- the declaration -----


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One variable the app reads: the `Settings` field it fills ("documents.max_mb" for a nested
    one; None when another part reads it), its reader, default and the README's row."""

    name: str
    field: str | None
    read: Callable[[str, str], T]
    default: T
    meaning: str  # Markdown, one line
    shown: str = ""  # the README's Default column, when `default` does not say it well
    default_from: Callable[[Mapping[str, str]], T] | None = None  # a default read from elsewhere
    empty_is_default: bool = True  # an empty value means the default (else: the value "")

    def value(self, env: Mapping[str, str]) -> T:
        raw = env.get(self.name)
        if raw is None or (self.empty_is_default and not raw.strip()):
            return self.default_from(env) if self.default_from else self.default
        return self.read(raw, self.name)

    @property
    def default_text(self) -> str:
        """The Default column: `shown`, else the default as one writes it, else a dash."""
        if self.shown:
            return self.shown
        value: Any = self.default
        if isinstance(value, bool):
            value = int(value)
        if value in ("", (), None):
            return "–"
        if isinstance(value, float):
            value = f"{value:g}"
        return f"`{value}`"

    @property
    def range_text(self) -> str:
        """The Range column: the reader's limits, written as a table shows them."""
        if isinstance(self.read, WholeNumber | Number):
            return f"{plain(self.read.low)}–{plain(self.read.high)}"
        return ""


MODEL = Setting(
    "MODEL",
    "model",
    text,
    BUNDLED_MODEL_ALIAS,
    "Model alias or full id. The default is the bundled offline model; other aliases come "
    "from Foundry's public catalog (needs internet). With `BASE_URL` it is the remote "
    "model's id.",
)
SYSTEM_PROMPT = Setting(
    "SYSTEM_PROMPT",
    "system_prompt",
    verbatim,
    DEFAULT_SYSTEM_PROMPT,
    "Sent first in every request; empty sends none.",
    empty_is_default=False,
)
FOUNDRY_LOCAL = Setting(
    "FOUNDRY_LOCAL",
    "use_foundry_local",
    switch,
    True,
    "`0` skips Foundry Local and uses `BASE_URL` only.",
)
FOUNDRY_ENDPOINT_URL = Setting(
    "FOUNDRY_ENDPOINT_URL",
    "endpoint_url",
    http_url,
    DEFAULT_ENDPOINT_URL,
    "Where the OpenAI-compatible endpoint listens (clients use `…/v1`); plain "
    "`http://host:port`. `http://0.0.0.0:5273` listens on every interface (e.g. for a "
    "container), which needs `ENDPOINT_API_KEY`.",
)
ENDPOINT_API_KEY = Setting(
    "ENDPOINT_API_KEY",
    "endpoint_api_key",
    text,
    "",
    "When set, every request to the endpoint must send `Authorization: Bearer <key>` (the "
    "OpenAI `api_key`); others get 401. Unset: any key, or none, works. The app itself "
    "sends it.",
)
ENDPOINT_ALLOW_NO_KEY = Setting(
    "ENDPOINT_ALLOW_NO_KEY",
    None,
    switch,
    False,
    "`1` lets the endpoint listen on a non-loopback address without `ENDPOINT_API_KEY` "
    "(anyone who can reach it may use it).",
)
ENDPOINT_CORS_ORIGINS: Setting[CorsOrigins] = Setting(
    "ENDPOINT_CORS_ORIGINS",
    "endpoint_cors_origins",
    cors_origins,
    (),
    "Comma-separated browser origins (`scheme://host[:port]`) allowed to call the endpoint "
    "from a web page (e.g. `http://localhost:3000` for Open WebUI's direct connections); "
    "`*` for any. Read like `ALLOWED_ORIGINS`: any spelling of an origin is the same one "
    "(`http://LOCALHOST:80` is `http://localhost`). Unset: no CORS. A request with any other "
    "`Origin` header (preflight or not) gets 403.",
)
ENDPOINT_CONCURRENCY = Setting(
    "ENDPOINT_CONCURRENCY",
    "endpoint_concurrency",
    WholeNumber(1, 64),
    1,
    "Completions the endpoint sends to Foundry Local at once. Foundry answers one after "
    "another, so more only shares the CPU between answers.",
)
ENDPOINT_MAX_QUEUE = Setting(
    "ENDPOINT_MAX_QUEUE",
    "endpoint_max_queue",
    WholeNumber(0, 10_000),
    16,
    "Completions that may wait for their turn, first come first served; more get 429 "
    "`rate_limit_exceeded` with `Retry-After`.",
)
ENDPOINT_MAX_BODY_BYTES = Setting(
    "ENDPOINT_MAX_BODY_BYTES",
    "endpoint_max_body_bytes",
    WholeNumber(1024, 256 * 1024**2),
    1024**2,
    "Largest request body, in bytes; larger ones get 413.",
)
ENDPOINT_WARM_CONVERSATIONS = Setting(
    "ENDPOINT_WARM_CONVERSATIONS",
    "warm_conversations",
    WholeNumber(0, 1024),
    4,
    "Conversations the endpoint keeps warm in Foundry Local's sessions, so a follow-up reads "
    "only its new message; the least recently used is dropped first. `0`: every request "
    "reads its whole conversation (no reuse).",
)
ENDPOINT_WARM_MEMORY_MB = Setting(
    "ENDPOINT_WARM_MEMORY_MB",
    "warm_memory_mb",
    Number(0, 1_048_576),
    2048.0,
    "Memory the warm conversations may take, in MB. Each holds a KV cache sized for the "
    "model's whole context (360 MB for the bundled model), so this caps their number too.",
)
FOUNDRY_OFFLINE: Setting[bool | None] = Setting(
    "FOUNDRY_OFFLINE",
    "offline",
    switch_or_auto,
    None,
    "`1`: never contact Foundry's public catalog; `0`: always; `auto`: a quick reachability "
    "probe first, instead of the runtime's seconds of retries when offline.",
    shown="`auto`",
)
FOUNDRY_CATALOG_URLS: Setting[tuple[str, ...]] = Setting(
    "FOUNDRY_CATALOG_URLS",
    "catalog_urls",
    http_urls,
    (),
    "More model catalogs (comma-separated URLs of the Azure AI Foundry asset-gallery API, "
    "ending in `/asset-gallery/v1.0/models`), e.g. your organization's own; their models "
    "can be `MODEL` or chosen in the settings panel. They are listed offline too.",
)
FOUNDRY_CATALOG_REGION = Setting(
    "FOUNDRY_CATALOG_REGION",
    "catalog_region",
    text,
    "",
    "The Azure region Foundry Local downloads catalog models from (e.g. `westus3`); auto "
    "asks the public catalog.",
    shown="auto",
)
BASE_URL = Setting(
    "BASE_URL",
    "base_url",
    http_url,
    "",
    "Fallback OpenAI-compatible server, e.g. `http://127.0.0.1:8080/v1`.",
)
API_KEY = Setting("API_KEY", "api_key", text, "", "Key for `BASE_URL`.")
MAX_TOKENS = Setting(
    "MAX_TOKENS",
    "generation.max_tokens",
    WholeNumber(1, 32768),
    512,
    "Longest answer, in tokens.",
)
TEMPERATURE = Setting(
    "TEMPERATURE",
    "generation.temperature",
    Number(0, 2),
    0.3,
    "Sampling temperature.",
)
TOP_P = Setting("TOP_P", "generation.top_p", Number(0, 1), 0.9, "Nucleus sampling.")
AUTO_REMOTE_PROMPT_CHARS = Setting(
    "AUTO_REMOTE_PROMPT_CHARS",
    "auto_remote_prompt_chars",
    WholeNumber(1, 10_000_000),
    4000,
    "In the *Auto* profile, prompts longer than this go to `BASE_URL`.",
)
LOOP_GUARD: Setting[bool | None] = Setting(
    "LOOP_GUARD",
    "loop_guard",
    switch_or_auto,
    None,
    "Stop an answer that falls into a loop, keep it up to the first copy of what repeats, "
    "and say so in the chat. `auto`: for models of up to 2 billion parameters (known from "
    "the model's name; the bundled model is one); `1`: for every model; `0`: never. The "
    "endpoint never does (see [The endpoint](#the-endpoint)).",
    shown="`auto`",
)
CHAT_TITLES = Setting(
    "CHAT_TITLES",
    "chat_titles",
    switch,
    True,
    "With history on, a new chat's first answer is followed by a title of a few words the "
    "model writes (in the chat's language) for the sidebar: only while no answer is being "
    "written or waiting, and an answer that comes meanwhile cancels it. A rename is never "
    "overwritten. `0`: a chat keeps its first message as its name.",
)
ABANDONED_ANSWER_GRACE_SECONDS = Setting(
    "ABANDONED_ANSWER_GRACE_SECONDS",
    "abandoned_answer_grace_seconds",
    Number(0, 3600),
    10.0,
    "When a browser leaves (tab closed, connection lost) during an answer and does not "
    "reconnect within this many seconds, the answer is cancelled and its request to the "
    "model server closed, so chats waiting behind it are served. `0`: at once.",
)
MODEL_CACHE_DIR = Setting(
    "MODEL_CACHE_DIR",
    "model_cache_dir",
    folder,
    Path("~/.cache/foundry-local-chat"),
    "The built bundled model and Foundry's model cache.",
    default_from=_xdg_folder("XDG_CACHE_HOME", ".cache"),
)
APP_DATA_DIR = Setting(
    "APP_DATA_DIR",
    "app_data_dir",
    folder,
    Path("~/.local/share/foundry-local-chat"),
    f"Foundry Local's registrations and logs; the chat history (`{HISTORY_DB_FILE}`), the "
    f"users file (`{USERS_FILE_NAME}`) and the session secret (`auth-secret`) unless set "
    "otherwise below.",
    default_from=_xdg_folder("XDG_DATA_HOME", ".local/share"),
)
DOCUMENT_MAX_FILES = Setting(
    "DOCUMENT_MAX_FILES",
    "documents.max_files",
    WholeNumber(1, 20),
    5,
    "Files (`.txt`, `.md`, `.pdf`, `.html`) one message may attach; the chat answers from "
    "them. The welcome screen states the limits.",
)
DOCUMENT_MAX_MB = Setting(
    "DOCUMENT_MAX_MB",
    "documents.max_mb",
    Number(0.001, 500),
    20.0,
    "Largest attached file, in megabytes.",
)
DOCUMENTS_WHOLE_WITHIN_SECONDS = Setting(
    "DOCUMENTS_WHOLE_WITHIN_SECONDS",
    "documents_whole_within_seconds",
    Number(0, 3600),
    5.0,
    "A chat's documents go whole into the conversation when the model reads them within "
    "this many seconds (at the speed measured on this machine's answers; the endpoint "
    "keeps them read for the follow-ups); otherwise the passages that match each question "
    "go with it, at most 40 % of this budget's worth.",
)
DOCUMENT_READ_SECONDS = Setting(
    "DOCUMENT_READ_SECONDS",
    "documents.read_seconds",
    Number(0.1, 3600),
    60.0,
    "Longest one file's reading may take, in seconds of wall clock and of CPU: each file is "
    "read in a process of its own, killed at this limit or the next three, and the chat "
    "says which limit refused the file.",
)
DOCUMENT_READ_MEMORY_MB = Setting(
    "DOCUMENT_READ_MEMORY_MB",
    "documents.read_memory_mb",
    WholeNumber(128, 65536),
    1024,
    "Memory (address space) of the process that reads one file, in megabytes.",
)
DOCUMENT_MAX_DECOMPRESSED_MB = Setting(
    "DOCUMENT_MAX_DECOMPRESSED_MB",
    "documents.max_decompressed_mb",
    Number(0.001, 65536),
    256.0,
    "All of one PDF's compressed streams together may decompress to this many megabytes "
    "(pypdf's own cap is per stream).",
)
DOCUMENT_READERS = Setting(
    "DOCUMENT_READERS",
    "documents.readers",
    WholeNumber(1, 64),
    2,
    "Files read at once, over all users; more wait (up to `DOCUMENT_READ_SECONDS`) for a place.",
)
DOCUMENT_READERS_PER_USER = Setting(
    "DOCUMENT_READERS_PER_USER",
    "documents.readers_per_user",
    WholeNumber(1, 64),
    1,
    "Files one signed-in user (without sign-in: one chat) may have read at once; another is "
    "refused until one is done.",
)
HOST = Setting("HOST", None, text, "127.0.0.1", "The address `make run` serves the chat UI on.")
PORT = Setting(
    "PORT", None, WholeNumber(1, 65535), 8000, "The port `make run` serves the chat UI on."
)
USERS_FILE: Setting[Path | None] = Setting(
    "USERS_FILE",
    "users_file",
    optional_file,
    None,
    "Password users, one `name:argon2-hash` line each; written by `python -m "
    "foundry_local_chat users add NAME`. With at least one user the app asks to sign in "
    "and keeps history.",
    shown=f"`$APP_DATA_DIR/{USERS_FILE_NAME}`",
)
AUTH_HEADER = Setting(
    "AUTH_HEADER",
    "auth_header",
    header_name,
    "",
    "Header name (e.g. `X-Forwarded-User`) a trusted reverse proxy sets to the signed-in "
    "user's name; turns on header sign-in. Only behind a proxy that sets it and strips it "
    "from clients.",
)
DATABASE_URL = Setting(
    "DATABASE_URL",
    "database_url",
    database_url,
    "",
    f"Where history lives. `{POSTGRES_DRIVER}://user:password@host:5432/db` (or "
    "`postgresql://…`) for PostgreSQL. Needs sign-in to be on.",
    shown=f"`{SQLITE_DRIVER}:///$APP_DATA_DIR/{HISTORY_DB_FILE}`",
)
CHAINLIT_AUTH_SECRET = Setting(
    "CHAINLIT_AUTH_SECRET",
    None,
    text,
    "",
    "Signs the session cookie. Several instances must share one.",
    shown="generated into `$APP_DATA_DIR/auth-secret`",
)
CHAINLIT_ENV_FILE = Setting(
    "CHAINLIT_ENV_FILE",
    None,
    text,
    ".env",
    "The settings file, relative to the folder the app starts in, that Chainlit and "
    "`python -m foundry_local_chat` load; variables already in the environment win.",
)
ALLOWED_ORIGINS: Setting[tuple[Origin, ...]] = Setting(
    "ALLOWED_ORIGINS",
    "allowed_origins",
    origins,
    (),
    "Comma-separated web origins (`scheme://host[:port]`, e.g. `http://localhost:3000`) "
    "besides the app's own that may use the chat server from a browser, with the signed-in "
    "user's session. Unset: only the app's own pages. `*` is refused.",
)
LOG_FORMAT = Setting(
    "LOG_FORMAT",
    "log_format",
    log_format,
    LogFormat.TEXT,
    "`json` writes the log of the app and of the endpoint as one JSON object per line (for "
    "log shippers); `text` as lines for people. Both carry each chat turn's request id.",
    shown="`text`",
)
READINESS_TIMEOUT_SECONDS = Setting(
    "READINESS_TIMEOUT_SECONDS",
    "readiness_timeout_seconds",
    Number(0.1, 600),
    10.0,
    "`/readyz` reports the model not ready when its 1-token test completion does not answer "
    "within this many seconds.",
)
READINESS_CACHE_SECONDS = Setting(
    "READINESS_CACHE_SECONDS",
    "readiness_cache_seconds",
    Number(0, 3600),
    5.0,
    "How long a `/readyz` result is reused, so frequent probes cost no model work.",
)
METRICS_TOKEN = Setting(
    "METRICS_TOKEN",
    "metrics_token",
    text,
    "",
    "When set, the chat app's `/metrics` wants `Authorization: Bearer <token>`; unset, it "
    "answers only clients on this machine that came through no proxy. The endpoint's "
    "`/metrics` wants `ENDPOINT_API_KEY` instead.",
)

# The README's table, in this order (cog, `make docs`); tests/unit/test_readme.py fails when code
# reads a variable that is not here.
SETTINGS: tuple[Setting[Any], ...] = (
    MODEL, SYSTEM_PROMPT, FOUNDRY_LOCAL, FOUNDRY_ENDPOINT_URL, ENDPOINT_API_KEY,
    ENDPOINT_ALLOW_NO_KEY, ENDPOINT_CORS_ORIGINS, ENDPOINT_CONCURRENCY, ENDPOINT_MAX_QUEUE,
    ENDPOINT_MAX_BODY_BYTES, ENDPOINT_WARM_CONVERSATIONS, ENDPOINT_WARM_MEMORY_MB,
    FOUNDRY_OFFLINE, FOUNDRY_CATALOG_URLS, FOUNDRY_CATALOG_REGION, BASE_URL, API_KEY, MAX_TOKENS,
    TEMPERATURE, TOP_P, AUTO_REMOTE_PROMPT_CHARS, LOOP_GUARD, CHAT_TITLES,
    ABANDONED_ANSWER_GRACE_SECONDS,
    MODEL_CACHE_DIR, APP_DATA_DIR, DOCUMENT_MAX_FILES, DOCUMENT_MAX_MB,
    DOCUMENTS_WHOLE_WITHIN_SECONDS, DOCUMENT_READ_SECONDS, DOCUMENT_READ_MEMORY_MB,
    DOCUMENT_MAX_DECOMPRESSED_MB, DOCUMENT_READERS, DOCUMENT_READERS_PER_USER, HOST, PORT,
    USERS_FILE, AUTH_HEADER, DATABASE_URL, CHAINLIT_AUTH_SECRET, CHAINLIT_ENV_FILE,
    ALLOWED_ORIGINS, LOG_FORMAT, READINESS_TIMEOUT_SECONDS, READINESS_CACHE_SECONDS,
    METRICS_TOKEN,
)  # fmt: skip


# ----- the settings, and the parts' narrower configs -----


@dataclass(frozen=True)
class GenerationDefaults:
    """Sampling defaults, measured on the bundled 135M model (bench/tune_generation.py).

    The repetition penalty is not here: Foundry Local's web service rejects penalties, so the
    build writes it into the model's own search defaults (models/bundled.py REPETITION_PENALTY).
    """

    max_tokens: int = MAX_TOKENS.default
    temperature: float = TEMPERATURE.default
    top_p: float = TOP_P.default


@dataclass(frozen=True)
class DocumentLimits:
    """How many files one message may attach, how large each may be, and what reading one may
    cost (documents/reader.py reads each in a worker process that is killed at these limits)."""

    max_files: int = DOCUMENT_MAX_FILES.default
    max_mb: float = DOCUMENT_MAX_MB.default
    read_seconds: float = DOCUMENT_READ_SECONDS.default  # wall clock and CPU time of one file
    read_memory_mb: int = DOCUMENT_READ_MEMORY_MB.default  # the reading process's address space
    max_decompressed_mb: float = DOCUMENT_MAX_DECOMPRESSED_MB.default  # all of one file's streams
    readers: int = DOCUMENT_READERS.default  # files read at once, over all users
    readers_per_user: int = DOCUMENT_READERS_PER_USER.default  # per user (no sign-in: per chat)

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)

    @property
    def max_decompressed_bytes(self) -> int:
        return int(self.max_decompressed_mb * 1024 * 1024)


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
class Settings:
    """Build with Settings.from_env(); tests pass their own environment mapping. Each field's
    default is its declaration's (SETTINGS above)."""

    model_cache_dir: Path
    app_data_dir: Path
    model: str = MODEL.default
    system_prompt: str = SYSTEM_PROMPT.default
    use_foundry_local: bool = FOUNDRY_LOCAL.default
    endpoint_url: str = FOUNDRY_ENDPOINT_URL.default
    offline: bool | None = FOUNDRY_OFFLINE.default  # None: detect whether the catalog answers
    catalog_urls: tuple[str, ...] = FOUNDRY_CATALOG_URLS.default
    catalog_region: str = FOUNDRY_CATALOG_REGION.default  # empty: ask the public catalog
    endpoint_api_key: str = ENDPOINT_API_KEY.default  # empty: any key works
    endpoint_cors_origins: CorsOrigins = ENDPOINT_CORS_ORIGINS.default
    endpoint_concurrency: int = ENDPOINT_CONCURRENCY.default
    endpoint_max_queue: int = ENDPOINT_MAX_QUEUE.default
    endpoint_max_body_bytes: int = ENDPOINT_MAX_BODY_BYTES.default
    warm_conversations: int = ENDPOINT_WARM_CONVERSATIONS.default  # 0 turns reuse off
    warm_memory_mb: float = ENDPOINT_WARM_MEMORY_MB.default
    base_url: str = BASE_URL.default
    api_key: str = API_KEY.default
    generation: GenerationDefaults = GenerationDefaults()
    auto_remote_prompt_chars: int = AUTO_REMOTE_PROMPT_CHARS.default
    abandoned_answer_grace_seconds: float = ABANDONED_ANSWER_GRACE_SECONDS.default
    loop_guard: bool | None = LOOP_GUARD.default  # None: for small models only (models/facts.py)
    chat_titles: bool = CHAT_TITLES.default  # the model names a new chat when it is idle
    database_url: str = DATABASE_URL.default  # from_env fills in the SQLite default
    users_file: Path | None = USERS_FILE.default  # None: <app_data_dir>/users
    auth_header: str = AUTH_HEADER.default  # lower-case
    allowed_origins: tuple[Origin, ...] = ALLOWED_ORIGINS.default
    log_format: LogFormat = LOG_FORMAT.default
    readiness_timeout_seconds: float = READINESS_TIMEOUT_SECONDS.default
    readiness_cache_seconds: float = READINESS_CACHE_SECONDS.default
    metrics_token: str = METRICS_TOKEN.default  # empty: loopback clients only
    documents: DocumentLimits = DocumentLimits()
    documents_whole_within_seconds: float = DOCUMENTS_WHOLE_WITHIN_SECONDS.default

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
        groups: dict[str, dict[str, Any]] = {"": {}, "generation": {}, "documents": {}}
        for setting in SETTINGS:
            if setting.field:
                group, _, field = setting.field.rpartition(".")
                groups[group][field] = setting.value(env)
        values = groups[""]
        if not values["database_url"]:
            values["database_url"] = (
                f"{SQLITE_DRIVER}:///{values['app_data_dir'] / HISTORY_DB_FILE}"
            )
        settings = cls(
            **values,
            generation=GenerationDefaults(**groups["generation"]),
            documents=DocumentLimits(**groups["documents"]),
        )
        if settings.use_foundry_local:
            _check_endpoint_exposure(settings, ENDPOINT_ALLOW_NO_KEY.value(env))
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
