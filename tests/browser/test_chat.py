"""The chat's controls in a real browser: settings panel, stop, edit; the app talks to the real
bundled model through a recording proxy, so each test can read the request the endpoint got."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Page, expect

from foundry_local_chat.ui.texts import ENGLISH, PAGE_TEXTS
from tests.support.apps import AppFactory
from tests.support.browser import (
    ASSISTANT_MESSAGE,
    EDIT_BUTTON,
    SEND_BUTTON,
    SETTINGS_BUTTON,
    STOP_BUTTON,
    USER_MESSAGE,
    edit_message,
    last_answer,
    last_answer_stats,
    open_chat,
    save_screenshot,
    send_prompt,
    wait_for_answer,
    wait_for_answer_growth,
)
from tests.support.recording_proxy import RecordingProxy

LONG_PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."


@pytest.fixture
def max_tokens() -> str:
    """Short answers: they are read whole. The stop test asks for long ones."""
    return "64"


@pytest.fixture
def app_url(chainlit_app: AppFactory, proxy: RecordingProxy, max_tokens: str) -> str:
    return chainlit_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, MAX_TOKENS=max_tokens)


async def test_settings_panel_changes_the_next_answer(page: Page, proxy: RecordingProxy) -> None:
    await open_chat(page)
    await page.locator(SETTINGS_BUTTON).click()
    panel = page.get_by_role("dialog")
    await expect(panel).to_contain_text("Temperature")
    await panel.locator("#system_prompt").fill("You are a pirate. Answer like one.")
    temperature = panel.get_by_role("slider").first  # sliders: temperature, then max tokens
    await temperature.focus()
    for _ in range(5):  # 0.3 → 0.8 in steps of 0.1
        await temperature.press("ArrowRight")
    await expect(panel).to_contain_text("0.8")
    await save_screenshot(page, "settings")
    await panel.get_by_role("button", name="Confirm").click()
    await expect(panel).to_be_hidden()

    await send_prompt(page, "Hello!")
    await wait_for_answer(page)
    body = proxy.chat_requests()[-1].body
    assert body is not None
    assert body["temperature"] == pytest.approx(0.8)
    assert body["messages"][0] == {
        "role": "system",
        "content": "You are a pirate. Answer like one.",
    }


@pytest.mark.parametrize("max_tokens", ["1000"])
async def test_stop_ends_the_answer_and_keeps_it_marked(page: Page, proxy: RecordingProxy) -> None:
    await open_chat(page)
    await send_prompt(page, LONG_PROMPT)
    await wait_for_answer_growth(page)
    await page.locator(STOP_BUTTON).click()

    await expect(page.locator(SEND_BUTTON)).to_be_visible()
    await expect(last_answer_stats(page)).to_contain_text(re.compile(r"^stopped · first token"))
    # Chainlit's own English "Task manually stopped." is not added under it.
    await expect(page.get_by_text("Task manually stopped.")).to_have_count(0)
    await expect(page.locator(ASSISTANT_MESSAGE)).to_have_count(1)
    kept = await last_answer(page).inner_text()
    assert len(kept.split()) >= 3
    request = proxy.chat_requests()[-1]
    await asyncio.wait_for(request.finished.wait(), 30)
    assert request.client_closed_early


async def test_editing_the_first_message_answers_it_again(
    page: Page, proxy: RecordingProxy
) -> None:
    await open_chat(page)
    await send_prompt(page, "Name a colour.")
    await wait_for_answer(page)
    await send_prompt(page, "Name another one.")
    await wait_for_answer(page)

    # Before it is saved, the edit says where the later messages go.
    first = page.locator(USER_MESSAGE).first
    await first.hover()
    await first.locator(EDIT_BUTTON).click()
    warning = first.get_by_role("note")
    await expect(warning).to_have_text(
        "ℹ️ " + PAGE_TEXTS[ENGLISH]["edit_keeps_later"].format(count=3)  # type: ignore[union-attr]
    )
    await first.get_by_role("button", name="Cancel").click()
    await expect(warning).to_have_count(0)

    await edit_message(page, 0, "What is the capital of France?")
    answer = await wait_for_answer(page)
    assert "Paris" in answer
    await expect(page.locator(USER_MESSAGE)).to_have_count(1)  # the later turn is put away
    body = proxy.chat_requests()[-1].body
    assert body is not None
    assert [m["content"] for m in body["messages"] if m["role"] != "system"] == [
        "What is the capital of France?"
    ]
