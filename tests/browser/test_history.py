"""Signed-in history in a real browser: sign in on the login page, chat, come back to the chat
from the sidebar and find it whole, speed lines included."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.support.apps import AppFactory, signed_in_app
from tests.support.browser import (
    ANSWER_STATS,
    ASSISTANT_MESSAGE,
    NEW_CHAT_BUTTON,
    STOP_BUTTON,
    USER_MESSAGE,
    chat_ready,
    last_answer,
    last_answer_stats,
    new_chat,
    send_prompt,
    sign_in,
    wait_for_answer,
)
from tests.support.postgres import PostgresServer
from tests.support.recording_proxy import RecordingProxy


@pytest.fixture
async def history_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """TEMPERATURE 0 and history on SQLite; a test may ask for sampled answers (which differ
    when given again), on SQLite ("sqlite-sampled") or PostgreSQL ("postgresql")."""
    database = getattr(request, "param", "sqlite")
    if database == "sqlite":
        return {"TEMPERATURE": "0"}
    if database == "sqlite-sampled":
        return {"TEMPERATURE": "1"}
    server: PostgresServer = request.getfixturevalue("postgres")
    return {"TEMPERATURE": "1", "DATABASE_URL": await server.create_database()}


@pytest.fixture
def app_url(
    chainlit_app: AppFactory,
    proxy: RecordingProxy,
    tmp_path: Path,
    history_settings: dict[str, str],
) -> str:
    return signed_in_app(
        chainlit_app, proxy, tmp_path, "alice", MAX_TOKENS="64", **history_settings
    )


async def test_a_chat_comes_back_whole_from_the_sidebar(page: Page) -> None:
    await sign_in(page)

    await send_prompt(page, "What is the capital of France?")
    await wait_for_answer(page)
    answer = (await last_answer(page).get_by_role("article").inner_text()).strip()
    speed_line = (await last_answer_stats(page).inner_text()).strip()
    assert "tokens" in speed_line

    await new_chat(page)  # a new chat; the sidebar lists the old one
    await expect(page.locator(USER_MESSAGE)).to_have_count(0)
    await page.get_by_text("What is the capital of France?").click()

    await expect(page.locator(USER_MESSAGE)).to_have_text(["What is the capital of France?"])
    resumed = page.locator(ASSISTANT_MESSAGE).filter(has=page.locator(ANSWER_STATS))
    await expect(resumed).to_have_count(1)
    await expect(resumed.get_by_role("article")).to_have_text(answer)
    await expect(resumed.locator(ANSWER_STATS)).to_have_text(speed_line)


def plain(text: str) -> str:
    """Text without Markdown's marks, spaces collapsed: an answer as sent compares with its
    paragraphs as shown (a sampled answer may have *emphasis* or a list)."""
    return " ".join(re.sub(r"[*_`#>~]|^\s*(?:[-+]|\d+\.)\s", " ", text, flags=re.M).split())


async def delete_from_sidebar(page: Page, title: str) -> None:
    """The sidebar's … menu of the chat titled `title` → Delete → Confirm."""
    item = page.locator('li[id^="thread-"]').filter(has_text=title)
    await item.hover()
    await item.locator("#thread-options").click()
    await page.locator("#delete-thread").click()
    await page.get_by_role("alertdialog").get_by_role("button", name="Confirm").click()


async def test_deleting_the_open_chat_moves_to_a_new_one_and_saves_nothing_into_it(
    page: Page, proxy: RecordingProxy
) -> None:
    await sign_in(page)
    await send_prompt(page, "What is the capital of France?")
    await wait_for_answer(page)
    await new_chat(page)  # open it again from the sidebar, as people do
    await page.get_by_text("What is the capital of France?").click()
    await expect(page.locator(USER_MESSAGE)).to_have_count(1)
    await expect(page).to_have_url(re.compile(r"/thread/[0-9a-f-]+$"))
    deleted = page.url.rsplit("/", 1)[1]

    await delete_from_sidebar(page, "What is the capital of France?")
    await expect(page.locator(USER_MESSAGE)).to_have_count(0)  # a new chat
    await expect(page).not_to_have_url(re.compile(deleted))
    await chat_ready(page)
    asked = len(proxy.chat_requests())
    await send_prompt(page, "And of Spain?")
    await wait_for_answer(page)
    assert len(proxy.chat_requests()) == asked + 1
    body = proxy.chat_requests()[-1].body
    assert body is not None
    assert [m["content"] for m in body["messages"] if m["role"] == "user"] == ["And of Spain?"]

    await page.reload()
    await chat_ready(page)
    await expect(page.get_by_text(re.compile("Could not reach the server"))).to_have_count(0)
    sidebar = page.locator('li[id^="thread-"]')
    await expect(sidebar.filter(has_text="And of Spain?")).to_have_count(1)
    await expect(sidebar.filter(has_text="capital of France")).to_have_count(0)


