"""Signed-in history in a real browser: sign in on the login page, chat, come back to the chat
from the sidebar and find it whole, speed lines included."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.conftest import PASSWORD, AppFactory, signed_in_app
from tests.support.browser import (
    ANSWER_STATS,
    ASSISTANT_MESSAGE,
    SETTINGS_BUTTON,
    USER_MESSAGE,
    last_answer,
    last_answer_stats,
    send_prompt,
    wait_for_answer,
)
from tests.support.recording_proxy import RecordingProxy


@pytest.fixture
def app_url(chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path) -> str:
    return signed_in_app(chainlit_app, proxy, tmp_path, "alice", TEMPERATURE="0", MAX_TOKENS="64")


async def test_a_chat_comes_back_whole_from_the_sidebar(page: Page) -> None:
    await page.goto("/")
    await page.locator("#email").fill("alice")
    await page.locator("#password").fill(PASSWORD)
    await page.locator("#password").press("Enter")
    await expect(page.locator(SETTINGS_BUTTON)).to_be_visible()  # signed in, chat ready

    await send_prompt(page, "What is the capital of France?")
    await wait_for_answer(page)
    answer = (await last_answer(page).get_by_role("article").inner_text()).strip()
    speed_line = (await last_answer_stats(page).inner_text()).strip()
    assert "tokens" in speed_line

    await page.goto("/")  # a new chat; the sidebar lists the old one
    await expect(page.locator(SETTINGS_BUTTON)).to_be_visible()
    await expect(page.locator(USER_MESSAGE)).to_have_count(0)
    await page.get_by_text("What is the capital of France?").click()

    await expect(page.locator(USER_MESSAGE)).to_have_text(["What is the capital of France?"])
    resumed = page.locator(ASSISTANT_MESSAGE).filter(has=page.locator(ANSWER_STATS))
    await expect(resumed).to_have_count(1)
    await expect(resumed.get_by_role("article")).to_have_text(answer)
    await expect(resumed.locator(ANSWER_STATS)).to_have_text(speed_line)
