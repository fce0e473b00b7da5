"""Sign-in, history and resume through a real `chainlit run`, on SQLite and on PostgreSQL.

Each test signs in over HTTP the way the login page does, chats over socket.io the way the
browser does, and checks what the history API returns and what the model endpoint receives.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jwt
import pytest
import socketio

from tests.support.apps import PASSWORD, AppFactory, signed_in_app
from tests.support.chainlit_client import ChainlitApi, ChainlitSession, HttpError, messages_of
from tests.support.recording_proxy import RecordingProxy


async def test_history_is_listed_and_resumed_with_the_whole_conversation(
    chainlit_app: AppFactory,
    proxy: RecordingProxy,
    history_database: dict[str, str],
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    url = signed_in_app(
        chainlit_app, proxy, tmp_path, "alice",
        APP_DATA_DIR=str(data_dir), SYSTEM_PROMPT="Be brief.", **history_database,
    )  # fmt: skip
    # First start: the schema was created, and the cookie secret generated into the data dir.
    assert (data_dir / "chat.db").is_file() == ("DATABASE_URL" not in history_database)
    secret_file = data_dir / "auth-secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600

    api = ChainlitApi(url)
    token = await api.sign_in("alice", PASSWORD)
    claims = jwt.decode(token, secret_file.read_text(), algorithms=["HS256"])
    assert claims["identifier"] == "alice"

    async with ChainlitSession(url, token, chat_profile="Remote") as chat:
        assert await chat.ready() is None
        await chat.change_settings({"temperature": 0.7})
        first = await chat.ask("My name is Ada.")
        second = await chat.ask("I live in Paris.")
    answers = [first.answer()["output"], second.answer()["output"]]

    # A reload: the sidebar lists the chat, with its messages, tag and settings.
    [thread] = await api.threads()
    assert thread["name"] == "My name is Ada."
    assert thread["tags"] == ["Remote"]  # the chat profile's tag, on SQLite too
    assert thread["metadata"]["chat_settings"]["temperature"] == 0.7
    assert messages_of(thread) == [
        ("user_message", "My name is Ada."),
        ("assistant_message", answers[0]),
        ("user_message", "I live in Paris."),
        ("assistant_message", answers[1]),
    ]

    async with ChainlitSession(url, token, thread_id=thread["id"]) as chat:
        resumed = await chat.wait_for("resume_thread")
        assert resumed["id"] == thread["id"]
        assert messages_of(resumed) == messages_of(thread)
        # Each answer's speed line comes back with it.
        speed_lines = {
            element["forId"]: element["props"]["summary"]
            for element in resumed["elements"]
            if element["name"] == "AnswerStats"
        }
        assert speed_lines == {
            step["id"]: step["metadata"]["stats"]
            for step in resumed["steps"]
            if step["type"] == "assistant_message"
        }
        assert len(speed_lines) == 2
        third = await chat.ask("Where do I live?")

    assert proxy.chat_requests()[-1].body["messages"] == [  # type: ignore[index]
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": answers[0]},
        {"role": "user", "content": "I live in Paris."},
        {"role": "assistant", "content": answers[1]},
        {"role": "user", "content": "Where do I live?"},
    ]
    # The resumed chat answers with its saved settings.
    assert proxy.chat_requests()[-1].body["temperature"] == 0.7  # type: ignore[index]
    saved = await api.thread(thread["id"])
    assert messages_of(saved)[-2:] == [
        ("user_message", "Where do I live?"),
        ("assistant_message", third.answer()["output"]),
    ]
    # The resumed session got the thread's settings back: saving its state again (with the
    # third message, and on disconnect) kept them instead of writing empty ones.
    assert saved["metadata"]["chat_settings"]["temperature"] == 0.7
    assert len(await api.threads()) == 1  # resumed, not a new chat


async def test_a_user_cannot_list_open_or_resume_another_users_thread(
    chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path
) -> None:
    url = signed_in_app(chainlit_app, proxy, tmp_path, "alice", "bob")
    alice, bob = ChainlitApi(url), ChainlitApi(url)
    await alice.sign_in("alice", PASSWORD)
    await bob.sign_in("bob", PASSWORD)
    async with ChainlitSession(url, alice.token) as chat:
        await chat.ready()
        await chat.ask("Alice's locker code is 4711.")
    [thread] = await alice.threads()

    assert await bob.threads() == []
    with pytest.raises(HttpError) as opened:
        await bob.thread(thread["id"])
    assert opened.value.status in {401, 403, 404}
    with pytest.raises(HttpError) as deleted:
        await bob.request("DELETE", "/project/thread", json={"threadId": thread["id"]})
    assert deleted.value.status in {401, 403, 404}
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with ChainlitSession(url, bob.token, thread_id=thread["id"]):
            pass
    with pytest.raises(HttpError) as anonymous:
        await ChainlitApi(url).threads()
    assert anonymous.value.status == 401

    still = await alice.thread(thread["id"])
    assert ("user_message", "Alice's locker code is 4711.") in messages_of(still)


async def test_bad_credentials_and_expired_or_forged_sessions_are_refused(
    chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    url = signed_in_app(chainlit_app, proxy, tmp_path, "alice", APP_DATA_DIR=str(data_dir))
    api = ChainlitApi(url)
    for name, password in [("alice", "wrong password"), ("mallory", PASSWORD), ("alice", "")]:
        with pytest.raises(HttpError) as refused:
            await api.sign_in(name, password)
        assert refused.value.status in {401, 422}, (name, password)
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with ChainlitSession(url):  # no session cookie at all
            pass

    token = await api.sign_in("alice", PASSWORD)
    assert (await api.user())["identifier"] == "alice"
    secret = (data_dir / "auth-secret").read_text()
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    expired = jwt.encode({**claims, "exp": past}, secret, algorithm="HS256")
    forged = jwt.encode(
        {**claims, "identifier": "bob"},
        "not the secret the app signs its sessions with",
        algorithm="HS256",
    )
    for bad_token in (expired, forged):
        with pytest.raises(HttpError) as refused:
            await ChainlitApi(url, bad_token).user()
        assert refused.value.status == 401
        with pytest.raises(HttpError) as refused:
            await ChainlitApi(url, bad_token).threads()
        assert refused.value.status == 401
        with pytest.raises(socketio.exceptions.ConnectionError):
            async with ChainlitSession(url, bad_token):
                pass


async def test_header_sign_in_behind_a_trusted_proxy(
    chainlit_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = chainlit_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, AUTH_HEADER="X-Forwarded-User")
    with pytest.raises(HttpError) as refused:
        await ChainlitApi(url).sign_in_with_header("X-Other", "carol")
    assert refused.value.status == 401
    api = ChainlitApi(url)
    token = await api.sign_in_with_header("X-Forwarded-User", "carol")
    async with ChainlitSession(url, token) as chat:
        await chat.ready()
        await chat.ask("Hello from behind the proxy.")
    [thread] = await api.threads()
    assert thread["userIdentifier"] == "carol"


async def test_without_sign_in_the_app_runs_with_history_off_and_says_so(
    chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    url = chainlit_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, APP_DATA_DIR=str(data_dir))
    async with ChainlitSession(url) as chat:
        assert await chat.ready() is None
        welcome = await chat.welcome()
        reply = await chat.ask("Hello?")
    assert all("History is off" in text and "users add NAME" in text for text in welcome.values())
    assert reply.answer()["output"]
    with pytest.raises(HttpError) as no_history:
        await ChainlitApi(url).threads()
    assert no_history.value.status == 400  # "Data persistence is not enabled"
    assert not (data_dir / "chat.db").exists()


async def test_a_chat_open_on_a_deleted_thread_is_not_answered_or_saved(
    chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path
) -> None:
    """The page may keep a deleted chat open (another tab, or an old page): the server refuses
    to answer or save anything in it, so the thread does not come back as an orphan."""
    url = signed_in_app(chainlit_app, proxy, tmp_path, "alice")
    api = ChainlitApi(url)
    token = await api.sign_in("alice", PASSWORD)
    async with ChainlitSession(url, token) as chat:
        assert await chat.ready() is None
        await chat.ask("What is the capital of France?")
        [thread] = await api.threads()
        await api.request("DELETE", "/project/thread", json={"threadId": thread["id"]})
        asked = len(proxy.chat_requests())
        reply = await chat.ask("And of Spain?")
    [said] = [m["output"] for m in reply.final_messages if m["type"] == "assistant_message"]
    assert said.startswith("🗑️ **This chat was deleted**")
    assert len(proxy.chat_requests()) == asked  # the model was not asked
    assert await api.threads() == []  # and nothing came back
    with pytest.raises(HttpError):
        await api.thread(thread["id"])
