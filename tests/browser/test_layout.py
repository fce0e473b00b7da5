"""The main screens at a phone's size (390 by 844, an iPhone 12's viewport) and a desktop's
(1280 by 800), in a real browser: the welcome, an answer with its speed line, an answer given
again (with its version buttons) and a source. On each, nothing sticks out sideways and the
header's items neither overlap nor leave the screen; the welcome opens at its top with its
composer in view; on a phone the header's menu holds the readme and the links. The README's
screenshots are taken here (`make screenshots`).

The app is the most crowded one: signed in (sidebar and user menu) with three chat profiles
(the profile picker), answering through the recording proxy with the bundled model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from foundry_local_chat.ui.texts import ENGLISH, KOREAN, PAGE_TEXTS
from tests.support.apps import PASSWORD, AppFactory, signed_in_app
from tests.support.browser import (
    ASSISTANT_MESSAGE,
    COMPOSER,
    README_BUTTON,
    SEND_BUTTON,
    STARTERS,
    STOP_BUTTON,
    WELCOME_SCREEN,
    attach,
    last_answer_stats,
    save_screenshot,
    send_prompt,
    sign_in,
    wait_for_answer,
)
from tests.support.layout import box_of, header_trouble, sticking_out
from tests.support.processes import add_user
from tests.support.recording_proxy import RecordingProxy

SIZES = {"narrow": {"width": 390, "height": 844}, "wide": {"width": 1280, "height": 800}}
HEADER = "#header"
MENU_BUTTON = "#header-menu-button"


@pytest.fixture(scope="module")
def users_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("layout-users")


@pytest.fixture(scope="module")
def app_url(module_app: AppFactory, module_proxy: RecordingProxy, users_folder: Path) -> str:
    # Sign-in is on from the start (a user exists); each test adds its own (read at sign-in).
    return signed_in_app(module_app, module_proxy, users_folder, "alice", MAX_TOKENS="80")


@pytest.fixture
def size() -> str:
    """The screen's size, a key of SIZES; parametrize to change it."""
    return "narrow"


@pytest.fixture
async def page(page: Page, size: str, users_folder: Path, request: pytest.FixtureRequest) -> Page:
    """At the test's size, signed in as a user of the test's own (the sidebar lists only this
    test's chats)."""
    name = "u" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]
    add_user(users_folder / "users", name, PASSWORD)
    await page.set_viewport_size(SIZES[size])
    await sign_in(page, name, PASSWORD)
    await page.mouse.move(0, 0)
    return page


@pytest.fixture
def proxy(module_proxy: RecordingProxy) -> RecordingProxy:
    return module_proxy.reset()


async def screenshot(page: Page, name: str) -> None:
    """The README's picture of this screen, without a tooltip of where the pointer was."""
    await page.mouse.move(0, 0)
    await save_screenshot(page, name)


async def fits(page: Page) -> None:
    """Nothing sticks out sideways, and the header's items neither overlap nor leave it."""
    assert await sticking_out(page) == []
    assert await header_trouble(page) == []


async def in_view(page: Page, selector: str) -> None:
    """The element is wholly on screen, below the header."""
    viewport = page.viewport_size
    assert viewport is not None
    header = await box_of(page.locator(HEADER))
    box = await box_of(page.locator(selector).first)
    assert box.top >= header.bottom - 0.5 and box.bottom <= viewport["height"] + 0.5, (
        f"{selector} spans {box.top:.0f}–{box.bottom:.0f} px, the screen "
        f"{header.bottom:.0f}–{viewport['height']} px"
    )


