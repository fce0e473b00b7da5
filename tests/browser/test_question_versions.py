"""An edited question keeps its earlier version, in a real browser with history on SQLite and
PostgreSQL: `< 1/2 >` under the question switches between the original question with the turns
that followed it and the edited one with its new answer; the chat goes on from the version
shown, the model is sent that version's turns only, and both versions come back after a
reload."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.support.apps import PASSWORD, AppFactory, signed_in_app
from tests.support.browser import (
    ANSWER_STATS,
    ASSISTANT_MESSAGE,
    MESSAGE_TEXT,
    SEND_BUTTON,
    STOP_BUTTON,
    USER_MESSAGE,
    edit_message,
    new_chat,
    save_screenshot,
    send_prompt,
    sign_in,
    wait_for_answer,
)
from tests.support.recording_proxy import RecordingProxy

PREVIOUS = "Previous version of the question"
NEXT = "Next version of the question"


@pytest.fixture
def app_url(
    chainlit_app: AppFactory,
    proxy: RecordingProxy,
    tmp_path: Path,
    history_database: dict[str, str],
) -> str:
    return signed_in_app(chainlit_app, proxy, tmp_path, "alice", TEMPERATURE="0",
                         **history_database)  # fmt: skip


def sent_turns(proxy: RecordingProxy) -> list[tuple[str, str]]:
    """(role, text) of the conversation the model was last sent, without the system prompt."""
    body = proxy.chat_requests()[-1].body
    assert body is not None
    return [(m["role"], m["content"].strip()) for m in body["messages"] if m["role"] != "system"]


def written(proxy: RecordingProxy) -> str:
    """What the model wrote for the last request."""
    return proxy.chat_requests()[-1].answer.strip()


async def ask(page: Page, proxy: RecordingProxy, question: str) -> str:
    """Ask and wait for the whole answer; returns what the model wrote."""
    await send_prompt(page, question)
    await wait_for_answer(page)
    return written(proxy)


async def expect_chat(page: Page, questions: list[str], answers: int) -> None:
    """The chat shows these questions, and this many answers, each with its speed line."""
    await expect(page.locator(USER_MESSAGE).locator(MESSAGE_TEXT)).to_have_text(questions)
    answered = page.locator(ASSISTANT_MESSAGE).filter(has=page.locator(ANSWER_STATS))
    await expect(answered).to_have_count(answers)


async def switch(page: Page, button: str, shown: str) -> None:
    """Click < or > under the question; returns once the version is shown and the chat takes a
    message again (the switch is a task of the chat, like an answer)."""
    await page.get_by_role("button", name=button).click()
    await expect(page.get_by_test_id("question-version")).to_have_text(shown)
    await expect(page.locator(STOP_BUTTON)).to_be_hidden()
    await expect(page.locator(SEND_BUTTON)).to_be_visible()
    # The question switched stays in view (Chainlit scrolled to the last question shown).
    await expect(page.get_by_test_id("question-versions")).to_be_in_viewport()


async def reopen(page: Page, title: str) -> None:
    """Reload the app and open the chat from the sidebar; returns once it is shown."""
    await new_chat(page)
    await page.locator('li[id^="thread-"]').filter(has_text=title).click()
    await expect(page).to_have_url(re.compile(r"/thread/"))
    # Resuming asks the model server for its models first: on a busy machine that takes a while.
    await expect(page.locator(USER_MESSAGE).first).to_be_visible(timeout=30_000)


async def test_an_edit_keeps_the_earlier_question_with_its_turns(
    page: Page, proxy: RecordingProxy
) -> None:
    await sign_in(page, "alice", PASSWORD)
    colour = await ask(page, proxy, "Name a colour.")
    fruit = await ask(page, proxy, "Name a fruit.")

    await edit_message(page, 0, "What is the capital of France?")
    version = page.get_by_test_id("question-version")
    await expect(version).to_have_text("2/2")
    await wait_for_answer(page)
    paris = written(proxy)
    await expect_chat(page, ["What is the capital of France?"], 1)
    assert sent_turns(proxy) == [("user", "What is the capital of France?")]

    # The earlier version comes back whole, and the chat goes on from it: the model is sent its
    # turns, none of the edited one's.
    await switch(page, PREVIOUS, "1/2")
    await expect_chat(page, ["Name a colour.", "Name a fruit."], 2)
    await expect(page.get_by_role("button", name="Answer again")).to_have_count(1)
    await page.mouse.move(0, 0)
    await save_screenshot(page, "question-versions")  # the README's
    vegetable = await ask(page, proxy, "Name a vegetable.")
    assert sent_turns(proxy) == [
        ("user", "Name a colour."), ("assistant", colour),
        ("user", "Name a fruit."), ("assistant", fruit),
        ("user", "Name a vegetable."),
    ]  # fmt: skip

    # Stored with the thread: after a reload, the version shown, with what it went on to.
    await reopen(page, "Name a colour.")
    await expect(version).to_have_text("1/2")
    await expect_chat(page, ["Name a colour.", "Name a fruit.", "Name a vegetable."], 3)
    answers = page.locator(ASSISTANT_MESSAGE).filter(has=page.locator(ANSWER_STATS))
    await expect(answers.last.locator(MESSAGE_TEXT)).not_to_be_empty()

    await switch(page, NEXT, "2/2")
    await expect_chat(page, ["What is the capital of France?"], 1)
    await ask(page, proxy, "And of Germany?")
    assert sent_turns(proxy) == [
        ("user", "What is the capital of France?"), ("assistant", paris),
        ("user", "And of Germany?"),
    ]  # fmt: skip

    await reopen(page, "Name a colour.")
    await expect(version).to_have_text("2/2")
    await expect_chat(page, ["What is the capital of France?", "And of Germany?"], 2)
    await switch(page, PREVIOUS, "1/2")
    await expect_chat(page, ["Name a colour.", "Name a fruit.", "Name a vegetable."], 3)
    await ask(page, proxy, "Thank you.")
    turns = sent_turns(proxy)
    assert [text for role, text in turns if role == "user"] == [
        "Name a colour.", "Name a fruit.", "Name a vegetable.", "Thank you."
    ]  # fmt: skip
    assert ("assistant", vegetable) in turns
