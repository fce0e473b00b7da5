"""Two app instances behind nginx (sticky sessions), one PostgreSQL, one model endpoint process.

A chat started through nginx goes on after its instance is killed: the user signs in again,
lands on the other instance, resumes the thread, and no message is missing, neither from the
history nor from what the model is asked.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.support.chainlit_client import ChainlitApi, ChainlitSession, messages_of
from tests.support.nginx import start_nginx
from tests.support.postgres import PostgresServer
from tests.support.processes import (
    RunningProcess,
    add_user,
    clean_env,
    free_port,
    start_chainlit,
)
from tests.support.recording_proxy import RecordingProxy


@pytest.fixture
def stack() -> Iterator[list[RunningProcess]]:
    """Processes the test starts; all stopped at the end, whatever happened."""
    processes: list[RunningProcess] = []
    yield processes
    for process in reversed(processes):
        process.stop()


def served_by(api: ChainlitApi) -> int:
    """The port of the instance that answered the last request (nginx's X-Upstream header)."""
    return int(api.last_headers["X-Upstream"].split(",")[-1].strip().rsplit(":", 1)[1])


async def test_chat_survives_losing_its_instance_behind_nginx(
    stack: list[RunningProcess],
    postgres: PostgresServer,
    proxy: RecordingProxy,
    tmp_path: Path,
) -> None:
    users = tmp_path / "users"
    add_user(users, "alice", PASSWORD)
    database_url = await postgres.create_database()
    shared = {
        # The model endpoint is its own process (`python -m foundry_local_chat serve`, the
        # session's `endpoint` fixture); the proxy in front of it records what the apps ask.
        "FOUNDRY_LOCAL": "0", "BASE_URL": proxy.url, "SYSTEM_PROMPT": "Be brief.",
        "DATABASE_URL": database_url, "USERS_FILE": str(users),
        "CHAINLIT_AUTH_SECRET": secrets.token_urlsafe(48),
        # Whole saved conversations are compared: no loop-guard notice from a sampled answer.
        "LOOP_GUARD": "0",
    }  # fmt: skip
    instances: dict[int, RunningProcess] = {}
    for name in ("one", "two"):
        port = free_port()
        env = clean_env({**shared, "APP_DATA_DIR": str(tmp_path / name)})
        instances[port] = start_chainlit(env, port)
        stack.append(instances[port])
    balancer, nginx_port, prefix = start_nginx(list(instances))
    stack.append(balancer)
    url = f"http://127.0.0.1:{nginx_port}"

    try:
        api = ChainlitApi(url)
        token = await api.sign_in("alice", PASSWORD)
        first_instance = served_by(api)
        async with ChainlitSession(url, token) as chat:
            assert await chat.ready() is None
            await chat.change_settings({"temperature": 0.5})
            first = await chat.ask("My name is Ada.")
            second = await chat.ask("I have a cat called Turing.")
            # The answer is complete on screen: kill its instance at once, without a clean
            # shutdown (no disconnect handler runs, nothing gets flushed).
            instances[first_instance].kill()
        answers = [first.answer()["output"], second.answer()["output"]]

        api = ChainlitApi(url)
        token = await api.sign_in("alice", PASSWORD)
        assert served_by(api) != first_instance
        [thread] = await api.threads()
        conversation = [
            ("user_message", "My name is Ada."),
            ("assistant_message", answers[0]),
            ("user_message", "I have a cat called Turing."),
            ("assistant_message", answers[1]),
        ]
        assert messages_of(thread) == conversation
        assert thread["metadata"]["chat_settings"]["temperature"] == 0.5

        async with ChainlitSession(url, token, thread_id=thread["id"]) as chat:
            resumed = await chat.wait_for("resume_thread")
            assert messages_of(resumed) == conversation
            third = await chat.ask("What is my cat called?")
        assert served_by(api) != first_instance

        assert proxy.chat_requests()[-1].body["messages"] == [  # type: ignore[index]
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": answers[0]},
            {"role": "user", "content": "I have a cat called Turing."},
            {"role": "assistant", "content": answers[1]},
            {"role": "user", "content": "What is my cat called?"},
        ]
        continued = await api.thread(thread["id"])
        assert continued["metadata"]["chat_settings"]["temperature"] == 0.5
        assert proxy.chat_requests()[-1].body["temperature"] == 0.5  # type: ignore[index]
        assert messages_of(continued) == [
            *conversation,
            ("user_message", "What is my cat called?"),
            ("assistant_message", third.answer()["output"]),
        ]
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
