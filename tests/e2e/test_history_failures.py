"""When the history database fails: at start the app refuses to run; mid-run the chat goes on,
says it is not being saved, and once the database is back saves everything said meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.support.apps import PASSWORD, AppFactory, signed_in_app
from tests.support.chainlit_client import ChainlitApi, ChainlitSession, messages_of
from tests.support.postgres import SUPERUSER, PostgresServer
from tests.support.processes import (
    VENV_BIN,
    add_user,
    clean_env,
    free_port,
    start,
)
from tests.support.recording_proxy import RecordingProxy

pytestmark = [pytest.mark.e2e]  # runs `chainlit run`


def run_app_until_it_exits(env: dict[str, str]) -> tuple[int, str]:
    command = [
        str(VENV_BIN / "chainlit"), "run", "app.py", "--headless",
        "--host", "127.0.0.1", "--port", str(free_port()),
    ]  # fmt: skip
    process = start(command, clean_env(env))
    return process.wait_for_exit(timeout=120), process.output


def test_unreachable_database_at_start_is_a_clear_error(tmp_path: Path) -> None:
    users = tmp_path / "users"
    add_user(users, "alice", PASSWORD)
    closed_port = free_port()
    database_url = f"postgresql+asyncpg://chat:hunter22@127.0.0.1:{closed_port}/chat"
    code, output = run_app_until_it_exits({
        "USERS_FILE": str(users), "DATABASE_URL": database_url, "FOUNDRY_LOCAL": "0",
        "APP_DATA_DIR": str(tmp_path / "data"),
    })  # fmt: skip
    assert code != 0
    assert "error: the chat history database postgresql+asyncpg://chat:***@127.0.0.1:" in output
    assert "cannot be used" in output and "Check DATABASE_URL" in output
    assert "hunter22" not in output
    assert "Your app is available" not in output


def test_a_database_without_anyone_to_sign_in_is_a_clear_error(tmp_path: Path) -> None:
    code, output = run_app_until_it_exits({
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}", "FOUNDRY_LOCAL": "0",
        "APP_DATA_DIR": str(tmp_path / "data"),
    })  # fmt: skip
    assert code != 0
    assert "error: DATABASE_URL is set, but nobody can sign in" in output


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, which the test stops and starts again."""
    server = PostgresServer.create().start()
    yield server
    server.remove()


async def test_database_down_mid_chat_keeps_the_chat_and_saves_it_all_when_it_is_back(
    chainlit_app: AppFactory,
    proxy: RecordingProxy,
    own_postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    url = signed_in_app(
        chainlit_app, proxy, tmp_path, "alice", DATABASE_URL=await own_postgres.create_database()
    )
    api = ChainlitApi(url)
    token = await api.sign_in("alice", PASSWORD)
    async with ChainlitSession(url, token) as chat:
        await chat.ready()
        first = await chat.ask("Remember the word tangerine.")

        own_postgres.stop()
        second = await chat.ask("Which word did I ask you to remember?")
        warning = await chat.wait_for_seen(
            "new_message", lambda m: "This chat is not being saved" in m["output"]
        )

        own_postgres.start()
        third = await chat.ask("Thank you.")
        await chat.wait_for_seen("new_message", lambda m: "Saving works again" in m["output"])

    # The chat went on: the model was asked with the whole conversation each time.
    assert second.answer()["output"] and third.answer()["output"]
    assert [m["content"] for m in proxy.chat_requests()[-1].body["messages"][-3:]] == [  # type: ignore[index]
        "Which word did I ask you to remember?",
        second.answer()["output"],
        "Thank you.",
    ]
    assert warning["isError"] is True
    assert "history database failed" in warning["output"]

    assert "saved when the database is back" in warning["output"]

    # Before, during and after the outage: the whole conversation is saved, in order.
    [thread] = await api.threads()
    assert messages_of(thread) == [
        ("user_message", "Remember the word tangerine."),
        ("assistant_message", first.answer()["output"]),
        ("user_message", "Which word did I ask you to remember?"),
        ("assistant_message", second.answer()["output"]),
        ("user_message", "Thank you."),
        ("assistant_message", third.answer()["output"]),
    ]


async def test_what_waited_through_an_outage_is_saved_when_the_chat_is_resumed_later(
    chainlit_app: AppFactory,
    proxy: RecordingProxy,
    own_postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    url = signed_in_app(
        chainlit_app, proxy, tmp_path, "alice",
        MAX_TOKENS="24", DATABASE_URL=await own_postgres.create_database(),
    )  # fmt: skip
    api = ChainlitApi(url)
    token = await api.sign_in("alice", PASSWORD)
    async with ChainlitSession(url, token) as chat:  # the tab is closed during the outage
        await chat.ready()
        first = await chat.ask("Remember the word tangerine.")
        own_postgres.stop()
        second = await chat.ask("Which word did I ask you to remember?")
    own_postgres.start()

    [thread] = await api.threads()
    assert len(messages_of(thread)) == 2  # what was said during the outage still waits
    async with ChainlitSession(url, token, thread_id=thread["id"]) as chat:
        await chat.wait_for("resume_thread")
        third = await chat.ask("Thank you.")

    assert messages_of(await api.thread(thread["id"])) == [
        ("user_message", "Remember the word tangerine."),
        ("assistant_message", first.answer()["output"]),
        ("user_message", "Which word did I ask you to remember?"),
        ("assistant_message", second.answer()["output"]),
        ("user_message", "Thank you."),
        ("assistant_message", third.answer()["output"]),
    ]


async def test_a_message_the_database_refuses_is_reported_and_the_rest_is_saved(
    chainlit_app: AppFactory, proxy: RecordingProxy, postgres: PostgresServer, tmp_path: Path
) -> None:
    database_url = await postgres.create_database()
    url = signed_in_app(
        chainlit_app, proxy, tmp_path, "alice", DATABASE_URL=database_url, MAX_TOKENS="24"
    )
    # A rule of the database's owner, not the app's: user messages may not say "classified".
    connection = await asyncpg.connect(
        host="127.0.0.1", port=postgres.port, user=SUPERUSER,
        database=database_url.rsplit("/", 1)[1],
    )  # fmt: skip
    try:
        await connection.execute(
            "ALTER TABLE steps ADD CONSTRAINT no_secrets "
            "CHECK (type <> 'user_message' OR output NOT LIKE '%classified%')"
        )
    finally:
        await connection.close()

    api = ChainlitApi(url)
    token = await api.sign_in("alice", PASSWORD)
    async with ChainlitSession(url, token) as chat:
        await chat.ready()
        await chat.ask("Remember the word tangerine.")
        refused = await chat.ask("This line is classified.")
        notice = await chat.wait_for_seen(
            "new_message", lambda m: "could not be saved" in m["output"]
        )
        thanks = await chat.ask("Thank you.")

    assert refused.answer()["output"]  # the chat went on
    assert "refused it" in notice["output"] and "no_secrets" in notice["output"]
    [thread] = await api.threads()
    saved = messages_of(thread)
    assert ("user_message", "This line is classified.") not in saved
    assert ("user_message", "Remember the word tangerine.") in saved
    assert saved[-2:] == [
        ("user_message", "Thank you."),
        ("assistant_message", thanks.answer()["output"]),
    ]
