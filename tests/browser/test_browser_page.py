"""The /browser page in real Chromium: the bundled model answers inside the tab, offline.

One app per module (`app_url`), one Chromium started with `--enable-unsafe-webgpu`: headless
Chromium then offers WebGPU only through SwiftShader, a *fallback* adapter, which the page must
treat as "no WebGPU". Every context blocks (and logs) requests that leave loopback.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request, async_playwright, expect

from foundry_local_chat.models import browser as browser_model
from foundry_local_chat.ui.browser_page import ISOLATION_HEADERS
from foundry_local_chat.ui.texts import BROWSER_TEXTS, KOREAN
from tests.support.browser import CHROMIUM_ARGS, PageLog, new_page, save_screenshot
from tests.support.korean_screen import TEXTS_ON_SCREEN, english_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LOAD_TIMEOUT_MS = 180_000  # 160 MB from loopback and a session start, on 2 busy cores
ANSWER_TIMEOUT_MS = 180_000
QUESTION = "What is the capital of France?"
LONG_PROMPT = "Write a long story about a dragon who learns to cook."
# The bundled model, greedy in the tab, falls into a loop on these within about 200 tokens.
LOOPING_PROMPT = "Name three fruits."
KOREAN_LOOPING_PROMPT = "과일 세 가지를 말해 주세요."
# Markdown with what must never become markup, nor be fetched or run.
HOSTILE_ANSWER = """**Bold** and `code`.

