"""Two app instances behind nginx (sticky sessions), one PostgreSQL, one model endpoint process.

A chat started through nginx goes on after its instance is killed: the user signs in again,
lands on the other instance, resumes the thread, and no message is missing, neither from the
history nor from what the model is asked.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.apps import PASSWORD
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


async def stored_answer(api: ChainlitApi, thread_id: str) -> dict[str, Any] | None:
    thread = await api.thread(thread_id)
    answers = [step for step in thread["steps"] if "reply_model" in (step.get("metadata") or {})]
    return answers[-1] if answers else None


async def test_a_tab_on_the_other_instance_sees_the_answer_as_stored(
    stack: list[RunningProcess],
    postgres: PostgresServer,
    proxy: RecordingProxy,
    tmp_path: Path,
) -> None:
    """An answer is written on one instance; a tab of its thread that lands on the other one
    (PostgreSQL shared) sees it as stored, at most about a second behind the screen, marked as
    still being written; once finished, the stored answer is whole."""
    users = tmp_path / "users"
    add_user(users, "alice", PASSWORD)
    shared = {
        "FOUNDRY_LOCAL": "0", "BASE_URL": proxy.url, "USERS_FILE": str(users),
        "DATABASE_URL": await postgres.create_database(), "LOOP_GUARD": "0",
        "CHAINLIT_AUTH_SECRET": secrets.token_urlsafe(48), "TEMPERATURE": "0",
        "MAX_TOKENS": "200", "ABANDONED_ANSWER_GRACE_SECONDS": "60",
    }  # fmt: skip
    urls = []
    for name in ("one", "two"):
        port = free_port()
        stack.append(
            start_chainlit(clean_env({**shared, "APP_DATA_DIR": str(tmp_path / name)}), port)
        )
        urls.append(f"http://127.0.0.1:{port}")
    token = await ChainlitApi(urls[0]).sign_in("alice", PASSWORD)
    other = ChainlitApi(urls[1], token)
    proxy.hold_after_events = 30

    async with ChainlitSession(urls[0], token) as writer:
        assert await writer.ready() is None
        await writer.send("Write a long, detailed story about a lighthouse keeper and a storm.")
        thread_id = (await writer.wait_for("first_interaction"))["thread_id"]
        await asyncio.wait_for(proxy.held.wait(), 120)
        held = proxy.chat_requests()[-1].answer
        started = time.perf_counter()
        while ((await stored_answer(other, thread_id)) or {}).get("output") != held:
            assert time.perf_counter() - started < 10, "the stored answer catches up"
            await asyncio.sleep(0.05)  # another process writes it: checked every 50 ms
        caught_up = time.perf_counter() - started
        print(f"\nthe other instance read the answer as streamed {caught_up:.2f} s after it")

        async with ChainlitSession(urls[1], token, thread_id=thread_id) as tab:
            resumed = await tab.wait_for("resume_thread")
        [answer] = [s for s in resumed["steps"] if "reply_model" in (s.get("metadata") or {})]
        assert answer["output"] == held
        notes = {e["forId"]: e["props"]["summary"] for e in resumed["elements"]}
        assert notes[answer["id"]] == "still being written: open the chat again to see more"

        proxy.release.set()
        await writer.wait_for("task_end", timeout=120)
    whole = await stored_answer(other, thread_id)
    assert whole is not None and whole["output"] == proxy.chat_requests()[-1].answer
    assert "in_progress" not in whole["metadata"] and "stopped" not in whole["metadata"]
