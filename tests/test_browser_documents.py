"""Documents in a real browser: a file attached with the composer's upload input, the chat's line
that it is ready, and an answer whose sources line opens the passage the model was given in the
side panel. The app talks to the session's real endpoint (the bundled model)."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from foundry_local_chat.ui_text import ENGLISH, KOREAN, WORDS
from tests.support.browser import (
    ASSISTANT_MESSAGE,
    open_chat,
    save_screenshot,
    send_prompt,
    wait_for_answer,
)
from tests.support.processes import Endpoint

UPLOAD_INPUT = "#upload-button-input"  # behind the composer's paperclip button
RECIPE = "Grandmother's plum cake needs exactly seventeen plums."


@pytest.fixture(scope="module")
def app_settings(endpoint: Endpoint) -> dict[str, str]:
    return {"FOUNDRY_LOCAL": "0", "BASE_URL": endpoint.url, "API_KEY": endpoint.api_key,
            "MAX_TOKENS": "32", "LOOP_GUARD": "0"}  # fmt: skip


async def test_an_attached_file_is_read_and_the_answer_opens_its_source(page: Page) -> None:
    welcome = await open_chat(page)
    assert "Documents: attach up to 5 files" in welcome and ".pdf" in welcome
    notes = f"# Recipes\n\n{RECIPE}\n\n# Garden\n\nThe roses bloom in June.\n"
    await page.locator(UPLOAD_INPUT).set_input_files(
        files=[{"name": "recipes.md", "mimeType": "text/markdown", "buffer": notes.encode()}]
    )
    await expect(page.get_by_text("recipes.md").first).to_be_visible()
    await send_prompt(page, "How many plums does the cake need?")
    ready = WORDS[ENGLISH].document_ready.format(file="recipes.md", passages=2, pages="")
    await expect(page.get_by_text(ready.replace("**", ""))).to_be_visible(timeout=60_000)
    await wait_for_answer(page)

    sources = page.get_by_text("📄 Sources:")
    await expect(sources).to_contain_text("recipes.md (whole)")
    await sources.get_by_text("recipes.md (whole)").click()
    await expect(page.get_by_text("seventeen plums").last).to_be_visible()
    await save_screenshot(page, "document-sources")


@pytest.mark.parametrize("locale", ["ko-KR"])
async def test_a_file_the_app_cannot_read_gets_a_korean_line(page: Page) -> None:
    await open_chat(page)
    await page.locator(UPLOAD_INPUT).set_input_files(
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n"}]
    )
    await expect(page.get_by_alt_text("photo.png").first).to_be_visible()  # its thumbnail
    await send_prompt(page, "이 사진을 설명해 주세요.")
    # "⚠️ **photo.png**은(는) 읽지 않았습니다: 지원하지 않는 파일 형식입니다. …"
    why = WORDS[KOREAN].document_unsupported.split(": ")[1].split(".")[0]
    notice = page.locator(ASSISTANT_MESSAGE).filter(has_text=why)
    await expect(notice).to_contain_text("photo.png")
