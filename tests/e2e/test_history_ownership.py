"""Another signed-in user, given the ids of Alice's thread, message, answer, element and
feedback, can change none of them, through any route or socket event; unknown thread ids are
404s. Through a real `chainlit run`, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_local_chat.ui.texts import words_for
from tests.support.apps import PASSWORD, AppFactory, signed_in_app
from tests.support.chainlit_client import ChainlitApi, ChainlitSession, HttpError, messages_of
from tests.support.recording_proxy import RecordingProxy

NOT_FOUND = 404
words = words_for("en-US")


async def refused(api: ChainlitApi, method: str, path: str, **kwargs: Any) -> int:
    with pytest.raises(HttpError) as error:
        await api.request(method, path, **kwargs)
    return error.value.status


async def send_with_id(chat: ChainlitSession, step_id: str, text: str) -> None:
    step = {
        "id": step_id, "threadId": "", "name": "User", "type": "user_message",
        "output": text, "createdAt": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    await chat.client.emit("client_message", {"message": step, "fileReferences": []})


def feedback_of(thread: dict[str, Any], step_id: str) -> dict[str, Any] | None:
    [step] = [s for s in thread["steps"] if s["id"] == step_id]
    feedback: dict[str, Any] | None = step.get("feedback")
    return feedback


async def test_another_user_can_change_nothing_of_alices_given_the_ids(
    chainlit_app: AppFactory,
    proxy: RecordingProxy,
    history_database: dict[str, str],
    tmp_path: Path,
) -> None:
    url = signed_in_app(chainlit_app, proxy, tmp_path, "alice", "bob", **history_database)
    alice, bob = ChainlitApi(url), ChainlitApi(url)
    await alice.sign_in("alice", PASSWORD)
    await bob.sign_in("bob", PASSWORD)
    async with ChainlitSession(url, alice.token) as chat:
        await chat.ready()
        question_id = await chat.send("Alice's locker code is 4711.")
        answer_id = (await chat.collect_reply()).answer()["id"]
        given = await alice.request(
            "PUT", "/feedback",
            json={"feedback": {"forId": answer_id, "value": 1}, "sessionId": chat.session_id},
        )  # fmt: skip
    [thread] = await alice.threads()
    before = await alice.thread(thread["id"])
    [stats] = [e for e in before["elements"] if e["name"] == "AnswerStats"]
    feedback_id = given["feedbackId"]
    assert feedback_of(before, answer_id) == {
        "forId": answer_id, "id": feedback_id, "value": 1, "comment": None,
    }  # fmt: skip

    async with ChainlitSession(url, bob.token) as chat:
        await chat.ready()
        # A chat message saved with the id of Alice's message: Bob's chat goes on, and says
        # his message was not saved.
        await send_with_id(chat, question_id, "Bob was here.")
        reply = await chat.collect_reply()
        assert reply.answer()["output"]
        await chat.wait_for_seen("new_message", lambda m: m["output"] == words.not_yours)
        # Her answer's element, changed or deleted by id from Bob's own session.
        forged = {**stats, "props": {**stats["props"], "summary": "forged"}}
        element = {"element": forged, "sessionId": chat.session_id}
        assert await refused(bob, "PUT", "/project/element", json=element) == NOT_FOUND
        [own] = [e for e in reply.of("element") if e.get("forId") == reply.answer()["id"]]
        mine = {"element": {**own, "props": {**own["props"], "summary": "mine"}},
                "sessionId": chat.session_id}  # fmt: skip
        assert await bob.request("PUT", "/project/element", json=mine) == {"success": True}
        assert await refused(bob, "DELETE", "/project/element", json=element) == NOT_FOUND
        # Feedback on her answer, given, changed or deleted by id.
        for feedback in (
            {"forId": answer_id, "value": 0},
            {"forId": answer_id, "value": 0, "id": feedback_id},
            {"forId": reply.answer()["id"], "value": 0, "id": feedback_id},
        ):
            body = {"feedback": feedback, "sessionId": chat.session_id}
            assert await refused(bob, "PUT", "/feedback", json=body) == NOT_FOUND, feedback
        body = {"feedbackId": feedback_id}
        assert await refused(bob, "DELETE", "/feedback", json=body) == NOT_FOUND

        # Her thread itself, read, renamed or deleted: as if it did not exist.
        thread_id = thread["id"]
        assert await refused(bob, "GET", f"/project/thread/{thread_id}") == NOT_FOUND
        rename = {"threadId": thread_id, "name": "Bob's now"}
        assert await refused(bob, "PUT", "/project/thread", json=rename) == NOT_FOUND
        delete = {"threadId": thread_id}
        assert await refused(bob, "DELETE", "/project/thread", json=delete) == NOT_FOUND
        element_path = f"/project/thread/{thread_id}/element/{stats['id']}"
        assert await refused(bob, "GET", element_path) == NOT_FOUND

    after = await alice.thread(thread["id"])
    assert after == before
    [bobs] = await bob.threads()
    assert ("user_message", "Bob was here.") not in messages_of(bobs)
    assert reply.answer()["id"] in [step["id"] for step in bobs["steps"]]
    async with ChainlitSession(url, bob.token, language="ko-KR") as chat:  # said in Korean
        await chat.ready()
        await send_with_id(chat, answer_id, "밥이 다녀감.")
        await chat.collect_reply()
        korean = words_for("ko-KR").not_yours
        await chat.wait_for_seen("new_message", lambda m: m["output"] == korean)
    assert await alice.thread(thread["id"]) == before


async def test_unknown_thread_ids_are_404s_not_500s(
    chainlit_app: AppFactory,
    proxy: RecordingProxy,
    history_database: dict[str, str],
    tmp_path: Path,
) -> None:
    url = signed_in_app(chainlit_app, proxy, tmp_path, "alice", **history_database)
    alice = ChainlitApi(url)
    await alice.sign_in("alice", PASSWORD)
    async with ChainlitSession(url, alice.token) as chat:
        await chat.ready()
        await chat.ask("Hello.")
    [thread] = await alice.threads()
    await alice.request("DELETE", "/project/thread", json={"threadId": thread["id"]})
    for thread_id in (str(uuid.uuid4()), thread["id"], "not-a-uuid"):
        assert await refused(alice, "GET", f"/project/thread/{thread_id}") == NOT_FOUND
        rename = {"threadId": thread_id, "name": "x"}
        assert await refused(alice, "PUT", "/project/thread", json=rename) == NOT_FOUND
        delete = {"threadId": thread_id}
        assert await refused(alice, "DELETE", "/project/thread", json=delete) == NOT_FOUND
    assert await alice.threads() == []


@pytest.fixture
async def alice_and_bob(
    chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path
) -> AsyncIterator[tuple[ChainlitApi, ChainlitApi, dict[str, Any], ChainlitSession]]:
    """Alice's answered chat (SQLite), and Bob signed in with a chat of his own open."""
    url = signed_in_app(chainlit_app, proxy, tmp_path, "alice", "bob")
    alice, bob = ChainlitApi(url), ChainlitApi(url)
    await alice.sign_in("alice", PASSWORD)
    await bob.sign_in("bob", PASSWORD)
    async with ChainlitSession(url, alice.token) as chat:
        await chat.ready()
        await chat.ask("Alice's locker code is 4711.")
    [thread] = await alice.threads()
    async with ChainlitSession(url, bob.token) as bobs_chat:
        await bobs_chat.ready()
        yield alice, bob, await alice.thread(thread["id"]), bobs_chat


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
async def test_any_element_request_is_answered_without_a_500_and_changes_nothing_of_alices(
    alice_and_bob: tuple[ChainlitApi, ChainlitApi, dict[str, Any], ChainlitSession],
    data: st.DataObject,
) -> None:
    alice, bob, before, chat = alice_and_bob
    [stats] = [e for e in before["elements"] if e["name"] == "AnswerStats"]
    keys = st.sampled_from(["id", "type", "name", "display", "threadId", "forId", "props"])
    ids = st.sampled_from([stats["id"], before["id"], stats["forId"], str(uuid.uuid4())])
    element = data.draw(
        st.fixed_dictionaries({}, optional={key: ids | json_values for key in
                                            ("id", "threadId", "forId")})
        .map(lambda changes: {**stats, **changes})
        .flatmap(lambda whole: st.sets(keys).map(
            lambda dropped: {k: v for k, v in whole.items() if k not in dropped}))
        | json_values
    )  # fmt: skip
    session = data.draw(st.sampled_from([chat.session_id, str(uuid.uuid4())]) | json_values)
    method = data.draw(st.sampled_from(["PUT", "DELETE"]))
    body = data.draw(st.sampled_from([{"element": element, "sessionId": session}, element]))
    try:
        await bob.request(method, "/project/element", json=body)
    except HttpError as error:
        assert error.status in {404, 413, 422}, (error.status, body)
    assert await alice.thread(before["id"]) == before