WELCOME_AT_TOP_JS = """([welcome, header]) => {
  const top = document.querySelector(header).getBoundingClientRect().bottom;
  const logo = document.querySelector(`${welcome} img`);
  const first = document.querySelector(`${welcome} .prose > *`);
  return Boolean(logo && first) && logo.getBoundingClientRect().top >= top - 0.5
    && first.getBoundingClientRect().bottom <= window.innerHeight;
}"""


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
async def test_the_welcome_opens_at_its_top_with_its_composer_in_view(
    page: Page, size: str, locale: str
) -> None:
    # Its logo whole and its first paragraph on screen (Chainlit scrolled to the bottom, and
    # pulled the welcome 60 px under the header).
    await page.wait_for_function(WELCOME_AT_TOP_JS, arg=[WELCOME_SCREEN, HEADER], timeout=10_000)
    await in_view(page, COMPOSER)
    await fits(page)
    if locale == "en-US":
        await screenshot(page, f"welcome-{size}")
    elif size == "narrow":
        await screenshot(page, "welcome-narrow-ko")

    # The user scrolls it as they like: down to the starters, which the composer does not hide.
    await page.locator(WELCOME_SCREEN).hover()
    await page.mouse.wheel(0, 3000)
    starter = page.locator(STARTERS).get_by_role("button").last
    await expect(starter).to_be_in_viewport(ratio=1)
    await starter.click(trial=True)  # nothing covers it


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
async def test_on_a_phone_the_header_menu_holds_the_readme_and_the_links(
    page: Page, locale: str
) -> None:
    language = KOREAN if locale.startswith("ko") else ENGLISH
    readme = page.locator(README_BUTTON)
    await expect(readme).to_be_hidden()
    menu_button = page.get_by_role("button", name=str(PAGE_TEXTS[language]["header_menu"]))
    await menu_button.click()
    menu = page.get_by_role("menu")
    readme_name = "안내" if language == KOREAN else "Readme"
    link_name = "브라우저에서 실행하는 모델" if language == KOREAN else "Model in your browser"
    await expect(menu.get_by_role("menuitem")).to_have_text([readme_name, link_name])
    await expect(menu.get_by_role("menuitem", name=link_name)).to_have_attribute("href", "/browser")
    await expect(menu.get_by_role("menuitem").first).to_be_focused()
    assert await sticking_out(page) == []
    await page.keyboard.press("Escape")  # closes it, back to its button
    await expect(menu).to_be_hidden()
    await expect(menu_button).to_be_focused()

    await menu_button.click()
    await menu.get_by_role("menuitem", name=readme_name).click()
    await expect(page.get_by_role("dialog")).to_be_visible()  # the readme
    await expect(menu).to_be_hidden()

    # On a desktop the header has room: the readme is a button of its own, and no menu.
    await page.keyboard.press("Escape")
    await page.set_viewport_size(SIZES["wide"])
    await expect(readme).to_be_visible()
    await expect(page.locator(MENU_BUTTON)).to_be_hidden()


@pytest.mark.parametrize("size", SIZES)
async def test_an_answer_and_its_versions_fit_with_the_stop_button_at_hand(
    page: Page, size: str, proxy: RecordingProxy
) -> None:
    proxy.hold_after_events = 3  # the answer streams a little, then waits
    await send_prompt(page, "Explain what a lighthouse does.")
    await in_view(page, STOP_BUTTON)
    await page.locator(STOP_BUTTON).click(trial=True)  # reachable: nothing covers it
    await fits(page)
    proxy.release.set()
    await wait_for_answer(page)
    await expect(last_answer_stats(page)).to_be_visible()
    await in_view(page, COMPOSER)
    await fits(page)
    await screenshot(page, f"answer-{size}")

    answer = page.locator(ASSISTANT_MESSAGE).filter(has=page.get_by_test_id("answer-stats"))
    await answer.get_by_role("button", name="Answer again").click()
    await expect(page.get_by_test_id("answer-version")).to_have_text("2/2", timeout=120_000)
    await expect(page.locator(STOP_BUTTON)).to_be_hidden(timeout=60_000)
    await expect(page.locator(SEND_BUTTON)).to_be_visible()
    await fits(page)
    await screenshot(page, f"versions-{size}")


NOTES = "# Lighthouses\n\nThe Fastnet lighthouse stands on a rock off the coast of Ireland.\n"


@pytest.mark.parametrize("size", SIZES)
async def test_a_source_opens_in_a_panel_that_fits_the_screen(page: Page, size: str) -> None:
    notes = {"name": "lighthouses.md", "mimeType": "text/markdown", "buffer": NOTES.encode()}
    await attach(page, [notes])
    await send_prompt(page, "Where does the Fastnet lighthouse stand?")
    await wait_for_answer(page)
    await fits(page)

    await page.get_by_test_id("sources").get_by_role("button").first.click()
    panel = page.get_by_test_id("source-panel")
    await expect(panel).to_contain_text("Fastnet")
    await expect(panel).to_be_in_viewport(ratio=1)
    close = panel.get_by_role("button", name="Close")
    await expect(close).to_be_in_viewport(ratio=1)
    box = await box_of(panel)
    viewport = SIZES[size]
    if size == "narrow":  # the whole screen, not a drawer over part of the chat
        assert box.left <= 0.5 and box.right >= viewport["width"] - 0.5
    else:  # a side panel; the chat stays in view beside it
        assert box.right >= viewport["width"] - 0.5 and box.right - box.left <= 512.5
    await expect(page.locator(COMPOSER)).to_have_count(1)
    await screenshot(page, f"sources-{size}")
    await close.click()
    await expect(panel).to_be_hidden()
    await fits(page)