- an image: ![cat](http://images.example/cat.png)
- raw HTML: <img src=x onerror="window.pwned = 1"> <script>window.pwned = 2</script>
- a link: [docs](https://example.com/docs) and [run](javascript:window.pwned=3)

<iframe src="http://images.example/frame"></iframe>"""


@pytest.fixture(scope="module")
async def webgpu_browser(chromium_executable: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=chromium_executable,
            args=[*CHROMIUM_ARGS, "--enable-unsafe-webgpu"],
            headless=True,
        )
        yield chromium
        await chromium.close()


class Tab:
    """A context on the page, with every request it made (workers' included)."""

    def __init__(self, context: BrowserContext, page: Page, log: PageLog) -> None:
        self.context, self.page, self.log = context, page, log
        self.requests: list[str] = []
        self.first_visit: dict[str, Any] = {}
        context.on("request", self._record)

    def _record(self, request: Request) -> None:
        self.requests.append(request.url)

    async def open(self, path: str = "/browser") -> None:
        await self.page.goto(path, timeout=LOAD_TIMEOUT_MS)
        await self.page.wait_for_function(
            "['ready', 'failed', 'unavailable'].includes(document.body.dataset.state)",
            timeout=LOAD_TIMEOUT_MS,
        )
        state = await self.page.evaluate("document.body.dataset.state")
        assert state == "ready", await self.page.inner_text("main")

    async def chat(self, expression: str) -> Any:
        return await self.page.evaluate(f"window.browserChat.{expression}")

    async def wait_until_answered(self) -> dict[str, Any]:
        await self.page.wait_for_function(
            "document.body.dataset.state !== 'answering'", timeout=ANSWER_TIMEOUT_MS
        )
        stats: dict[str, Any] = await self.chat("lastStats")
        return stats


async def open_tab(browser: Browser, app_url: str, locale: str = "en-US") -> Tab:
    context, page, log = await new_page(browser, app_url, locale=locale)
    return Tab(context, page, log)


@pytest.fixture(scope="module")
async def tab(webgpu_browser: Browser, app_url: str) -> AsyncIterator[Tab]:
    """The page with its model loaded, shared by the chat tests (each starts a new chat)."""
    tab = await open_tab(webgpu_browser, app_url)
    await tab.open()
    tab.first_visit = {
        "source": await tab.chat("source"),
        "progress": await tab.page.locator("#download").get_attribute("value"),
        "progress_max": await tab.page.locator("#download").get_attribute("max"),
    }
    yield tab
    await tab.context.close()


async def new_chat(tab: Tab) -> None:
    await tab.page.click("#new-chat")
    await expect(tab.page.locator("#messages li")).to_have_count(0)


async def test_a_fallback_webgpu_adapter_means_wasm(tab: Tab) -> None:
    backend = await tab.chat("backend")
    assert backend["ep"] == "wasm"
    assert backend["reason"] == "fallback"
    assert "swiftshader" in backend["adapter"]
    await expect(tab.page.locator("#backend")).to_contain_text("fallback")


async def test_answers_in_the_tab_token_by_token_without_a_request(tab: Tab) -> None:
    await new_chat(tab)
    # Every text the answer shows while it is written, as the page shows it.
    await tab.page.evaluate("""() => {
        window.answerTexts = [];
        new MutationObserver(() => {
            const answer = document.querySelector('#messages li.assistant:last-child .text');
            if (answer) window.answerTexts.push(answer.textContent);
        }).observe(document.getElementById('messages'),
                   {subtree: true, childList: true, characterData: true});
    }""")
    tab.requests.clear()
    await tab.page.fill("#prompt", QUESTION)
    await tab.page.click("#send")
    await expect(tab.page.locator("#stop")).to_be_visible()
    stats = await tab.wait_until_answered()
    answer = await tab.page.locator("#messages li.assistant .text").last.inner_text()
    assert "Paris" in answer
    await expect(tab.page.locator("#messages li.assistant .text p").last).to_contain_text("Paris")
    texts = [text for text in await tab.page.evaluate("window.answerTexts") if text]
    assert len(set(texts)) >= 3, texts  # it grew in steps, not all at once
    assert all(answer.startswith(text.strip()) for text in texts)
    assert tab.requests == [], "generating an answer made network requests"
    assert tab.log.blocked == []
    assert stats["ep"] == "wasm" and stats["tokens"] > 0 and not stats["stopped"]
    await expect(tab.page.locator("#speed")).to_contain_text("tok/s")
    await expect(tab.page.locator("#speed")).to_contain_text("WASM")
    await save_screenshot(tab.page, "browser-tab")  # the README's, with UPDATE_SCREENSHOTS=1


async def test_the_second_turn_is_prompted_with_the_first(tab: Tab) -> None:
    await new_chat(tab)
    first = await tab.page.evaluate(f"window.browserChat.ask({json.dumps(QUESTION)})")
    second = await tab.page.evaluate("window.browserChat.ask('And of Germany?')")
    prompt = second["prompt"]
    assert first["prompt"] in prompt  # the same template, system prompt first
    assert QUESTION in prompt and first["text"].strip() in prompt
    assert prompt.index(QUESTION) < prompt.index("And of Germany?")
    assert "You are a helpful assistant" in prompt  # the server chat's system prompt


async def test_stop_ends_the_answer(tab: Tab) -> None:
    await new_chat(tab)
    await tab.page.fill("#prompt", LONG_PROMPT)
    await tab.page.click("#send")
    answer = tab.page.locator("#messages li.assistant .text").last
    await expect(answer).not_to_be_empty(timeout=ANSWER_TIMEOUT_MS)
    await tab.page.click("#stop")
    stats = await tab.wait_until_answered()
    assert stats["stopped"]
    assert stats["tokens"] > 0
    max_tokens = (await (await tab.page.request.get("/browser/config.json")).json())["max_tokens"]
    assert stats["tokens"] < max_tokens
    await expect(tab.page.locator("#messages li.assistant .stopped")).to_be_visible()
    await expect(tab.page.locator("#send")).to_be_visible()
    messages = await tab.chat("messages")
    assert messages[-1] == {"role": "assistant", "content": await answer.inner_text()}


async def config_of(tab: Tab) -> dict[str, Any]:
    config: dict[str, Any] = await (await tab.page.request.get("/browser/config.json")).json()
    return config


async def test_a_looping_answer_is_stopped_with_the_notice(tab: Tab) -> None:
    """Issue 22: the tab's answers ran on to the token limit in a loop. The worker's loop guard
    (the chat's rules) stops it; the page keeps it up to the first copy and says why."""
    await new_chat(tab)
    config = await config_of(tab)
    assert config["loop_guard"] is True  # LOOP_GUARD=auto: on for the bundled model
    result = await tab.page.evaluate(f"window.browserChat.ask({json.dumps(LOOPING_PROMPT)})")
    stats = result["stats"]
    assert stats["loop"] is not None, f"no loop in {stats['tokens']} tokens: {result['text']!r}"
    assert stats["tokens"] < config["max_tokens"] and not stats["stopped"]
    keep, span = stats["loop"]["keep"], stats["loop"]["span"]
    assert result["text"] == keep and span in keep
    assert (await tab.chat("messages"))[-1] == {"role": "assistant", "content": keep}
    answer = tab.page.locator("#messages li.assistant").last
    await expect(answer.locator(".notice")).to_have_text(BROWSER_TEXTS["en"]["loop_stopped"])
    await expect(answer.locator(".text li").first).to_be_visible()  # its list, as Markdown
    assert keep.count(span) == 1 or len(keep) < 4 * len(span), keep  # one copy, give or take
    await expect(tab.page.locator("#send")).to_be_visible()


async def test_an_answer_is_markdown_and_its_html_stays_text(tab: Tab) -> None:
    """The page's renderer (markdown.js, marked and DOMPurify from npm) under the page's own
    Content-Security-Policy: Markdown becomes markup, the model's HTML stays text, an image
    becomes a link, and nothing is fetched or run."""
    tab.requests.clear()
    shown = await tab.page.evaluate(
        """async (text) => {
            window.violations = [];
            document.addEventListener('securitypolicyviolation',
                                      (event) => window.violations.push(event.violatedDirective));
            const { showMarkdown } = await import('./browser/src/markdown.js');
            const item = document.createElement('li');
            item.className = 'assistant';
            item.append(Object.assign(document.createElement('div'), { className: 'text' }));
            document.getElementById('messages').append(item);
            showMarkdown(item.lastChild, text);
            return { html: item.lastChild.innerHTML, text: item.lastChild.textContent };
        }""",
        HOSTILE_ANSWER,
    )
    answer = tab.page.locator("#messages li.assistant .text").last
    await expect(answer.locator("strong")).to_have_text("Bold")
    await expect(answer.locator("code")).to_have_text("code")
    await expect(answer.locator("li")).to_have_count(3)
    assert '<img src=x onerror="window.pwned = 1">' in shown["text"]
    assert "<script>window.pwned = 2</script>" in shown["text"]
    assert '<iframe src="http://images.example/frame"></iframe>' in shown["text"]
    assert await tab.page.locator("img, script:not([src]):not([type]), iframe").count() == 0
    cat = answer.locator('a[href="http://images.example/cat.png"]')
    await expect(cat).to_have_text("cat")  # a link to the image, after a "!"
    assert "!cat" in shown["text"]
    await expect(cat).to_have_attribute("rel", "noopener noreferrer")
    run = answer.get_by_text("run", exact=True)
    assert await run.evaluate("(link) => [link.tagName, link.getAttribute('href')]") == ["A", None]
    assert await tab.page.evaluate("[window.pwned, window.violations]") == [None, []]
    assert tab.requests == [] and tab.log.blocked == []
    assert not [line for line in tab.log.console if "Content Security Policy" in line]
    await new_chat(tab)


async def test_the_page_says_what_the_model_can_do(tab: Tab) -> None:
    max_tokens = (await config_of(tab))["max_tokens"]
    limits = tab.page.locator("#limits")
    await expect(limits.locator("h2")).to_have_text(BROWSER_TEXTS["en"]["limits_title"])
    said = BROWSER_TEXTS["en"]["limits"].format(tokens=max_tokens)
    await expect(limits.locator("p")).to_have_text(said)
    for limit in ("small", "English only", f"{max_tokens} tokens", "CPU (WASM)"):
        assert limit in said


async def test_digit_demo_classifies_held_out_digits(tab: Tab, bundled_model_dir: Path) -> None:
    digits_dir = browser_model.browser_dir(bundled_model_dir) / browser_model.DIGITS_DIR
    held_out = json.loads((digits_dir / browser_model.DIGITS_HELD_OUT).read_text())
    # Each digit drawn on the canvas as its 8x8 cells of grey, then classified by the button's code.
    correct = await tab.page.evaluate(
        """async (samples) => {
            const {canvas, classifyCanvas} = window.digitDemo;
            const context = canvas.getContext('2d');
            const cell = canvas.width / 8;
            let correct = 0;
            for (const {pixels, label} of samples) {
                pixels.forEach((value, index) => {
                    const grey = Math.round(value / 16 * 255);
                    context.fillStyle = `rgb(${grey},${grey},${grey})`;
                    context.fillRect((index % 8) * cell, Math.floor(index / 8) * cell, cell, cell);
                });
                if (await classifyCanvas() === label) correct += 1;
            }
            return correct;
        }""",
        held_out,
    )
    assert correct / len(held_out) >= 0.95, f"{correct} of {len(held_out)}"
    await expect(tab.page.locator("#digit-result")).to_contain_text("%")


async def test_second_visit_loads_the_model_from_the_cache(tab: Tab) -> None:
    assert tab.first_visit["source"] == "network"
    config = await (await tab.page.request.get("/browser/config.json")).json()
    files = [*config["tokenizer"], *config["variants"]["wasm"]["files"]]
    assert tab.first_visit["progress_max"] == str(sum(f["bytes"] for f in files))
    assert tab.first_visit["progress"] == tab.first_visit["progress_max"]
    tab.requests.clear()
    await tab.open()  # the same browser context: a second visit
    assert await tab.chat("source") == "cache"
    fetched = [url for url in tab.requests if "/browser/model/" in url]
    assert fetched == [], "the second visit downloaded model files again"
    assert tab.log.blocked == [], "the page asked for something beyond loopback"


async def test_korean_page(webgpu_browser: Browser, app_url: str) -> None:
    """In Korean, to the loop notice: a Korean question, which the model cannot read, loops,
    and the notice says why. No English on the screen but the model's words, the user's and
    names (the WebGPU adapter's)."""
    tab = await open_tab(webgpu_browser, app_url, locale="ko-KR")
    try:
        await tab.open()
        korean = BROWSER_TEXTS[KOREAN]
        await expect(tab.page.locator("h1")).to_have_text(korean["title"])
        await expect(tab.page.locator("#send")).to_have_text(korean["send"])
        max_tokens = (await config_of(tab))["max_tokens"]
        limits = korean["limits"].format(tokens=max_tokens)
        await expect(tab.page.locator("#limits p")).to_have_text(limits)
        question = json.dumps(KOREAN_LOOPING_PROMPT)
        result = await tab.page.evaluate(f"window.browserChat.ask({question})")
        assert result["stats"]["loop"] is not None, result["text"]
        notice = tab.page.locator("#messages li.assistant .notice")
        await expect(notice).to_have_text(korean["loop_stopped_no_korean"])
        adapter = (await tab.chat("backend"))["adapter"]
        texts = [text.replace(adapter, "") for text in await tab.page.evaluate(TEXTS_ON_SCREEN)]
        assert english_in(texts, set()) == []
    finally:
        await tab.context.close()


BACKGROUND = "getComputedStyle(document.body).backgroundColor"
CHAT_THEME = "document.documentElement.classList.contains('dark') ? 'dark' : 'light'"


async def test_the_page_wears_the_chats_theme(webgpu_browser: Browser, app_url: str) -> None:
    """Issue 22: a light page beside the dark chat. The page takes the chat's theme: its
    default (dark, whatever the system prefers) and then what the user picks in the chat's
    header, at once in a tab that is open; "System" follows the system's."""
    context, chat, _ = await new_page(webgpu_browser, app_url)
    await context.route("**/browser/model/**", lambda route: route.abort())  # no model needed
    try:
        await chat.emulate_media(color_scheme="light")
        await chat.goto("/")
        await expect(chat.locator("#chat-input")).to_be_visible(timeout=60_000)
        tab = await context.new_page()
        await tab.emulate_media(color_scheme="light")
        await tab.goto("/browser")
        theme = tab.locator("html")
        assert await chat.evaluate(CHAT_THEME) == "dark"
        await expect(theme).to_have_attribute("data-theme", "dark")
        assert await tab.evaluate(BACKGROUND) == await chat.evaluate(BACKGROUND)

        for choice, expected in (("Light", "light"), ("Dark", "dark")):
            await chat.locator("#theme-toggle").click()
            await chat.get_by_role("menuitem", name=choice).click()
            await expect(chat.locator("html")).to_have_class(re.compile(rf"\b{expected}\b"))
            await expect(theme).to_have_attribute("data-theme", expected)  # the open tab too
            assert await tab.evaluate(BACKGROUND) == await chat.evaluate(BACKGROUND)

        await chat.locator("#theme-toggle").click()
        await chat.get_by_role("menuitem", name="System").click()
        await expect(theme).to_have_attribute("data-theme", "light")
        await tab.emulate_media(color_scheme="dark")
        await expect(theme).to_have_attribute("data-theme", "dark")
        await tab.reload()
        await expect(theme).to_have_attribute("data-theme", "dark")
    finally:
        await context.close()


async def test_isolation_headers_only_on_the_browser_page(app_url: str) -> None:
    async with httpx.AsyncClient(base_url=app_url) as client:
        page = await client.get("/browser")
        chat_ui = await client.get("/")
        wasm = await client.head("/browser/lib/ort-wasm-simd-threaded.wasm")
        module = await client.head("/browser/lib/ort.wasm.min.mjs")
    for name, value in ISOLATION_HEADERS.items():
        assert page.headers[name] == value
        assert name not in chat_ui.headers
    assert chat_ui.status_code == 200
    assert wasm.headers["content-type"] == "application/wasm"
    assert module.headers["content-type"].startswith("text/javascript")


async def test_the_chat_ui_links_to_the_page(webgpu_browser: Browser, app_url: str) -> None:
    context, page, _ = await new_page(webgpu_browser, app_url)
    try:
        await page.goto("/")
        link = page.locator('a[href="/browser"]')
        await expect(link).to_be_visible(timeout=60_000)
        await link.click()
        await expect(page.locator("h1")).to_have_text(BROWSER_TEXTS["en"]["title"])
    finally:
        await context.close()
