"""The Korean UI, screen by screen, in a real browser with locale ko-KR: sign-in, welcome, settings,
readme, an answer, documents and a source, the sidebar's menu and dialogs, the new-chat dialog,
the user menu and the /browser page. On none of them is there English, other than the model's
own words, what the user typed, names (of the app's parts, models, files, settings) and a quoted
error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.conftest import PASSWORD, AppFactory, signed_in_app
from tests.support.browser import (
    ANSWER_STATS,
    NEW_CHAT_BUTTON,
    README_BUTTON,
    SEND_BUTTON,
    SETTINGS_BUTTON,
    STOP_BUTTON,
    USER_MESSAGE,
    send_prompt,
)
from tests.support.recording_proxy import RecordingProxy

UPLOAD_INPUT = "#upload-button-input"

# Every visible text and the labels a screen reader reads, except the model's words (an answer's
# text), the user's (their messages, and the chat titles made from them), code (settings and
# commands, file kinds) and what sits in “quotes” (an error as its program said it).
TEXTS_ON_SCREEN = """() => {
  const skipped = (element) => {
    // the user's messages, chat titles and files, a setting's value; code
    const users = '[data-step-type="user_message"], li[id^="thread-"], [data-testid="source-text"]';
    if (element.closest(`${users}, textarea, input, code, pre`)) return true;
    const step = element.closest('[data-step-type="assistant_message"]');
    return Boolean(step && step.querySelector('[data-testid="answer-stats"]')
      && !element.closest('[data-testid="answer-stats"]'));
  };
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!element || !node.nodeValue.trim() || skipped(element)) continue;
    if (element.closest("script, style, noscript")) continue;
    if (!element.checkVisibility()) continue;
    texts.push(node.nodeValue.trim());
  }
  const labelled = "[aria-label], [title], [placeholder], img[alt]";
  for (const element of document.body.querySelectorAll(labelled)) {
    if (skipped(element) || !element.checkVisibility()) continue;
    for (const name of ["aria-label", "title", "placeholder", "alt"]) {
      const value = element.getAttribute(name);
      if (value && value.trim()) texts.push(value.trim());
    }
  }
  return texts;
}"""
# Names that are the same in any language; a Korean particle may follow one (Foundry Local이).
NAMES = re.compile(
    r"(?<![A-Za-z])(?:"
    r"“[^”]*”"  # a quoted error
    r"|https?://\S+|\d+\.\d+\.\d+\.\d+(:\d+)?\S*"  # addresses
    r"|[\w.-]+:\d+"  # a model id with its version (smollm2-…-cpu:1)
    r"|smollm2[\w.-]*|phi-4-mini|SmolLM2-135M"  # models
    r"|[\w.-]+\.(md|txt|pdf|html|docx|png)"  # file names
    r"|[A-Z][A-Z0-9_]{2,}(=\S*)?"  # settings (BASE_URL, MODEL=…), CPU, OCR, WASM
    r"|(Microsoft )?Foundry Local( Chat)?|OpenAI|Open WebUI|WebGPU|[KM]B|Node\.js|npm|Alt\+\w"
    r")(?![A-Za-z])"
)
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")


def english_in(texts: list[str], users_words: set[str]) -> list[str]:
    return sorted(
        {t for t in texts if t not in users_words and ENGLISH_WORD.search(NAMES.sub(" ", t))}
    )


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
    await expect(page.locator(SETTINGS_BUTTON)).to_be_visible()
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

    await page.locator(UPLOAD_INPUT).set_input_files(
        files=[
            {"name": "notes.md", "mimeType": "text/markdown", "buffer": b"# Cake\n\nPlums."},
            {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 junk"},
        ]
    )
    await expect(page.get_by_text("broken.pdf").first).to_be_visible()
    await expect(page.locator(SEND_BUTTON)).to_be_enabled()  # both uploaded
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
    await walk.look("/browser")

    assert walk.found == {}, json.dumps(walk.found, ensure_ascii=False, indent=1)
