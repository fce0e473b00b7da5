"""Apps under test: `chainlit run app.py` with given settings, signed-in users, and the names
the tests share (the fixtures that start them are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.support.processes import RunningProcess, add_user, clean_env, free_port, start_chainlit
from tests.support.recording_proxy import RecordingProxy

ENDPOINT_API_KEY = "test-endpoint-key"


BROWSER_ORIGIN = "http://localhost:3000"  # where Open WebUI runs in a browser


def shared_proxy(module_proxy: RecordingProxy) -> RecordingProxy:
    """The module's proxy, with nothing recorded and no failure armed."""
    return module_proxy.reset()


AppFactory = Callable[..., str]


PASSWORD = "correct horse battery"  # every test user's


def signed_in_app(
    chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path, *names: str, **settings: str
) -> str:
    """An app whose users file has `names` (all with PASSWORD), answering through the proxy.

    The loop guard is off unless asked for: these tests compare whole saved conversations, and
    the sampled model may loop on one of their prompts, which would add the guard's notice.
    Answers are short unless asked for: what is saved is compared, not how long it is."""
    users = tmp_path / "users"
    for name in names:
        add_user(users, name, PASSWORD)
    settings = {"LOOP_GUARD": "0", "MAX_TOKENS": "64", **settings}
    return chainlit_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, USERS_FILE=str(users), **settings)


def launch_chainlit(data_dir: Path, started: list[RunningProcess], **settings: str) -> str:
    """Start `chainlit run app.py -h` with the given settings; returns its http://127.0.0.1:port."""
    port = free_port()
    env = clean_env({
        "FOUNDRY_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "FOUNDRY_OFFLINE": "1",
        "APP_DATA_DIR": str(data_dir / f"app-data-{port}"),
        **settings,
    })  # fmt: skip
    started.append(start_chainlit(env, port))
    return f"http://127.0.0.1:{port}"
