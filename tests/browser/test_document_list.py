"""The chat's documents above the composer, in Chromium, with the bundled model behind a
recording proxy: each with its size or pages and a remove button; a removed one is gone from
the next question, the list comes back after a reload and when the chat is opened again
(SQLite and PostgreSQL), another user's page cannot remove one, and without sign-in (history
off) and in Korean it works the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, FilePayload, Page, expect

from foundry_local_chat.ui.texts import ENGLISH, KOREAN, PAGE_TEXTS, WORDS
from tests.support.apps import AppFactory, signed_in_app
from tests.support.browser import (
    ASSISTANT_MESSAGE,
    USER_MESSAGE,
    attach,
    new_chat,
    new_page,
    save_screenshot,
    send_prompt,
    sign_in,
    wait_for_answer,
)
from tests.support.pdf_maker import text_pdf
from tests.support.processes import Endpoint
from tests.support.recording_proxy import RecordingProxy

CHIPS = "#chat-documents [data-document]"
RECIPES = b"# Recipes\n\nGrandmother's plum cake needs exactly seventeen plums.\n"
GARDEN = b"# Garden\n\nThe roses bloom in June and the tulips in April.\n"
REPORT = text_pdf([["Harbour ledger, page one."], ["Timber crates."], ["The cat is Marmalade."]])
FILES: list[FilePayload] = [
    {"name": "recipes.md", "mimeType": "text/markdown", "buffer": RECIPES},
    {"name": "garden.md", "mimeType": "text/markdown", "buffer": GARDEN},
    {"name": "report.pdf", "mimeType": "application/pdf", "buffer": REPORT},
]


@pytest.fixture
def app_url(
    chainlit_app: AppFactory,
    proxy: RecordingProxy,
    tmp_path: Path,
    history_database: dict[str, str],
) -> str:
    return signed_in_app(
        chainlit_app, proxy, tmp_path, "alice", "bob", TEMPERATURE="0", MAX_TOKENS="24",
        **history_database,
    )  # fmt: skip


def sessions_of(page: Page) -> list[str]:
    """The chat session ids the page connects with, as it sends them (newest last)."""
    seen: list[str] = []

    def record(request: Any) -> None:
        if request.url.endswith("/set-session-cookie"):
            seen.append(request.post_data_json["session_id"])

    page.on("request", record)
    return seen


async def removal_status(page: Page, document: str, session: str) -> int:
    """What the page gets when it asks to remove a document in a chat session."""
    return int(
        await page.evaluate(
            """async ([document, session]) => (await fetch(
                 `/chat-documents/${document}?session=${session}`, {method: "DELETE"})).status""",
            [document, session],
        )
    )


async def test_the_chats_documents_are_listed_removable_and_come_back(
    page: Page, browser: Browser, app_url: str, proxy: RecordingProxy
) -> None:
    alices_sessions = sessions_of(page)
    await sign_in(page, "alice")
    await attach(page, FILES)
    await send_prompt(page, "What do these files say?")
    await wait_for_answer(page)
    chips = page.locator(CHIPS)
    await expect(chips).to_have_count(3)
    await expect(chips.nth(0)).to_contain_text(f"recipes.md{len(RECIPES)} B")
    await expect(chips.nth(2)).to_contain_text("report.pdf3 pages")
    await expect(page.get_by_role("list", name="Documents in this chat")).to_be_visible()
    recipes = await chips.nth(0).get_attribute("data-document")
    assert recipes is not None
    await save_screenshot(page, "document-list")

    # Bob, in his own browser, with his own chat: Alice's document stays hers.
    context, bobs_page, _ = await new_page(browser, app_url)
    bobs_sessions = sessions_of(bobs_page)
    await sign_in(bobs_page, "bob")
    for session in (alices_sessions[-1], bobs_sessions[-1]):
        assert await removal_status(bobs_page, recipes, session) == 404
    await context.close()
    await page.reload()
    await expect(page.locator(CHIPS)).to_have_count(3)

    await page.get_by_role("button", name="Remove recipes.md from this chat").click()
    await expect(chips).to_have_count(2)
    removed = WORDS[ENGLISH].document_removed.format(file="recipes.md").replace("**", "")
    await expect(page.locator(ASSISTANT_MESSAGE).filter(has_text=removed)).to_have_count(1)
    await send_prompt(page, "How many plums does the cake need?")
    await wait_for_answer(page)
    sent = str(proxy.chat_requests()[-1].body)
    assert "roses bloom in June" in sent and "seventeen plums" not in sent
    await expect(page.get_by_test_id("sources").last.get_by_role("button")).to_have_text(
        ["garden.md", "report.pdf"]
    )

    await page.reload()  # the list is the chat's, kept with it
    await expect(page.locator(USER_MESSAGE)).to_have_count(2)
    await expect(chips).to_have_text([f"garden.md{len(GARDEN)} B×", "report.pdf3 pages×"])
    await new_chat(page)  # a new chat lists none …
    await expect(chips).to_have_count(0)
    await page.locator('li[id^="thread-"]').first.click()  # … and the old one its own again
    await expect(page.locator(USER_MESSAGE)).to_have_count(2)
    await expect(chips).to_have_count(2)


@pytest.fixture
def korean_app_url(chainlit_app: AppFactory, endpoint: Endpoint) -> str:
    """No users: history is off, and the documents live in the chat session's memory."""
    return chainlit_app(
        FOUNDRY_LOCAL="0", BASE_URL=endpoint.url, API_KEY=endpoint.api_key, MAX_TOKENS="16"
    )


async def test_without_sign_in_and_in_korean_the_list_works_the_same(
    browser: Browser, korean_app_url: str
) -> None:
    context, page, _ = await new_page(browser, korean_app_url, "ko-KR")
    said = PAGE_TEXTS[KOREAN]
    await new_chat(page)
    await attach(page, FILES[1:])
    await page.locator("#chat-input").press("Enter")  # only files: read, and nothing to answer
    chips = page.locator(CHIPS)
    await expect(chips).to_have_count(2, timeout=60_000)
    await expect(page.get_by_role("list", name=str(said["documents"]))).to_be_visible()
    await expect(chips.nth(1)).to_contain_text("report.pdf3쪽")
    remove = str(said["remove_document"]).format(name="garden.md")
    await page.get_by_role("button", name=remove).click()
    await expect(chips).to_have_count(1)
    removed = WORDS[KOREAN].document_removed.format(file="garden.md").replace("**", "")
    await expect(page.locator(ASSISTANT_MESSAGE).filter(has_text=removed)).to_have_count(1)
    await context.close()