async def test_sign_in_asks_for_a_user_name_and_says_plainly_when_it_is_wrong(page: Page) -> None:
    await page.goto("/")
    await expect(page.get_by_label("Username")).to_be_visible()
    await expect(page.get_by_text(re.compile("Email|example.com"))).to_have_count(0)
    await expect(page.get_by_placeholder("me@example.com")).to_have_count(0)
    await page.get_by_label("Username").fill("alice")
    await page.locator("#password").fill("not the password")
    await page.locator("#password").press("Enter")
    await expect(page.get_by_text("Wrong user name or password.")).to_be_visible()
    await expect(page.get_by_text(re.compile("credentialssignin", re.IGNORECASE))).to_have_count(0)


async def test_rename_confirms_with_enter_and_new_chat_tells_the_truth(page: Page) -> None:
    await sign_in(page)
    await send_prompt(page, "What is the capital of France?")
    await wait_for_answer(page)
    item = page.locator('li[id^="thread-"]').filter(has_text="What is the capital of France?")
    await item.hover()
    await item.locator("#thread-options").click()
    await page.locator("#rename-thread").click()
    await page.locator("#name").fill("Capitals")
    await page.locator("#name").press("Enter")
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await expect(page.locator('li[id^="thread-"]').filter(has_text="Capitals")).to_have_count(1)

    await page.locator(NEW_CHAT_BUTTON).click()
    dialog = page.locator("#new-chat-dialog")
    await expect(dialog).to_contain_text("stays in Past chats")
    await expect(dialog).not_to_contain_text("clear your current chat history")


@pytest.mark.parametrize("history_settings", ["sqlite-sampled", "postgresql"], indirect=True)
async def test_an_answer_given_again_keeps_both_versions_with_the_thread(
    page: Page, proxy: RecordingProxy
) -> None:
    await sign_in(page)
    await send_prompt(page, "Write one sentence about the sea.")
    await wait_for_answer(page)
    answer = page.locator(ASSISTANT_MESSAGE).filter(has=page.locator(ANSWER_STATS))
    paragraphs = answer.get_by_role("article")
    await expect(paragraphs.first).to_be_visible()  # the speed line may land after the stop button
    first = [text.strip() for text in await paragraphs.all_inner_texts()]
    asked = len(proxy.chat_requests())

    await answer.get_by_role("button", name="Answer again").click()
    version = page.get_by_test_id("answer-version")
    await expect(version).to_have_text("2/2", timeout=120_000)
    await expect(page.locator(STOP_BUTTON)).to_be_hidden(timeout=60_000)
    await expect(answer).to_have_count(1)  # one answer, two versions
    assert len(proxy.chat_requests()) == asked + 1
    body = proxy.chat_requests()[-1].body
    assert body is not None  # the same question, without the first answer
    assert [m["content"] for m in body["messages"] if m["role"] != "system"] == [
        "Write one sentence about the sea."
    ]
    second = [text.strip() for text in await paragraphs.all_inner_texts()]
    assert second != first  # sampled at temperature 1

    await page.get_by_role("button", name="Previous version").click()
    await expect(version).to_have_text("1/2")
    await expect(paragraphs).to_have_text(first)

    # Stored with the thread: after a reload, the chat comes back with both, showing the first.
    await new_chat(page)
    await page.get_by_text("Write one sentence about the sea.").click()
    await expect(version).to_have_text("1/2")
    await expect(paragraphs).to_have_text(first)
    await page.get_by_role("button", name="Next version").click()
    await expect(version).to_have_text("2/2")
    await expect(paragraphs).to_have_text(second)
    await expect(answer.get_by_role("button", name="Answer again")).to_be_visible()  # still

    # The next question is sent with the version shown.
    await send_prompt(page, "Thank you.")
    await wait_for_answer(page)
    body = proxy.chat_requests()[-1].body
    assert body is not None
    [kept] = [m["content"] for m in body["messages"] if m["role"] == "assistant"]
    sent = plain(kept)
    assert all(plain(p) in sent for p in second), f"sent {kept!r}; shown {second!r}"
    assert sent != plain(" ".join(first)), "the first version was sent"
