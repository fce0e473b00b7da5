"""The chat in a real browser (Chromium): streaming answers, the Korean UI, the app's own look."""

from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import Page, expect

from foundry_local_chat.ui.texts import ENGLISH_STARTERS_IN_KOREAN, KOREAN, WORDS
from tests.support.browser import (
    COMPOSER,
    README_BUTTON,
    SETTINGS_BUTTON,
    STARTERS,
    WELCOME_SCREEN,
    last_answer_stats,
    open_chat,
    save_screenshot,
    send_prompt,
    translation,
    wait_for_answer,
    wait_for_answer_growth,
)
from tests.support.processes import REPO


@pytest.fixture(scope="module")
def app_settings() -> dict[str, str]:
    return {"TEMPERATURE": "0"}  # greedy decoding: the same answer on every run


async def test_the_answer_streams_into_the_page_and_stays(page: Page) -> None:
    welcome = await open_chat(page)
    assert "Foundry Local · http://127.0.0.1:" in welcome
    assert "smollm2-135m-instruct-generic-cpu:1" in welcome
    await expect(page.locator(STARTERS)).to_be_visible()

    await send_prompt(page, "Explain what a lighthouse does.")
    first, later = await wait_for_answer_growth(page)
    assert 0 < len(first) < len(later)

    answer = await wait_for_answer(page)
    assert "lighthouse" in answer.lower()
    assert len(answer) >= len(later)
    stats = last_answer_stats(page)
    await expect(stats).to_contain_text(
        re.compile(r"^first token \d+ ms · [\d.]+ tok/s · \d+ tokens")
    )
    await expect(stats).to_contain_text("smollm2-135m-instruct-generic-cpu:1")


@pytest.mark.parametrize("locale", ["ko-KR", "ko"])
async def test_a_korean_browser_gets_the_korean_ui_and_welcome(page: Page, locale: str) -> None:
    korean = translation("ko-KR")
    await open_chat(page)

    composer = page.locator(COMPOSER)
    await expect(composer).to_have_attribute("placeholder", korean["chat"]["input"]["placeholder"])
    # The bundled model writes no Korean: the welcome says so, and its starters ask in English.
    await expect(page.locator(STARTERS)).to_contain_text(ENGLISH_STARTERS_IN_KOREAN[0][0])
    await expect(page.locator(WELCOME_SCREEN)).to_contain_text("이 컴퓨터에서 실행됩니다")
    welcome = page.locator(WELCOME_SCREEN)
    await expect(welcome).to_contain_text("이 모델은 한국어를 읽고 쓰지 못합니다")
    readme = page.locator(README_BUTTON)
    await expect(readme).to_have_text(korean["navigation"]["header"]["readme"])
    if locale == "ko-KR":
        await save_screenshot(page, "korean")

    await page.locator(SETTINGS_BUTTON).click()  # the app's own settings panel speaks Korean too
    panel = page.get_by_role("dialog")
    await expect(panel).to_contain_text(WORDS[KOREAN].temperature)
    await expect(panel).to_contain_text(WORDS[KOREAN].system_prompt)
    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()

    await readme.click()
    welcome = page.get_by_role("dialog")
    line = "입력한 내용은 이 컴퓨터 밖으로 나가지 않습니다."
    assert line in (REPO / "chainlit_ko-KR.md").read_text(encoding="utf-8")
    await expect(welcome).to_contain_text(line)


async def test_the_app_wears_its_own_name_logo_favicon_and_theme(page: Page) -> None:
    await open_chat(page)
    await expect(page).to_have_title("Foundry Local Chat")

    public = REPO / "public"
    for path, served_from in [
        ("/favicon", "favicon.png"),
        ("/logo?theme=light", "logo_light.png"),
        ("/logo?theme=dark", "logo_dark.png"),
    ]:
        response = await page.request.get(path)
        assert response.ok, path
        assert await response.body() == (public / served_from).read_bytes(), path

    theme = json.loads((public / "theme.json").read_text(encoding="utf-8"))
    dark_primary = theme["variables"]["dark"]["--primary"]  # dark is the default theme
    primary = await page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--primary').trim()"
    )
    assert primary == dark_primary
