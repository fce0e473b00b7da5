"""Fixtures that start the real parts: the Foundry Local endpoint, `chainlit run`, a proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from foundry_local_chat.config import Settings
from foundry_local_chat.history.data_layer import ChatDataLayer
from foundry_local_chat.models.bundled import is_built
from foundry_local_chat.storage import database
from tests.support.apps import (
    BROWSER_ORIGIN,
    ENDPOINT_API_KEY,
    AppFactory,
    launch_chainlit,
)
from tests.support.postgres import PostgresServer
from tests.support.processes import (
    Endpoint,
    RunningProcess,
    live_processes,
    start_bundled_endpoint,
)
from tests.support.recording_proxy import RecordingProxy

# Browser fixtures (browser, page, locale, app_url, app_settings): see tests/support/browser.py.
pytest_plugins = ["tests.support.browser"]

# The tiers (pyproject.toml registers the markers): a test is marked by the real parts its
# fixtures start; modules that start processes themselves say so with `pytestmark`.
# `make check` runs what is none of these, in-process and in seconds.
MARKED_BY_FIXTURE = {
    "bundled_model_dir": ("model",),
    "endpoint": ("e2e",),
    "proxy": ("e2e",),
    "chainlit_app": ("e2e",),
    "module_app": ("e2e",),
    "module_proxy": ("e2e",),
    "postgres": ("e2e", "postgres"),
    "history_database": ("e2e", "postgres"),
    "browser": ("e2e", "browser"),
    "open_webui": ("e2e", "openwebui"),
}


SLOW_TIER = ("e2e", "browser", "postgres", "openwebui", "model")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgresql" in callspec.params.values():
            fixtures.add("postgres")  # a database fixture parametrized over both databases
        for fixture, markers in MARKED_BY_FIXTURE.items():
            if fixture in fixtures:
                for marker in markers:
                    item.add_marker(marker)
        if item.nodeid.startswith("tests/unit/") and any(
            item.get_closest_marker(marker) for marker in SLOW_TIER
        ):
            raise pytest.UsageError(
                f"{item.nodeid} starts a real part: it belongs in tests/e2e/ or tests/browser/"
            )
    items[:] = longest_files_first(items)


_LINES_BEFORE = pytest.StashKey[dict[int, int]]()
SHOWN_LINES = 60  # of each process's output, in a failing test's report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_LINES_BEFORE] = {id(p): len(p.lines) for p in live_processes()}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """A failing test's report ends with what the running apps and endpoints printed during it:
    CI shows the report and nothing else, and an app's log says why a page waited in vain."""
    report: pytest.TestReport = yield
    if report.failed:
        before = item.stash.get(_LINES_BEFORE, {})
        for process in live_processes():
            printed = process.lines[before.get(id(process), 0) :]
            if printed:
                shown = "".join(printed[-SHOWN_LINES:])
                report.sections.append((f"output of {process.name}", shown))
    return report


def longest_files_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """The order `make test`'s workers take whole files in (`--dist loadfile`): the longest
    first, so that no long file starts last while the other workers run out of work. Files
    with a `long` test first, then by how many slow-tier tests they have; the fast tier last."""

    def cost(item: pytest.Item) -> int:
        if item.get_closest_marker("long"):
            return 1000
        return int(any(item.get_closest_marker(marker) for marker in SLOW_TIER))

    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::")[0], []).append(item)
    files = sorted(by_file.values(), key=lambda tests: -sum(cost(test) for test in tests))
    return [item for tests in files for item in tests]


@pytest.fixture(scope="session")
def bundled_model_dir() -> Path:
    model_dir = Settings.from_env().bundled_model_dir
    if not is_built(model_dir):
        pytest.fail(f"the bundled model is not built at {model_dir}: run `make model` first")
    return model_dir


@pytest.fixture(scope="session")
def endpoint(
    bundled_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Endpoint]:
    """The real endpoint (`serve`) serving the bundled model, set up as for Open WebUI:
    an API key, and CORS for a browser origin."""
    running = start_bundled_endpoint(
        tmp_path_factory.mktemp("endpoint-data"),
        ENDPOINT_API_KEY=ENDPOINT_API_KEY,
        ENDPOINT_CORS_ORIGINS=BROWSER_ORIGIN,
    )
    yield running
    running.process.stop()


@pytest.fixture
async def proxy(endpoint: Endpoint) -> AsyncIterator[RecordingProxy]:
    recording = await RecordingProxy(endpoint.url, api_key=endpoint.api_key).start()
    yield recording
    await recording.close()


@pytest.fixture(scope="module")
async def module_proxy(endpoint: Endpoint) -> AsyncIterator[RecordingProxy]:
    """One proxy for a module whose tests share an app (`module_app`); a module that uses it
    overrides `proxy` with `shared_proxy`, so each test starts with it reset."""
    recording = await RecordingProxy(endpoint.url, api_key=endpoint.api_key).start()
    yield recording
    await recording.close()


@pytest.fixture
def chainlit_app(bundled_model_dir: Path, tmp_path: Path) -> Iterator[AppFactory]:
    """Start `chainlit run app.py -h` with the given settings; returns its http://127.0.0.1:port."""
    started: list[RunningProcess] = []
    yield lambda **settings: launch_chainlit(tmp_path, started, **settings)
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def module_app(
    bundled_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppFactory]:
    """Like `chainlit_app`, but each app (by its settings) starts once for the module: tests
    that need the same app share it, each in its own chat. Starting `chainlit run` is most of
    what such a test costs."""
    started: list[RunningProcess] = []
    apps: dict[tuple[tuple[str, str], ...], str] = {}
    data_dir = tmp_path_factory.mktemp("module-apps")

    def launch(**settings: str) -> str:
        key = tuple(sorted(settings.items()))
        if key not in apps:
            apps[key] = launch_chainlit(data_dir, started, **settings)
        return apps[key]

    yield launch
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server (Debian's package), on 127.0.0.1, for the whole session."""
    server = PostgresServer.create().start()
    yield server
    server.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
async def history_database(request: pytest.FixtureRequest) -> dict[str, str]:
    """App settings for each history database: the default SQLite file in the app's data dir, or
    DATABASE_URL naming a new, empty PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    server: PostgresServer = request.getfixturevalue("postgres")
    return {"DATABASE_URL": await server.create_database()}


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A history database's URL, for tests of the data layer itself: a SQLite file that does not
    exist yet, or a new, empty PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'chat.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return await server.create_database()


@pytest.fixture
async def layer(database_url: str) -> AsyncIterator[ChatDataLayer]:
    """The history's data layer on `database_url`, its schema migrated."""
    if database.is_sqlite(database_url):
        database.sqlite_path(database_url).parent.mkdir(parents=True)  # type: ignore[union-attr]
    await database.upgrade(database_url)
    data_layer = ChatDataLayer(database_url)
    yield data_layer
    await data_layer.close()
