"""A new chat's title in a real browser, written by the real bundled model (through a recording
proxy in front of the session's endpoint): it reaches the sidebar without a reload and is stored
with the thread (SQLite and PostgreSQL), a rename made while it is being written stays, a message
sent meanwhile cancels it, and a Korean chat is named in Korean."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from foundry_local_chat.chat.titles import fallback_title, title_from
from tests.support.apps import PASSWORD, launch_chainlit
from tests.support.browser import (
    USER_MESSAGE,
    save_screenshot,
    send_prompt,
    sign_in,
    wait_for_answer,
)
from tests.support.processes import Endpoint, RunningProcess, add_user
from tests.support.recording_proxy import RecordedRequest, RecordingProxy

# The bundled model (greedy) names this one "Planning a three-day trip to Kyoto"; should it
# write something else, the test expects what the app makes of that, which differs from the
# first message either way (the message is longer than a title).
KYOTO = "Can you help me plan a three day trip to Kyoto in autumn with kids?"
THREADS = 'li[id^="thread-"]'  # the sidebar's chats


def is_title_request(request: RecordedRequest) -> bool:
    return bool(request.body and request.body.get("stop") == ["\n"])


@pytest.fixture
async def proxy(endpoint: Endpoint) -> AsyncIterator[RecordingProxy]:
    recording = RecordingProxy(endpoint.url, api_key=endpoint.api_key, see_clients_leave=True)
    yield await recording.start()
    await recording.close()


@dataclass
class App:
    url: str
    process: RunningProcess


@pytest.fixture
def app(
    bundled_model_dir: Path,
    proxy: RecordingProxy,
    tmp_path: Path,
    history_database: dict[str, str],
) -> Iterator[App]:
    """Signed-in history with titles on, answering greedily through the proxy."""
    users = tmp_path / "users"
    add_user(users, "alice", PASSWORD)
    started: list[RunningProcess] = []
    url = launch_chainlit(
        tmp_path, started, FOUNDRY_LOCAL="0", BASE_URL=proxy.url, USERS_FILE=str(users),
        CHAT_TITLES="1", TEMPERATURE="0", MAX_TOKENS="48", LOOP_GUARD="0", **history_database,
    )  # fmt: skip
    yield App(url, started[0])
    started[0].stop()


@pytest.fixture
def app_url(app: App) -> str:
    return app.url


async def test_a_new_chat_is_titled_in_the_sidebar_at_once_and_keeps_it(
    page: Page, proxy: RecordingProxy
) -> None:
    await sign_in(page)
    await send_prompt(page, KYOTO)
    await wait_for_answer(page)
    made = await proxy.wait_for_request(is_title_request)
    await made.finished.wait()
    assert made.body is not None
    assert KYOTO in made.body["messages"][0]["content"]
    title = title_from(made.answer, KYOTO).text
    assert title != KYOTO
    chats = page.locator(THREADS)
    await expect(chats).to_have_text([title])  # no reload: the sidebar was told
    await save_screenshot(page, "chat-title")
    assert [is_title_request(r) for r in proxy.chat_requests()] == [False, True]

    await page.reload()  # stored with the thread
    await expect(page.locator(USER_MESSAGE)).to_have_text([KYOTO])
    await expect(page.locator(THREADS)).to_have_text([title])


async def test_a_rename_made_while_the_title_is_written_stays(
    page: Page, proxy: RecordingProxy, app: App
) -> None:
    proxy.hold_requests = lambda body: bool(body and body.get("stop"))
    await sign_in(page)
    await send_prompt(page, KYOTO)
    await wait_for_answer(page)
    await proxy.request_held.wait()  # the model is about to write the title

    chat = page.locator(THREADS)
    await chat.hover()
    await chat.locator("#thread-options").click()
    await page.locator("#rename-thread").click()
    await page.locator("#name").fill("Autumn in Kyoto")
    await page.locator("#name").press("Enter")
    await expect(page.locator(THREADS)).to_have_text(["Autumn in Kyoto"])

    proxy.release_requests.set()
    outcome = app.process.find_line(r"thread \S+ (titled|was renamed)", timeout=60)
    assert outcome[1] == "was renamed", "the title was written over the rename"
    await page.reload()
    await expect(page.locator(THREADS)).to_have_text(["Autumn in Kyoto"])


async def test_a_message_sent_while_the_title_is_written_cancels_it_and_it_comes_later(
    page: Page, proxy: RecordingProxy
) -> None:
    proxy.hold_requests = lambda body: bool(body and body.get("stop"))
    await sign_in(page)
    await send_prompt(page, KYOTO)
    await wait_for_answer(page)
    await proxy.request_held.wait()
    [first_try] = [r for r in proxy.chat_requests() if is_title_request(r)]

    await send_prompt(page, "What should we pack?")
    await wait_for_answer(page)
    # The app closed it before it sent the question (the proxy saw that first).
    assert first_try.client_closed_early, "the title request was not cancelled"
    answers = [r for r in proxy.chat_requests() if not is_title_request(r)]
    assert len(answers) == 2 and answers[1].body is not None
    assert answers[1].body["messages"][-1]["content"] == "What should we pack?"

    # Tried again once the answer was written, and written this time.
    proxy.hold_requests = None
    proxy.release_requests.set()
    again = await proxy.wait_for_request(lambda r: is_title_request(r) and r is not first_try)
    await again.finished.wait()
    assert not again.client_closed_early
    await expect(page.locator(THREADS)).to_have_text([title_from(again.answer, KYOTO).text])


LONG_KOREAN = (
    "가을에 아이들과 함께 교토로 삼 일 동안 여행을 가려고 하는데 어떤 곳을 가 보면 좋을지 "
    "추천해 주실 수 있나요?"
)


@pytest.mark.parametrize("locale", ["ko-KR"])
async def test_a_korean_chat_is_named_in_korean_without_asking_a_model_that_writes_none(
    page: Page, proxy: RecordingProxy, app: App
) -> None:
    await sign_in(page)
    await send_prompt(page, LONG_KOREAN)
    await wait_for_answer(page)
    title = fallback_title(LONG_KOREAN)
    assert title != LONG_KOREAN and re.search("[가-힣]", title)
    await expect(page.locator(THREADS)).to_have_text([title])
    assert not [r for r in proxy.chat_requests() if is_title_request(r)]
