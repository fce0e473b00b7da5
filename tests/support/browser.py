"""Drive the chat in a real browser: Debian's Chromium through Playwright (no browser download).

tests/conftest.py loads this module as a plugin, so a test just asks for ``page``: a fresh browser
context (so a fresh chat session) on the app, which starts once per test module. Parametrize
``locale`` to change the browser language. Override the module-scoped ``app_settings`` fixture to
start the module's app with other settings, or override ``app_url`` for one app per test, e.g.
``def app_url(chainlit_app): return chainlit_app(MAX_TOKENS="50")``.

The helpers below wait with Playwright's primitives (auto-waiting locators, ``expect``,
``wait_for_function``), never with sleeps. The selectors were read off Chainlit 2.12's frontend.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    FilePayload,
    Locator,
    Page,
    async_playwright,
    expect,
)

from tests.support.apps import PASSWORD
from tests.support.processes import REPO, clean_env, free_port, start_chainlit

# An expectation waits this long unless it says otherwise: on two shared cores a page that is
# ready in a second when the machine is quiet may take several (a sign-in, a chat's first load).
expect.set_options(timeout=15_000)

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
VIEWPORT = {"width": 1100, "height": 720}
ARTIFACTS = REPO / "test-artifacts"
# `UPDATE_SCREENSHOTS=1` (`make screenshots`) writes the README's screenshots; otherwise they go to
# test-artifacts/, so a test run leaves the work tree clean (each run shows a different port).
UPDATING_SCREENSHOTS = os.environ.get("UPDATE_SCREENSHOTS") == "1"
SCREENSHOTS = REPO / "docs" / "screenshots" if UPDATING_SCREENSHOTS else ARTIFACTS / "screenshots"

# Chainlit 2.12's DOM.
COMPOSER = "#chat-input"  # the message textarea
SEND_BUTTON = "#chat-submit"  # shown while no answer is running
UPLOAD_INPUT = "#upload-button-input"  # behind the composer's paperclip button
STOP_BUTTON = "#stop-button"  # replaces the send button while an answer is running
SETTINGS_BUTTON = "#chat-settings-open-modal"  # in the composer, once the app sends ChatSettings
SETTINGS_HEADER_BUTTON = "#chat-settings-header-button"  # with chat_settings_location="sidebar"
README_BUTTON = "#readme-button"  # header button that opens chainlit.md (chainlit_<lang>.md)
NEW_CHAT_BUTTON = "#new-chat-button"
STARTERS = "#starters"
WELCOME_SCREEN = "#welcome-screen"  # logo and starters, only while the chat has no message
ASSISTANT_MESSAGE = '[data-step-type="assistant_message"]'  # app notices and model answers
USER_MESSAGE = '[data-step-type="user_message"]'
MESSAGE_TEXT = ".message-content"  # the rendered markdown of a message
STREAMING_CURSOR = ".loading-cursor"  # at the end of a message while it streams
# The app's answer to the latest prompt: the first assistant message after the last user message.
ANSWER_XPATH = (
    '(//*[@data-step-type="user_message"])[last()]'
    '/following-sibling::*[@data-step-type="assistant_message"][1]'
)
ANSWER_STATS = '[data-testid="answer-stats"]'  # public/elements/AnswerStats.jsx, under each answer
EDIT_BUTTON = ".edit-message"  # on a user message, visible on hover
EDIT_INPUT = "#edit-chat-input"
CONFIRM_EDIT = ".confirm-edit"
NO_BACKEND_NOTICE = "No model server is available"

# Resolves (truthy) once the answer's text is longer than `previous` while it still streams, or as
# soon as it has stopped streaming; the caller tells the two apart.
_ANSWER_PROGRESS_JS = """([xpath, previous]) => {
  const step = document.evaluate(
    xpath, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
  const content = step && step.querySelector(".message-content");
  if (!content) return false;
  const text = content.innerText.trim();
  const streaming = content.querySelector(".loading-cursor") !== null;
  if (!streaming && text) return {text, streaming};
  return streaming && text.length > previous ? {text, streaming} : false;
}"""


def translation(language: str) -> dict[str, Any]:
    """The project's UI strings for a language, as Chainlit serves them."""
    path = REPO / ".chainlit" / "translations" / f"{language}.json"
    return json.loads(path.read_text(encoding="utf-8"))


async def open_chat(page: Page, timeout: float = 60_000) -> str:
    """Load the app and wait until the chat is ready (its settings panel button appears) or says
    that no backend answers. Returns the welcome screen's text (which backend, endpoint and model
    answer) or the failure notice."""
    await page.goto("/")
    ready = page.locator(SETTINGS_BUTTON).or_(
        page.locator(ASSISTANT_MESSAGE).filter(has_text=NO_BACKEND_NOTICE)
    )
    await expect(ready.first).to_be_visible(timeout=timeout)
    if await page.locator(SETTINGS_BUTTON).is_visible():
        return (await page.locator(WELCOME_SCREEN).inner_text()).strip()
    return (await page.locator(ASSISTANT_MESSAGE).last.inner_text()).strip()


CHAT_READY_TIMEOUT = 60_000  # ms: a new chat on a loaded machine (two test workers, a model)


async def chat_ready(page: Page, timeout: float = CHAT_READY_TIMEOUT) -> None:
    """Wait until the chat's start has run: the app sends its settings panel last."""
    await expect(page.locator(SETTINGS_BUTTON)).to_be_visible(timeout=timeout)


async def new_chat(page: Page) -> None:
    """Open a new chat (the app's root), as a reload or the logo does; returns once it is ready."""
    await page.goto("/")
    await chat_ready(page)


async def sign_in(page: Page, name: str = "alice", password: str = PASSWORD) -> None:
    """Sign in on the login page; returns once the chat is ready."""
    await page.goto("/")
    await page.locator("#email").fill(name)
    await page.locator("#password").fill(password)
    await page.locator("#password").press("Enter")
    await chat_ready(page)


async def send_prompt(page: Page, text: str) -> None:
    """Type a prompt in the composer and press Enter; returns once the chat shows it."""
    composer = page.locator(COMPOSER)
    await composer.fill(text)
    await composer.press("Enter")
    await expect(page.locator(USER_MESSAGE).last).to_contain_text(text)


async def attach(page: Page, files: list[FilePayload]) -> None:
    """Attach files with the composer's upload input; returns once all are uploaded (Chainlit
    keeps the send button disabled until then, and Enter sends nothing)."""
    await page.locator(UPLOAD_INPUT).set_input_files(files=files)
    await expect(page.locator(SEND_BUTTON)).to_be_enabled(timeout=30_000)


def last_answer(page: Page) -> Locator:
    """The app's message that answers the latest prompt (its rendered text)."""
    return page.locator(f"xpath={ANSWER_XPATH}").locator(MESSAGE_TEXT)


def last_answer_stats(page: Page) -> Locator:
    """The speed line under the answer to the latest prompt."""
    return page.locator(f"xpath={ANSWER_XPATH}").locator(ANSWER_STATS)


async def edit_message(page: Page, index: int, text: str) -> None:
    """Edit the index-th user message (0 = first) and confirm: the chat answers it again."""
    message = page.locator(USER_MESSAGE).nth(index)
    await message.hover()
    await message.locator(EDIT_BUTTON).click()
    await message.locator(EDIT_INPUT).fill(text)
    await message.locator(CONFIRM_EDIT).click()
    await expect(message).to_contain_text(text)


_NEVER = 2**53  # no answer is this long: wait for the answer to stop streaming


async def _answer_progress(page: Page, previous: int, timeout: float) -> dict[str, Any]:
    handle = await page.wait_for_function(
        _ANSWER_PROGRESS_JS, arg=[ANSWER_XPATH, previous], timeout=timeout
    )
    return await handle.json_value()


async def wait_for_answer_growth(page: Page, timeout: float = 60_000) -> tuple[str, str]:
    """Observe the streaming answer twice, the second time longer; both while it still streams.

    Returns the two texts. Fails if the answer finished before it was seen growing, so use a prompt
    whose answer takes a while (the bundled model writes about 150 tokens a second).
    """
    first = await _answer_progress(page, 0, timeout)
    assert first["streaming"], (
        f"the answer finished before it was seen streaming: {first['text']!r}"
    )
    later = await _answer_progress(page, len(first["text"]), timeout)
    assert later["streaming"], f"the answer finished before it grew: {later['text']!r}"
    return first["text"], later["text"]


async def wait_for_answer(page: Page, timeout: float = 120_000) -> str:
    """Wait until the answer to the latest prompt is complete; returns its text."""
    await _answer_progress(page, _NEVER, timeout)
    await expect(page.locator(STOP_BUTTON)).to_be_hidden(timeout=timeout)
    await expect(page.locator(SEND_BUTTON)).to_be_visible()
    return (await last_answer(page).inner_text()).strip()


async def save_screenshot(page: Page, name: str) -> Path:
    """A viewport screenshot under SCREENSHOTS (docs/screenshots with UPDATE_SCREENSHOTS=1)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=path, animations="disabled", caret="hide")
    return path


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in {"http", "https", "ws", "wss"} or parts.hostname in {
        "127.0.0.1",
        "localhost",
        "::1",
    }


@dataclass
class PageLog:
    """What the page said while a test ran, saved next to a failure's screenshot."""

    console: list[str]
    blocked: list[str]

    def text(self) -> str:
        return "\n".join(["# console", *self.console, "# blocked (not loopback)", *self.blocked])


async def new_page(
    browser: Browser, base_url: str, locale: str = "en-US"
) -> tuple[BrowserContext, Page, PageLog]:
    """A fresh context (cookies, storage, chat session) whose requests stay on loopback.

    Chainlit's page links fonts and KaTeX CSS on CDNs; those requests are aborted at once instead of
    waiting for the sandbox's network to refuse them.
    """
    context = await browser.new_context(
        base_url=base_url, locale=locale, viewport=VIEWPORT, device_scale_factor=1
    )
    log = PageLog(console=[], blocked=[])

    async def block(route: Any) -> None:
        log.blocked.append(route.request.url)
        await route.abort("blockedbyclient")

    await context.route(lambda url: not is_loopback(url), block)
    page = await context.new_page()

    def record(message: ConsoleMessage) -> None:
        log.console.append(f"{message.type}: {message.text}")

    page.on("console", record)
    page.on("pageerror", lambda error: log.console.append(f"pageerror: {error}"))
    return context, page, log


# Fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (Debian's chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium_executable: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        await chromium.close()


@pytest.fixture(scope="module")
def app_settings() -> dict[str, str]:
    """Environment for the module's app (e.g. {"TEMPERATURE": "0"}); override in a module."""
    return {}


@pytest.fixture(scope="module")
def app_url(
    bundled_model_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    app_settings: dict[str, str],
) -> Iterator[str]:
    """The app, started once for a module's browser tests (each test gets its own chat session)."""
    port = free_port()
    env = clean_env({
        "FOUNDRY_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "FOUNDRY_OFFLINE": "1",
        "APP_DATA_DIR": str(tmp_path_factory.mktemp("browser-app-data")),
        **app_settings,
    })  # fmt: skip
    process = start_chainlit(env, port)
    yield f"http://127.0.0.1:{port}"
    process.stop()


@pytest.fixture
def locale() -> str:
    """The browser's language (navigator.language, Accept-Language); parametrize to change it."""
    return "en-US"


@pytest.fixture
async def page(
    browser: Browser, app_url: str, locale: str, request: pytest.FixtureRequest
) -> AsyncIterator[Page]:
    context, page, log = await new_page(browser, app_url, locale)
    yield page
    report = request.node.stash.get(_CALL_REPORT, None)
    if report is not None and report.failed:
        files: dict[str, bytes] = {}
        try:
            files["page.png"] = await page.screenshot()
            files["page.html"] = (await page.content()).encode()
        except Error as error:  # the page may be gone; keep the log anyway
            log.console.append(f"artifact capture failed: {error}")
        files["page.log"] = log.text().encode()
        save_artifacts(request.node.nodeid, files)
    await context.close()


def save_artifacts(test_id: str, files: dict[str, bytes]) -> None:
    """Keep what a failed browser test saw, under test-artifacts/<test id>/."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", test_id)
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)


_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Let the page fixture know, at teardown, whether the test failed (to save artifacts)."""
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report
