"""Through `chainlit run`: a hostile file name forges no log line, and JSON logs are JSON
throughout."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.apps import PASSWORD, launch_chainlit
from tests.support.chainlit_client import AUTH_COOKIE, ChainlitApi, ChainlitSession, Reply
from tests.support.processes import RunningProcess, add_user

FORGED = "2026-01-01 00:00:00 INFO auth: root"  # short: the chat shows 60 characters


# A name as a multipart header can carry it (python-multipart keeps a line feed after "\").
HOSTILE_NAME = "report\\\n" + FORGED + " \u202egnp.txt"


@pytest.fixture
def apps(bundled_model_dir: Path) -> Iterator[list[RunningProcess]]:
    running: list[RunningProcess] = []
    yield running
    for process in running:
        process.stop()


async def upload_named(url: str, token: str, session_id: str, name: str) -> str:
    """POST /project/file with the file name written into the form's header as it is."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--b--\r\n'
    )
    headers = {
        "Content-Type": "multipart/form-data; boundary=b",
        "Cookie": f"{AUTH_COOKIE}={token}",
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/project/file?session_id={session_id}", data=body, headers=headers
        ) as answer,
    ):
        assert answer.status == 200, await answer.text()
        return str((await answer.json())["id"])


async def upload_hostile_name(url: str) -> Reply:
    alice = ChainlitApi(url)
    await alice.sign_in("alice", PASSWORD)
    assert alice.token
    async with ChainlitSession(url, alice.token) as chat:
        await chat.ready()  # the text-format app has no model server: files are read anyway
        file = await upload_named(url, alice.token, chat.session_id, HOSTILE_NAME)
        return await chat.ask("", files=(file,))


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_hostile_file_name_forges_no_log_line_and_json_logs_are_json_throughout(
    apps: list[RunningProcess], tmp_path: Path, log_format: str
) -> None:
    users = tmp_path / "users"
    add_user(users, "alice", PASSWORD)
    # JSON: with the bundled model starting in the app (its start-up progress is logged).
    local = (
        {"FOUNDRY_LOCAL": "0", "BASE_URL": "http://127.0.0.1:9/v1"} if log_format == "text" else {}
    )
    url = launch_chainlit(tmp_path, apps, USERS_FILE=str(users), LOG_FORMAT=log_format, **local)
    [app] = apps
    reply = await upload_hostile_name(url)
    [notice] = [m["output"] for m in reply.of("new_message") if "was not read" in m["output"]]
    assert "\u202e" not in notice and "\ufffd" in notice
    app.find_line(r"document refused", 30)
    app.stop()
    lines = app.output.splitlines()
    assert not [line for line in lines if line.startswith(FORGED[:19])]
    if log_format == "json":
        assert not [line for line in lines if not _is_json(line)]
        assert any("start-up" in json.loads(line)["message"] for line in lines)
        assert any(json.loads(line)["logger"].startswith("alembic") for line in lines)
    else:
        [refused] = [line for line in lines if "document refused" in line]
        assert re.search(r"report\\\\n2026-01-01 .* \\u202egnp\.txt", refused)


def _is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
