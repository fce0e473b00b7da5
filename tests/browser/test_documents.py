"""Documents in a real browser: a file attached with the composer's upload input, the chat's line
that it is ready, and an answer whose sources line opens the passage the model was given in the
side panel. The app talks to the session's real endpoint (the bundled model)."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from foundry_local_chat.ui.texts import ENGLISH, KOREAN, WORDS
from tests.support.browser import (
    ANSWER_STATS,
    ASSISTANT_MESSAGE,
    COMPOSER,
    STOP_BUTTON,
    attach,
    open_chat,
    save_screenshot,
    send_prompt,
    wait_for_answer,
)
from tests.support.processes import Endpoint

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
RECIPE = "Grandmother's plum cake needs exactly seventeen plums."


@pytest.fixture(scope="module")
def app_settings(endpoint: Endpoint) -> dict[str, str]:
    return {"FOUNDRY_LOCAL": "0", "BASE_URL": endpoint.url, "API_KEY": endpoint.api_key,
            "MAX_TOKENS": "32", "LOOP_GUARD": "0"}  # fmt: skip


async def test_an_attached_file_is_read_and_the_answer_opens_its_source(page: Page) -> None:
    welcome = await open_chat(page)
    assert "Documents: attach up to 5 files" in welcome and ".pdf" in welcome
    notes = f"# Recipes\n\n{RECIPE}\n\n# Garden\n\nThe roses bloom in June.\n"
    await attach(
        page, [{"name": "recipes.md", "mimeType": "text/markdown", "buffer": notes.encode()}]
    )
    await expect(page.get_by_text("recipes.md").first).to_be_visible()
    await send_prompt(page, "How many plums does the cake need?")
    ready = WORDS[ENGLISH].document_ready.format(file="recipes.md", passages=2, pages="")
    await expect(page.get_by_text(ready.replace("**", ""))).to_be_visible(timeout=60_000)
    await wait_for_answer(page)

    sources = page.get_by_test_id("sources")
    await expect(sources).to_contain_text("📄 Sources:")
    await sources.get_by_role("button", name="recipes.md").click()
    await expect(page.get_by_test_id("source-text")).to_contain_text("seventeen plums")


GARDEN = "The roses bloom in June and the tulips in April."


async def test_the_source_panel_opens_on_a_click_with_that_source_alone(page: Page) -> None:
    await open_chat(page)
    await attach(
        page,
        [
            {"name": "recipes.md", "mimeType": "text/markdown", "buffer": RECIPE.encode()},
            {"name": "garden.md", "mimeType": "text/markdown", "buffer": GARDEN.encode()},
        ],
    )
    await expect(page.get_by_text("garden.md").first).to_be_visible()
    await send_prompt(page, "How many plums does the cake need?")
    first = page.get_by_test_id("sources")
    await expect(first.get_by_role("button")).to_have_text(
        ["recipes.md", "garden.md"], timeout=60_000
    )
    await expect(page.locator(STOP_BUTTON)).to_be_hidden()
    ready = page.locator(ASSISTANT_MESSAGE).filter(has_text="garden.md is ready: 1 passage.")
    await expect(ready).to_have_count(1)  # not "1 passages"
    panel, shown = page.get_by_test_id("source-panel"), page.get_by_test_id("source-text")
    side_view = page.locator("#side-view-title")  # Chainlit's own side panel
    await expect(panel).to_have_count(0)  # nothing opened by itself
    await expect(side_view).to_have_count(0)

    await first.get_by_role("button", name="garden.md").click()
    await expect(page.get_by_test_id("source-title")).to_have_text("garden.md")
    await expect(shown).to_have_count(1)
    await expect(shown).to_have_text(GARDEN)  # that source, alone
    await page.keyboard.press("Escape")
    await expect(panel).to_have_count(0)

    await send_prompt(page, "When do the roses bloom?")
    await expect(page.get_by_test_id("sources")).to_have_count(2, timeout=60_000)
    await expect(page.locator(STOP_BUTTON)).to_be_hidden()
    await expect(panel).to_have_count(0)  # the new answer left it alone
    await expect(side_view).to_have_count(0)
    second = page.get_by_test_id("sources").last
    await second.get_by_role("button", name="recipes.md").click()
    await expect(shown).to_have_count(1)
    await expect(shown).to_have_text(RECIPE)


@pytest.mark.parametrize("locale", ["ko-KR"])
async def test_a_file_the_app_cannot_read_gets_a_korean_line(page: Page) -> None:
    await open_chat(page)
    await attach(
        page, [{"name": "photo.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n"}]
    )
    await expect(page.get_by_alt_text("photo.png").first).to_be_visible()  # its thumbnail
    await send_prompt(page, "이 사진을 설명해 주세요.")
    # "⚠️ **photo.png**: 읽지 않았습니다. 지원하지 않는 파일 형식입니다. …"
    why = WORDS[KOREAN].document_unsupported.split(": ")[1].split(".")[0]
    notice = page.locator(ASSISTANT_MESSAGE).filter(has_text=why)
    await expect(notice).to_contain_text("photo.png")


async def test_when_no_attached_file_can_be_read_the_question_is_not_answered(page: Page) -> None:
    await open_chat(page)
    await attach(
        page,
        [
            {"name": "setup.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00" * 64},
            {"name": "report.docx", "mimeType": DOCX, "buffer": b"PK\x03\x04" + b"\x00" * 60},
        ],
    )
    await expect(page.get_by_text("report.docx").first).to_be_visible()
    await send_prompt(page, "What does the setup guide say?")
    why = WORDS[ENGLISH].no_file_read.split("**")[1]  # "No attached file could be read"
    refused = page.locator(ASSISTANT_MESSAGE).filter(has_text=why)
    await expect(refused).to_have_count(1, timeout=60_000)
    await expect(page.locator(STOP_BUTTON)).to_be_hidden()
    notices = page.locator(ASSISTANT_MESSAGE)
    await expect(notices.filter(has_text="setup.pdf")).to_have_count(1)
    await expect(notices.filter(has_text="report.docx")).to_have_count(1)
    await expect(page.locator(ANSWER_STATS)).to_have_count(0)  # the model was not asked

    # Only a file, with no text: its line says so, and no message is left empty.
    await attach(page, [{"name": "blank.txt", "mimeType": "text/plain", "buffer": b"  \n\n "}])
    await expect(page.get_by_text("blank.txt").first).to_be_visible()
    await page.locator(COMPOSER).press("Enter")
    empty = notices.filter(has_text="blank.txt")
    await expect(empty).to_contain_text("it has no text", timeout=60_000)
    await expect(page.locator(STOP_BUTTON)).to_be_hidden()
    await save_screenshot(page, "documents-unread")
    await page.wait_for_function(EMPTY_BUBBLES_SHOWN, timeout=5_000)


EMPTY_BUBBLES_SHOWN = """() => [...document.querySelectorAll(
  '[data-step-type="user_message"] .bg-accent.rounded-3xl')].every(
  bubble => bubble.offsetParent === null || bubble.innerText.trim() !== "")"""
