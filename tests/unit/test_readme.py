"""The README stays true: its settings table is generated from the one declaration of the
variables the app reads (config.SETTINGS, `make docs`), it quotes no figure that a run
would change, and the Open WebUI recipe is the one the Open WebUI test runs."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from foundry_local_chat.config import SETTINGS, ConfigError, Number, Settings, WholeNumber, plain
from foundry_local_chat.history import auth
from tests.support.open_webui import open_webui_env
from tests.support.processes import REPO, VENV_BIN

README = (REPO / "README.md").read_text(encoding="utf-8")
DECLARED = {setting.name: setting for setting in SETTINGS}
# The XDG base directories locate the defaults of MODEL_CACHE_DIR and APP_DATA_DIR; they are the
# desktop's variables, not the app's settings.
NOT_SETTINGS = {"XDG_CACHE_HOME", "XDG_DATA_HOME"}
# A literal variable name read from the environment: os.getenv("X"), environ.get("X"), env["X"].
ENV_READ = re.compile(r"""(?:getenv|environ|env)(?:\.get)?[(\[]\s*["']([A-Z][A-Z0-9_]+)["']""")


class RecordingEnv(Mapping[str, str]):
    """An empty environment that notes every variable the code looks up (Mapping's get and `in`
    go through __getitem__)."""

    def __init__(self) -> None:
        self.looked_up: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.looked_up.add(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_every_variable_config_reads_is_declared() -> None:
    source = (REPO / "foundry_local_chat" / "config.py").read_text(encoding="utf-8")
    named = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', source)) - NOT_SETTINGS
    env = RecordingEnv()
    Settings.from_env(env)
    looked_up = env.looked_up - NOT_SETTINGS
    assert {"MODEL", "DATABASE_URL", "ALLOWED_ORIGINS"} <= named & looked_up  # both see reads
    assert named | looked_up <= DECLARED.keys(), sorted((named | looked_up) - DECLARED.keys())


def test_every_variable_the_rest_of_the_app_reads_is_declared() -> None:
    sources = [REPO / "app.py", *sorted((REPO / "foundry_local_chat").rglob("*.py"))]
    read = {name for path in sources for name in ENV_READ.findall(path.read_text("utf-8"))}
    read.add(auth.SECRET_VARIABLE)  # read through a constant
    assert {"CHAINLIT_ENV_FILE", "DATABASE_URL"} <= read  # the pattern finds reads
    assert read - NOT_SETTINGS <= DECLARED.keys(), sorted(read - NOT_SETTINGS - DECLARED.keys())
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert {"HOST", "PORT"} <= set(re.findall(r"^([A-Z]+) \?=", makefile, re.MULTILINE))


def test_each_declared_variable_is_one_table_row() -> None:
    assert len(DECLARED) == len(SETTINGS), "a variable is declared twice"
    for setting in SETTINGS:
        for text in (setting.default_text, setting.meaning):
            assert text.strip() and "|" not in text and "\n" not in text, setting
        assert "|" not in setting.range_text


def test_every_settings_field_is_filled_from_one_declaration() -> None:
    fields = [setting.field for setting in SETTINGS if setting.field]
    assert len(fields) == len(set(fields)), "two variables fill one field"
    settings = Settings.from_env({})
    for setting in SETTINGS:
        if setting.field and setting.default_from is None and setting.name != "DATABASE_URL":
            value = settings
            for part in setting.field.split("."):
                value = getattr(value, part)
            assert value == setting.default, setting.name


def test_a_numbers_range_is_its_readers_and_the_table_shows_it() -> None:
    for setting in SETTINGS:
        if setting.field and isinstance(setting.read, WholeNumber | Number):
            low, high = setting.read.low, setting.read.high
            assert low <= setting.default <= high, setting.name
            assert setting.range_text == f"{plain(low)}–{plain(high)}"
            too_high = str(int(high) + 1)
            with pytest.raises(ConfigError, match=f"{setting.name}={too_high} is out of range"):
                Settings.from_env({setting.name: too_high, "FOUNDRY_LOCAL": "0"})


def test_the_tables_defaults_are_the_ones_the_app_uses() -> None:
    settings = Settings.from_env({})

    def shown(name: str) -> str:
        return DECLARED[name].default_text.strip("`")

    assert shown("MODEL") == settings.model
    assert shown("SYSTEM_PROMPT") == settings.system_prompt
    assert shown("FOUNDRY_ENDPOINT_URL") == settings.endpoint_url
    assert shown("FOUNDRY_LOCAL") == str(int(settings.use_foundry_local))
    assert shown("LOG_FORMAT") == settings.log_format
    assert Path(shown("MODEL_CACHE_DIR")).expanduser() == settings.model_cache_dir
    assert Path(shown("APP_DATA_DIR")).expanduser() == settings.app_data_dir
    numbers = {
        "ENDPOINT_CONCURRENCY": settings.endpoint_concurrency,
        "ENDPOINT_MAX_QUEUE": settings.endpoint_max_queue,
        "ENDPOINT_MAX_BODY_BYTES": settings.endpoint_max_body_bytes,
        "MAX_TOKENS": settings.generation.max_tokens,
        "TEMPERATURE": settings.generation.temperature,
        "TOP_P": settings.generation.top_p,
        "AUTO_REMOTE_PROMPT_CHARS": settings.auto_remote_prompt_chars,
        "ABANDONED_ANSWER_GRACE_SECONDS": settings.abandoned_answer_grace_seconds,
        "READINESS_TIMEOUT_SECONDS": settings.readiness_timeout_seconds,
        "READINESS_CACHE_SECONDS": settings.readiness_cache_seconds,
    }
    assert {name: float(shown(name)) for name in numbers} == numbers


def test_the_readmes_generated_table_is_up_to_date() -> None:
    """What `make lint` checks: cog would write the README exactly as it is."""
    check = subprocess.run(
        [str(VENV_BIN / "cog"), "-I", str(REPO), "--check", "README.md"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr + "\nrun `make docs`"
    configuration = README[README.index("## Configuration") :]
    configuration = configuration[: configuration.index("\n## ")]
    table = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", configuration, re.MULTILINE)
    assert table == list(DECLARED)


def test_the_readme_quotes_no_test_counts_or_measured_figures() -> None:
    """Such figures change with every run; the benches write them, dated, under docs/."""
    figures = re.findall(r"\b\d[\d.,]*\s*(?:ms|tok/s|tests|minutes?|min)\b|\d\.\d+\s*%", README)
    assert figures == []


def test_the_open_webui_recipe_is_what_the_open_webui_test_runs() -> None:
    recipe = README[README.index("## Use it from Open WebUI") :]
    command = recipe[: recipe.index("open-webui serve")]
    assignments = dict(re.findall(r"^([A-Z_]+)=(\S+) \\$", command, re.MULTILINE))
    tested = open_webui_env("http://127.0.0.1:5273/v1", "", Path("./open-webui-data"))
    assert assignments == {**tested, "DATA_DIR": "./open-webui-data"}
