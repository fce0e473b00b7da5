"""Nothing the chat page shows is fetched from another origin, in a real browser (Chromium): the
page itself (no CDN fonts or stylesheets), an answer in which the model writes a remote image
(the recording proxy puts one in front of the bundled model's answer), a document whose text
has one, its sources line and the side panel that shows its passage. Every request the browser
makes to another origin is counted: none. The Content-Security-Policy is in force, and the page
works under it without a single violation. The remote images show as links instead."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import ConsoleMessage, Page, Request, expect

from tests.support.apps import shared_proxy
from tests.support.browser import attach, open_chat, send_prompt, wait_for_answer
from tests.support.recording_proxy import RecordingProxy

ELSEWHERE = "http://images.example"
ANSWER_IMAGE = f"![chart]({ELSEWHERE}/answer.png?said=my+secret)"
DOCUMENT_IMAGE = f"![logo]({ELSEWHERE}/document.png)"
proxy = pytest.fixture(shared_proxy)


@pytest.fixture(scope="module")
def app_settings(module_proxy: RecordingProxy) -> dict[str, str]:
    return {"FOUNDRY_LOCAL": "0", "BASE_URL": module_proxy.url, "MAX_TOKENS": "16",
            "LOOP_GUARD": "0"}  # fmt: skip


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.replace("ws", "http"), parts.netloc


async def test_answers_documents_and_sources_fetch_nothing_from_other_origins(
    page: Page, app_url: str, proxy: RecordingProxy
) -> None:
    elsewhere: list[str] = []
    violations: list[str] = []

    def count(request: Request) -> None:
        if request.url.startswith(("http", "ws")) and origin(request.url) != origin(app_url):
            elsewhere.append(request.url)

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.context.on("request", count)
    page.on("console", watch)
    served = await page.request.get(app_url + "/")
    policy = served.headers["content-security-policy"]
    assert "img-src 'self' data: blob:" in policy and "connect-src 'self'" in policy
    assert "googleapis" not in await served.text() and "jsdelivr" not in await served.text()

    await open_chat(page)
    notes = f"# Harbour\n\n{DOCUMENT_IMAGE}\n\nThe lighthouse cat is called Marmalade.\n"
    await attach(
        page, [{"name": "harbour.md", "mimeType": "text/markdown", "buffer": notes.encode()}]
    )
    await expect(page.get_by_text("harbour.md").first).to_be_visible()
    proxy.thinking_deltas = [ANSWER_IMAGE, "\n\n"]  # the model writes a remote image first
    await send_prompt(page, "What is the lighthouse cat called?")
    await wait_for_answer(page)
    await expect(page.locator(f'a[href^="{ELSEWHERE}/answer.png"]')).to_have_text("chart")

    sources = page.get_by_test_id("sources")
    await sources.get_by_role("button", name="harbour.md").click()
    shown = page.get_by_test_id("source-text")
    await expect(shown).to_contain_text("Marmalade")
    # The side sheet shows a document as text: its image is the words of a link, never loaded.
    await expect(shown).to_contain_text(f"[logo]({ELSEWHERE}/document.png)")

    assert await page.locator(f'img[src^="{ELSEWHERE}"]').count() == 0
    assert elsewhere == []
    assert violations == []
