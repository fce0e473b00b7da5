"""The Korean UI, screen by screen, in a real browser with locale ko-KR: sign-in, welcome, settings,
readme, an answer, documents and a source, the sidebar's menu and dialogs, the new-chat dialog,
the user menu and the /browser page. On none of them is there English, other than the model's
own words, what the user typed, names (of the app's parts, models, files, settings) and a quoted
error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.support.apps import PASSWORD, AppFactory, signed_in_app
from tests.support.browser import (
    ANSWER_STATS,
    NEW_CHAT_BUTTON,
    README_BUTTON,
    SETTINGS_BUTTON,
    STOP_BUTTON,
    USER_MESSAGE,
    attach,
    chat_ready,
    send_prompt,
)
from tests.support.korean_screen import TEXTS_ON_SCREEN, english_in
from tests.support.recording_proxy import RecordingProxy


class Walk:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: dict[str, list[str]] = {}

    async def look(self, screen: str) -> None:
        texts: list[str] = await self.page.evaluate(TEXTS_ON_SCREEN)
        assert texts, f"nothing on the screen {screen}"
        if english := english_in(texts, {"alice"}):  # the user's name
            self.found[screen] = english


@pytest.fixture
def locale() -> str:
    return "ko-KR"


@pytest.fixture
def app_url(chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path) -> str:
    return signed_in_app(chainlit_app, proxy, tmp_path, "alice", MAX_TOKENS="48", LOOP_GUARD="1")


async def test_no_screen_of_the_korean_ui_shows_english(page: Page) -> None:
    walk = Walk(page)
    await page.goto("/")
    await expect(page.locator("#password")).to_be_visible()
    await walk.look("sign-in")
    await page.locator("#email").fill("alice")
    await page.locator("#password").fill("wrong")
    await page.locator("#password").press("Enter")
    await expect(page.get_by_text("사용자 이름 또는 비밀번호가 틀렸습니다.")).to_be_visible()
    await walk.look("wrong password")
    await page.locator("#password").fill(PASSWORD)
    await page.locator("#password").press("Enter")
    await chat_ready(page)
    await walk.look("welcome")

    await page.locator(SETTINGS_BUTTON).click()
    await expect(page.get_by_role("dialog")).to_be_visible()
    await walk.look("settings")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await page.locator(README_BUTTON).click()
    await expect(page.get_by_role("dialog")).to_be_visible()
    await walk.look("readme")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_have_count(0)

    await send_prompt(page, "프랑스의 수도는 어디인가요?")
    await expect(page.locator(ANSWER_STATS)).to_have_count(1, timeout=120_000)
    await expect(page.locator(STOP_BUTTON)).to_be_hidden(timeout=60_000)
    await expect(page.get_by_text("한국어를 읽고 쓰지 못합니다").first).to_be_visible()
    await walk.look("an answer to a Korean question")
    await page.get_by_role("button", name="다시 답하기").click()
    await expect(page.get_by_test_id("answer-version")).to_have_text("2/2", timeout=120_000)
    await expect(page.locator(STOP_BUTTON)).to_be_hidden(timeout=60_000)
    await walk.look("an answer given again")

    await attach(
        page,
        [
            {"name": "notes.md", "mimeType": "text/markdown", "buffer": b"# Cake\n\nPlums."},
            {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 junk"},
        ],
    )
    await expect(page.get_by_text("broken.pdf").first).to_be_visible()
    await send_prompt(page, "What does the cake need?")
    await expect(page.get_by_test_id("sources")).to_have_count(1, timeout=120_000)
    await expect(page.locator(STOP_BUTTON)).to_be_hidden(timeout=60_000)
    await walk.look("documents")
    await page.get_by_test_id("source-button").first.click()
    await expect(page.get_by_test_id("source-panel")).to_be_visible()
    await walk.look("a source")
    await page.keyboard.press("Escape")
    await expect(page.get_by_test_id("source-panel")).to_have_count(0)

    first = page.locator(USER_MESSAGE).first
    await first.hover()
    await first.locator(".edit-message").click()
    await expect(page.locator("[data-edit-warning]")).to_be_visible()
    await walk.look("editing an earlier message")
    await first.get_by_role("button", name="취소").click()

    item = page.locator('li[id^="thread-"]').first
    await item.hover()
    await item.locator("#thread-options").click()
    await expect(page.locator("#delete-thread")).to_be_visible()
    await walk.look("a chat's menu in the sidebar")
    await page.locator("#rename-thread").click()
    await expect(page.get_by_role("dialog")).to_be_visible()
    await walk.look("rename")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await item.hover()
    await item.locator("#thread-options").click()
    await page.locator("#delete-thread").click()
    await expect(page.get_by_role("alertdialog")).to_be_visible()
    await walk.look("delete")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("alertdialog")).to_have_count(0)

    await page.locator(NEW_CHAT_BUTTON).click()
    await expect(page.locator("#new-chat-dialog")).to_be_visible()
    await walk.look("new chat")
    await page.keyboard.press("Escape")
    await page.locator("#user-nav-button").click()
    await expect(page.get_by_role("menu")).to_be_visible()
    await walk.look("user menu")
    await page.keyboard.press("Escape")

    await page.goto("/browser")
    await expect(page.locator("h1")).to_contain_text("브라우저")
    await expect(page.locator("#limits p")).not_to_be_empty()  # once the page has its config
    await walk.look("/browser")

    assert walk.found == {}, json.dumps(walk.found, ensure_ascii=False, indent=1)
