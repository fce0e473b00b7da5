"""What the edit and the `< 1/2 >` switch of a question accept, through a real `chainlit run`
(socket.io and /project/action, as the browser sends them) with sign-in on: only a question can
be edited, a switch that names no question or version of this chat gets a notice in the chat
and changes nothing, and nothing is edited or switched while the chat's answer is being
written. Any payload of the switch gets one notice, never Python's exception text (a payload
that is no object Chainlit's action route refuses itself, with a 500, as for every action)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_local_chat.ui.answer_versions import MOST_VERSIONS, REGENERATE
from foundry_local_chat.ui.answer_versions import VERSIONS_KEY as ANSWER_VERSIONS
from foundry_local_chat.ui.question_versions import SHOW_QUESTION_VERSION, switch_request
from foundry_local_chat.ui.question_versions import VERSIONS_KEY as QUESTION_VERSIONS
from foundry_local_chat.ui.texts import words_for
from tests.support.apps import PASSWORD, AppFactory, shared_proxy
from tests.support.chainlit_client import ChainlitApi, ChainlitSession, Reply, messages_of
from tests.support.processes import add_user
from tests.support.recording_proxy import RecordingProxy

proxy = pytest.fixture(shared_proxy)
SAID = words_for("en-US")


@pytest.fixture(scope="module")
async def signed_in(
    module_app: AppFactory, module_proxy: RecordingProxy, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str]]:
    users = tmp_path_factory.mktemp("versions-users") / "users"
    add_user(users, "alice", PASSWORD)
    url = module_app(FOUNDRY_LOCAL="0", BASE_URL=module_proxy.url, USERS_FILE=str(users),
                     LOOP_GUARD="0", MAX_TOKENS="16", TEMPERATURE="0")  # fmt: skip
    yield url, await ChainlitApi(url).sign_in("alice", PASSWORD)


def said(reply: Reply) -> list[str]:
    return [message["output"] for message in reply.of("new_message")]


async def thread_of(chat: ChainlitSession) -> str:
    return str((await chat.wait_for_seen("first_interaction"))["thread_id"])


async def switch(chat: ChainlitSession, payload: object) -> Reply:
    await chat.action(SHOW_QUESTION_VERSION, payload)
    return await chat.collect_reply(timeout=30)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["question", "index", "x"]), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


@given(payload=json_values)
def test_a_switch_request_is_a_question_id_and_an_index_or_nothing(payload: object) -> None:
    request = switch_request(payload)
    if request is not None:
        assert isinstance(payload, dict)
        assert request == (payload["question"], payload["index"])
        assert isinstance(request[0], str) and type(request[1]) is int


async def test_only_a_question_can_be_edited(
    signed_in: tuple[str, str], proxy: RecordingProxy
) -> None:
    url, token = signed_in
    async with ChainlitSession(url, token) as chat:
        await chat.ready()
        answer = (await chat.ask("Name a colour.")).answer()
        await chat.edit(answer["id"], "I wrote this answer myself.")
        assert said(await chat.collect_reply(timeout=10)) == [SAID.malformed_payload]
        saved = messages_of(await ChainlitApi(url, token).thread(await thread_of(chat)))
    assert saved == [("user_message", "Name a colour."), ("assistant_message", answer["output"])]


async def test_a_switch_to_no_version_of_this_chat_changes_nothing(
    signed_in: tuple[str, str], proxy: RecordingProxy
) -> None:
    url, token = signed_in
    async with ChainlitSession(url, token) as chat:
        await chat.ready()
        question = await chat.send("Name a colour.")
        first = (await chat.collect_reply()).answer()["output"]
        await chat.edit(question, "Name a fruit.")
        second = (await chat.collect_reply()).answer()["output"]
        for payload in [{"question": question, "index": 2}, {"question": question, "index": -1},
                        {"question": "not-a-question", "index": 0}]:  # fmt: skip
            assert said(await switch(chat, payload)) == [SAID.question_not_here]
        for payload in [{}, {"question": question, "index": True}, {"question": 1, "index": 0}]:
            assert said(await switch(chat, payload)) == [SAID.malformed_payload]
        saved = messages_of(await ChainlitApi(url, token).thread(await thread_of(chat)))
        assert saved[:2] == [("user_message", "Name a fruit."), ("assistant_message", second)]
        notices = [SAID.question_not_here] * 3 + [SAID.malformed_payload] * 3
        assert saved[2:] == [("assistant_message", notice) for notice in notices]

        shown = await switch(chat, {"question": question, "index": 0})  # a real one works
        assert [m["output"] for m in shown.of("new_message")] == [first]
        saved = messages_of(await ChainlitApi(url, token).thread(await thread_of(chat)))
        assert saved == [("user_message", "Name a colour."), ("assistant_message", first)]


async def test_nothing_is_edited_or_switched_while_the_answer_is_written(
    signed_in: tuple[str, str], proxy: RecordingProxy
) -> None:
    url, token = signed_in
    async with ChainlitSession(url, token) as chat:
        await chat.ready()
        question = await chat.send("Name a colour.")
        await chat.collect_reply()
        await chat.edit(question, "Name a fruit.")
        await chat.collect_reply()
        proxy.hold_after_events = 2
        await chat.send("Name a vegetable.")
        await proxy.held.wait()
        await chat.edit(question, "Name a tree.")  # another tab could; the page does not offer it
        await chat.wait_for("new_message", lambda m: m["output"] == SAID.versions_wait)
        await chat.action(SHOW_QUESTION_VERSION, {"question": question, "index": 0})
        await chat.wait_for("new_message", lambda m: m["output"] == SAID.versions_wait)
        proxy.release.set()
        await chat.wait_for("new_message", lambda m: "reply_model" in (m.get("metadata") or {}))
        await chat.wait_for("task_end", timeout=60)  # the answer's: it is saved
        saved = messages_of(await ChainlitApi(url, token).thread(await thread_of(chat)))
    assert [text for kind, text in saved if kind == "user_message"] == [
        "Name a fruit.",
        "Name a vegetable.",
    ]


async def test_an_answer_and_a_question_keep_at_most_twenty_versions(
    signed_in: tuple[str, str], proxy: RecordingProxy
) -> None:
    """A careless user's 21st "answer again" or 21st edit gets a notice; nothing is asked of
    the model, nothing kept is dropped, and the question keeps its text."""
    url, token = signed_in
    async with ChainlitSession(url, token) as chat:
        await chat.ready()
        question = await chat.send("Name a colour.")
        answer = (await chat.collect_reply()).answer()["id"]
        for _ in range(MOST_VERSIONS - 1):
            await chat.action(REGENERATE, {}, for_id=answer)
            answer = (await chat.collect_reply()).answer()["id"]
        asked = len(proxy.chat_requests())
        await chat.action(REGENERATE, {}, for_id=answer)
        full = SAID.answer_versions_full.format(most=MOST_VERSIONS)
        await chat.wait_for("new_message", lambda m: m["output"] == full)

        for number in range(MOST_VERSIONS - 1):
            await chat.edit(question, f"Name colour number {number + 2}.")
            await chat.collect_reply()
        await chat.edit(question, "Name a fruit.")
        put_back = await chat.wait_for("update_message", lambda m: m["id"] == question)
        assert put_back["output"] == f"Name colour number {MOST_VERSIONS}."
        full = SAID.question_versions_full.format(most=MOST_VERSIONS)
        await chat.wait_for("new_message", lambda m: m["output"] == full)
        assert len(proxy.chat_requests()) == asked + MOST_VERSIONS - 1  # the edits' answers
        steps = (await ChainlitApi(url, token).thread(await thread_of(chat)))["steps"]
    [saved_question] = [s for s in steps if s["id"] == question]
    assert saved_question["output"] == f"Name colour number {MOST_VERSIONS}."
    assert len(saved_question["metadata"][QUESTION_VERSIONS]) == MOST_VERSIONS
    first_answers = saved_question["metadata"][QUESTION_VERSIONS][0]["turns"]
    [regenerated] = [t["step"] for t in first_answers if ANSWER_VERSIONS in t["step"]["metadata"]]
    assert len(regenerated["metadata"][ANSWER_VERSIONS]) == MOST_VERSIONS


@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(payload=st.dictionaries(st.sampled_from(["question", "index", "x"]), json_values))
async def test_any_switch_payload_gets_one_notice(
    signed_in: tuple[str, str], proxy: RecordingProxy, payload: Any
) -> None:
    url, token = signed_in
    async with ChainlitSession(url, token) as chat:
        await chat.ready()
        notices = said(await switch(chat, payload))
    assert notices in ([SAID.malformed_payload], [SAID.question_not_here])


def elements_for(reply: Reply, message_id: str, name: str) -> list[dict[str, Any]]:
    elements = reply.of("element")
    return [e["props"] for e in elements if e["forId"] == message_id and e["name"] == name]


async def test_a_version_comes_back_with_its_answers_versions_and_its_questions_versions(
    signed_in: tuple[str, str], proxy: RecordingProxy
) -> None:
    """In a resumed chat (its elements come from the history): the earlier version of the first
    question brings back an answer given twice, with its < 2/2 >, and a later question that was
    edited, with its own < 2/2 >, which switches in turn."""
    url, token = signed_in
    async with ChainlitSession(url, token) as chat:
        await chat.ready()
        first = await chat.send("Name a colour.")
        colour = (await chat.collect_reply()).answer()["id"]
        await chat.action("regenerate", {}, for_id=colour)
        given_again = (await chat.collect_reply()).answer()
        colour, again = given_again["id"], given_again["output"]
        second = await chat.send("Name a fruit.")
        fruit = (await chat.collect_reply()).answer()["output"]
        await chat.edit(second, "Name a tree.")
        tree = (await chat.collect_reply()).answer()["output"]
        await chat.edit(first, "Name a city.")
        await chat.collect_reply()
        thread = await thread_of(chat)

    async with ChainlitSession(url, token, thread_id=thread) as chat:
        await chat.ready()
        back = await switch(chat, {"question": first, "index": 0})
        assert [m["output"] for m in back.of("new_message")] == [again, "Name a tree.", tree]
        assert elements_for(back, colour, "AnswerStats")[-1]["versions"] == 2
        switcher = elements_for(back, second, "QuestionVersions")[-1]
        assert (switcher["versions"], switcher["shown"]) == (2, 1)

        back = await switch(chat, {"question": second, "index": 0})
        assert [m["output"] for m in back.of("new_message")] == [fruit]
        saved = messages_of(await ChainlitApi(url, token).thread(thread))
    assert [text for kind, text in saved if kind == "user_message"] == [
        "Name a colour.",
        "Name a fruit.",
    ]
