"""Settings come from the environment; a bad value is a clear error naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundry_local_chat.config import BUNDLED_MODEL_ALIAS, ConfigError, Settings
from foundry_local_chat.origins import Origin


def test_defaults_serve_the_bundled_model_on_the_stable_endpoint() -> None:
    settings = Settings.from_env({})
    assert settings.model == BUNDLED_MODEL_ALIAS and settings.wants_bundled_model
    assert settings.endpoint_url == "http://127.0.0.1:5273"
    assert settings.use_foundry_local is True
    assert settings.offline is None  # detect
    assert settings.base_url == ""
    assert settings.model_cache_dir == Path.home() / ".cache" / "foundry-local-chat"


def test_every_variable_is_read() -> None:
    settings = Settings.from_env({
        "MODEL": "phi-4-mini", "BASE_URL": "http://10.0.0.5:8080/v1/", "API_KEY": "k",
        "SYSTEM_PROMPT": "Be terse.", "FOUNDRY_LOCAL": "off", "FOUNDRY_OFFLINE": "1",
        "FOUNDRY_ENDPOINT_URL": "http://0.0.0.0:6000", "MODEL_CACHE_DIR": "/models",
        "APP_DATA_DIR": "/data", "MAX_TOKENS": "64", "TEMPERATURE": "0", "TOP_P": "0.5",
    })  # fmt: skip
    assert settings.model == "phi-4-mini" and not settings.wants_bundled_model
    assert settings.base_url == "http://10.0.0.5:8080/v1"
    assert settings.api_key == "k" and settings.system_prompt == "Be terse."
    assert settings.use_foundry_local is False and settings.offline is True
    assert settings.endpoint_url == "http://0.0.0.0:6000"
    assert settings.model_cache_dir == Path("/models") and settings.app_data_dir == Path("/data")
    assert (settings.generation.max_tokens, settings.generation.temperature) == (64, 0.0)
    assert settings.generation.top_p == 0.5


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FOUNDRY_LOCAL", "maybe", "FOUNDRY_LOCAL='maybe' is not a switch"),
        ("TEMPERATURE", "hot", "TEMPERATURE='hot' is not a number"),
        ("TEMPERATURE", "3", "TEMPERATURE=3 is out of range"),
        ("MAX_TOKENS", "0", "MAX_TOKENS=0 is out of range"),
        ("BASE_URL", "localhost:8080", "BASE_URL='localhost:8080' is not an http(s) URL"),
        ("ENDPOINT_CONCURRENCY", "0", "ENDPOINT_CONCURRENCY=0 is out of range"),
        ("ENDPOINT_CONCURRENCY", "1.5", "ENDPOINT_CONCURRENCY='1.5' is not a whole number"),
        ("ENDPOINT_MAX_QUEUE", "-1", "ENDPOINT_MAX_QUEUE='-1' is not a whole number"),
        ("ENDPOINT_MAX_QUEUE", "many", "ENDPOINT_MAX_QUEUE='many' is not a whole number"),
        ("ENDPOINT_MAX_BODY_BYTES", "10", "ENDPOINT_MAX_BODY_BYTES=10 is out of range"),
        (
            "FOUNDRY_CATALOG_URLS",
            "http://a/x, catalog.local",
            "FOUNDRY_CATALOG_URLS: 'catalog.local' is not an http(s) URL",
        ),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({variable: value})
    assert str(error.value).startswith(message)


def test_more_catalogs_and_a_region_for_catalog_models() -> None:
    settings = Settings.from_env({
        "FOUNDRY_CATALOG_URLS": "https://models.example/asset-gallery/v1.0/models/, http://b/x",
        "FOUNDRY_CATALOG_REGION": " westus3 ",
    })  # fmt: skip
    assert settings.catalog_urls == (
        "https://models.example/asset-gallery/v1.0/models", "http://b/x"
    )  # fmt: skip
    assert settings.catalog_region == "westus3"


def test_history_defaults_to_a_sqlite_file_in_the_data_dir() -> None:
    settings = Settings.from_env({"APP_DATA_DIR": "/data"})
    assert settings.database_url == "sqlite+aiosqlite:////data/chat.db"
    assert settings.users_file is None and settings.auth_header == ""


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql+asyncpg://u:p@db:5432/chat", "postgresql+asyncpg://u:p@db:5432/chat"),
        ("postgresql://u:p@db/chat", "postgresql+asyncpg://u:p@db/chat"),
        ("postgres://u@db/chat", "postgresql+asyncpg://u@db/chat"),
        ("sqlite:////var/lib/chat.db", "sqlite+aiosqlite:////var/lib/chat.db"),
    ],
)
def test_database_url_gets_the_asyncio_driver(given: str, used: str) -> None:
    assert Settings.from_env({"DATABASE_URL": given}).database_url == used


def test_a_database_url_of_another_kind_is_refused_without_its_password() -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"DATABASE_URL": "mysql://root:hunter22@db/chat"})
    assert str(error.value).startswith("DATABASE_URL='mysql://root:***@db/chat' is not a database")
    assert "hunter22" not in str(error.value)


def test_sign_in_settings() -> None:
    settings = Settings.from_env({"USERS_FILE": "/etc/chat/users", "AUTH_HEADER": "X-Remote-User"})
    assert settings.users_file == Path("/etc/chat/users")
    assert settings.auth_header == "x-remote-user"
    with pytest.raises(ConfigError, match="AUTH_HEADER='X Remote' is not an HTTP header name"):
        Settings.from_env({"AUTH_HEADER": "X Remote"})


def test_the_endpoint_settings_are_read() -> None:
    settings = Settings.from_env({
        "FOUNDRY_ENDPOINT_URL": "http://0.0.0.0:6000/v1", "ENDPOINT_API_KEY": " s3cret ",
        "ENDPOINT_CORS_ORIGINS": "http://localhost:3000/, https://chat.example.org",
    })  # fmt: skip
    assert settings.endpoint_api_key == "s3cret"
    assert settings.endpoint_cors_origins == (
        Origin("http", "localhost", 3000),
        Origin("https", "chat.example.org", 443),
    )
    address = settings.endpoint_address
    assert (address.host, address.port, address.is_loopback) == ("0.0.0.0", 6000, False)
    assert address.client_url() == "http://127.0.0.1:6000/v1"  # how this machine reaches it


def test_the_endpoint_cors_origins_are_parsed_like_allowed_origins() -> None:
    read = Settings.from_env
    spelled = read({"ENDPOINT_CORS_ORIGINS": "HTTP://LocalHost:80, https://[::1]:443/"})
    assert spelled.endpoint_cors_origins == (
        Origin("http", "localhost", 80),
        Origin("https", "[::1]", 443),
    )
    assert read({"ENDPOINT_CORS_ORIGINS": "*"}).endpoint_cors_origins == "*"
    assert read({"ENDPOINT_CORS_ORIGINS": "http://a.example, *"}).endpoint_cors_origins == "*"
    assert read({}).endpoint_cors_origins == ()
    with pytest.raises(ConfigError, match=r"^ENDPOINT_CORS_ORIGINS: 'http://x\.example/chat' "):
        read({"ENDPOINT_CORS_ORIGINS": "http://x.example/chat"})


def test_the_endpoint_queue_and_body_limit() -> None:
    defaults = Settings.from_env({})
    assert (defaults.endpoint_concurrency, defaults.endpoint_max_queue) == (1, 16)
    assert defaults.endpoint_max_body_bytes == 1024**2
    settings = Settings.from_env({
        "ENDPOINT_CONCURRENCY": "2", "ENDPOINT_MAX_QUEUE": "0", "ENDPOINT_MAX_BODY_BYTES": "4096",
    })  # fmt: skip
    assert (settings.endpoint_concurrency, settings.endpoint_max_queue) == (2, 0)
    assert settings.endpoint_max_body_bytes == 4096


@pytest.mark.parametrize(
    ("url", "reachable_from_elsewhere"),
    [
        ("http://127.0.0.1:5273", False),
        ("http://127.0.0.2:5273", False),
        ("http://localhost:5273", False),
        ("http://[::1]:5273", False),
        ("http://0.0.0.0:5273", True),
        ("http://[::]:5273", True),
        ("http://192.168.1.20:5273", True),
        ("http://my-host:5273", True),
    ],
)
def test_an_endpoint_other_machines_can_reach_needs_a_key(
    url: str, reachable_from_elsewhere: bool
) -> None:
    env = {"FOUNDRY_ENDPOINT_URL": url}
    if reachable_from_elsewhere:
        with pytest.raises(
            ConfigError, match=r"^FOUNDRY_ENDPOINT_URL=.*ENDPOINT_API_KEY is not set"
        ):
            Settings.from_env(env)
        assert Settings.from_env({**env, "ENDPOINT_API_KEY": "k"}).endpoint_api_key == "k"
        assert Settings.from_env({**env, "ENDPOINT_ALLOW_NO_KEY": "1"}).endpoint_api_key == ""
    else:
        assert Settings.from_env(env).endpoint_address.is_loopback
    # The app alone (FOUNDRY_LOCAL=0) opens no endpoint, so there is nothing to protect.
    assert Settings.from_env({**env, "FOUNDRY_LOCAL": "0"}).use_foundry_local is False


def test_the_endpoint_serves_plain_http() -> None:
    with pytest.raises(ConfigError, match=r"^FOUNDRY_ENDPOINT_URL='https://127.0.0.1:5273'"):
        Settings.from_env({"FOUNDRY_ENDPOINT_URL": "https://127.0.0.1:5273"})


def test_allowed_origins_are_read_as_a_browser_writes_them() -> None:
    assert Settings.from_env({}).allowed_origins == ()
    settings = Settings.from_env({
        "ALLOWED_ORIGINS": "http://localhost:3000/, HTTPS://Chat.Example.org:443,http://[::1]:8080"
    })  # fmt: skip
    assert [str(origin) for origin in settings.allowed_origins] == [
        "http://localhost:3000", "https://chat.example.org", "http://[::1]:8080",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("*", "ALLOWED_ORIGINS: '*' would let every web page act with a signed-in user's session"),
        ("http://localhost:3000, localhost:3000", "ALLOWED_ORIGINS: 'localhost:3000' is not an"),
        ("https://chat.example/chat", "ALLOWED_ORIGINS: 'https://chat.example/chat' is not"),
        ("http://localhost:99999", "ALLOWED_ORIGINS: 'http://localhost:99999' is not an origin"),
        ("null", "ALLOWED_ORIGINS: 'null' is not an origin"),
    ],
)
def test_bad_allowed_origins_are_refused(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"ALLOWED_ORIGINS": value})
    assert str(error.value).startswith(message)
