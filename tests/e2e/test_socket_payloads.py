"""Malformed socket.io events through a real `chainlit run` with sign-in on: each gets one short
notice in the chat's language at once (empty ones too), never Python's exception text, and the
chat answers normally afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import socketio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_local_chat.ui.texts import words_for
from tests.support.apps import PASSWORD, AppFactory, shared_proxy
from tests.support.chainlit_client import ChainlitApi, ChainlitSession, Reply
from tests.support.processes import add_user
from tests.support.recording_proxy import RecordingProxy
from tests.support.socket_events import payloads

proxy = pytest.fixture(shared_proxy)
ENGLISH, KOREAN = words_for("en-US").malformed_payload, words_for("ko-KR").malformed_payload
PYTHON_WORDS = ("string indices", "Traceback", "KeyError", "TypeError", "object has no")


def step(**changes: Any) -> dict[str, Any]:
    good = {
        "id": str(uuid.uuid4()), "threadId": "", "name": "User", "type": "user_message",
        "output": "Hello", "createdAt": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    return {key: value for key, value in {**good, **changes}.items() if value is not ...}


MALFORMED: list[tuple[str, tuple[Any, ...]]] = [
    ("client_message", ()),  # no payload at all
    ("client_message", (None,)),
    ("client_message", ("hello",)),
    ("client_message", ({},)),
    ("client_message", ({"message": "hello"},)),
    ("client_message", ({"message": step(id=...)},)),
    ("client_message", ({"message": step(id="not-a-uuid")},)),
    ("client_message", ({"message": step(output=42)},)),
    ("client_message", ({"message": step(createdAt=...)},)),
    ("client_message", ({"message": step(type="assistant_message")},)),
    ("client_message", ({"message": step(metadata="x")},)),
    ("client_message", ({"message": step(), "fileReferences": "x"},)),
    ("client_message", ({"message": step(), "fileReferences": [{"name": "a"}]},)),
    ("client_message", ({"message": step()}, "extra")),
    ("edit_message", ()),
    ("edit_message", ("x",)),
    ("edit_message", ({"message": step()},)),  # no such message in this chat
    ("message_favorite", ([],)),
    ("chat_settings_change", ()),
    ("chat_settings_change", (["temperature", 1],)),
    ("audio_chunk", ({"data": 1},)),
    ("window_message", ()),
]


@pytest.fixture(scope="module")
async def signed_in(
    module_app: AppFactory, module_proxy: RecordingProxy, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str]]:
    users = tmp_path_factory.mktemp("socket-users") / "users"
    add_user(users, "alice", PASSWORD)
    url = module_app(FOUNDRY_LOCAL="0", BASE_URL=module_proxy.url, USERS_FILE=str(users),
                     LOOP_GUARD="0", MAX_TOKENS="16")  # fmt: skip
    yield url, await ChainlitApi(url).sign_in("alice", PASSWORD)


async def emit(chat: ChainlitSession, event: str, args: tuple[Any, ...]) -> Reply:
    await chat.client.emit(event, args if args else None)
    return await chat.collect_reply(timeout=10)  # at once, not after Chainlit's 15 s


def said(reply: Reply) -> list[str]:
    return [message["output"] for message in reply.of("new_message")]


# Ids by position: the payloads hold fresh uuids, and xdist's workers must collect the same ids.
@pytest.mark.parametrize(
    ("event", "args"), MALFORMED, ids=[f"{event}-{i}" for i, (event, _) in enumerate(MALFORMED)]
)
async def test_a_malformed_event_gets_a_short_notice_and_the_chat_goes_on(
    signed_in: tuple[str, str], proxy: RecordingProxy, event: str, args: tuple[Any, ...]
) -> None:
    url, token = signed_in
    async with ChainlitSession(url, token) as chat:
        await chat.ready()
        assert said(await emit(chat, event, args)) == [ENGLISH]
        assert (await chat.ask("What is the capital of France?")).answer()["output"]
    assert not any(word in ENGLISH for word in PYTHON_WORDS)


async def test_the_notice_is_in_the_chats_language(
    signed_in: tuple[str, str], proxy: RecordingProxy
) -> None:
    url, token = signed_in
    async with ChainlitSession(url, token, language="ko-KR,ko;q=0.9") as chat:
        await chat.ready()
        assert said(await emit(chat, "client_message", ("hello",))) == [KOREAN]
        assert said(await emit(chat, "client_message", ())) == [KOREAN]


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(event=st.sampled_from(["client_message", "edit_message"]), args=payloads)
async def test_any_payload_of_a_message_event_gets_the_notice(
    signed_in: tuple[str, str], proxy: RecordingProxy, event: str, args: tuple[Any, ...]
) -> None:
    url, token = signed_in
    async with ChainlitSession(url, token) as chat:
        await chat.ready()
        assert said(await emit(chat, event, args)) == [ENGLISH]


@pytest.mark.parametrize(
    "auth",
    [None, "x", {}, {"sessionId": 5, "clientType": "webapp"},
     {"sessionId": "s", "clientType": "webapp", "userEnv": "{not json"},
     {"sessionId": "s", "clientType": "webapp", "threadId": ["x"]}],
)  # fmt: skip
async def test_a_malformed_handshake_is_refused_with_its_reason(
    signed_in: tuple[str, str], auth: object
) -> None:
    url, token = signed_in
    client = socketio.AsyncClient(reconnection=False)
    reasons: list[object] = []
    client.on("connect_error", reasons.append, namespace="/")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            url, socketio_path="/ws/socket.io", auth=auth, transports=["websocket"],
            headers={"Cookie": f"access_token={token}"}, wait_timeout=10,
        )  # fmt: skip
    await client.disconnect()
    assert "malformed handshake" in str(reasons)
