"""A chat's export and import in a real browser, on a real `chainlit run` with history on SQLite
and on PostgreSQL: two turns, exported from the chat's menu in the sidebar as Markdown and as
JSON (the files' names and contents checked), the JSON imported from the user menu as another
chat, which opens and goes on with the imported turns as its context. And in Korean: the menus,
a Korean title's file name, a hostile title, and a refused file's reason."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from foundry_local_chat.history.export import FORMAT, AssistantMessage, parse_chat_export
from foundry_local_chat.ui.chat_export import quoted
from tests.support.apps import AppFactory, signed_in_app
from tests.support.browser import (
    ANSWER_STATS,
    ASSISTANT_MESSAGE,
    USER_MESSAGE,
    save_screenshot,
    send_prompt,
    sign_in,
    wait_for_answer,
)
from tests.support.korean_screen import TEXTS_ON_SCREEN, english_in
from tests.support.recording_proxy import RecordingProxy

THREADS = 'li[id^="thread-"]'
QUESTIONS = ["What is the capital of France?", "And of Spain?"]


@pytest.fixture
def app_url(
    chainlit_app: AppFactory,
    proxy: RecordingProxy,
    tmp_path: Path,
    history_database: dict[str, str],
) -> str:
    return signed_in_app(
        chainlit_app, proxy, tmp_path, "alice", TEMPERATURE="0", MAX_TOKENS="48",
        **history_database,
    )  # fmt: skip


class Walk:
    """The Korean screens seen, and the English found on each (none, but names and the user's)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: dict[str, list[str]] = {}

    async def look(self, screen: str) -> None:
        texts: list[str] = await self.page.evaluate(TEXTS_ON_SCREEN)
        assert texts, f"nothing on the screen {screen}"
        if english := english_in(texts, {"alice"}):  # the user's name
            self.found[screen] = english


async def open_thread_menu(page: Page, thread: str) -> None:
    """The … menu of the chat `thread` (its id) in the sidebar."""
    item = page.locator(f"li#thread-{thread}")
    await item.hover()
    await item.locator("#thread-options").click()


async def download(page: Page, item: str) -> tuple[str, bytes]:
    """Click the menu item; the file the browser saves: its name and its bytes."""
    async with page.expect_download() as started:
        await page.locator(item).click()
    saved = await started.value
    assert await saved.failure() is None
    # The menu closed (its closing animation over: a click during it would close the next one).
    await expect(page.get_by_role("menu")).to_have_count(0)
    return saved.suggested_filename, await asyncio.to_thread(Path(await saved.path()).read_bytes)


async def import_file(page: Page, name: str, content: bytes) -> None:
    """User menu → Import a chat… → the file chooser gets the file."""
    await page.locator("#user-nav-button").click()
    async with page.expect_file_chooser() as chooser:
        await page.locator("#import-chat").click()
    await (await chooser.value).set_files(
        files=[{"name": name, "mimeType": "application/json", "buffer": content}]
    )


def open_thread_id(page: Page) -> str:
    match = re.search(r"/thread/([0-9a-f-]+)$", page.url)
    assert match, page.url
    return match.group(1)


def conversation(body: dict[str, Any] | None) -> list[tuple[str, str]]:
    assert body is not None
    return [(m["role"], m["content"]) for m in body["messages"] if m["role"] != "system"]


async def test_a_chat_exported_both_ways_and_imported_goes_on_where_it_was(
    page: Page, proxy: RecordingProxy
) -> None:
    await sign_in(page)
    for question in QUESTIONS:
        await send_prompt(page, question)
        await wait_for_answer(page)
    await expect(page).to_have_url(re.compile(r"/thread/[0-9a-f-]+$"))
    original = open_thread_id(page)

    await open_thread_menu(page, original)
    await save_screenshot(page, "export-menu")
    name, markdown_bytes = await download(page, "#export-thread-md")
    assert name == "What is the capital of France.md"
    await open_thread_menu(page, original)
    name, json_bytes = await download(page, "#export-thread-json")
    assert name == "What is the capital of France.json"

    chat = parse_chat_export(json_bytes)
    assert json.loads(json_bytes)["format"] == FORMAT
    assert chat.title == QUESTIONS[0]
    assert chat.settings.temperature == 0 and chat.settings.max_tokens == 48
    assert chat.model and chat.model.startswith("smollm2")
    assert [m.role for m in chat.messages] == ["user", "assistant", "user", "assistant"]
    first_answer, second_answer = chat.messages[1], chat.messages[3]
    assert isinstance(first_answer, AssistantMessage) and isinstance(
        second_answer, AssistantMessage
    )
    assert [m.content for m in chat.messages[::2]] == QUESTIONS
    # The answers as the model wrote them: the second request carried the first one.
    assert conversation(proxy.chat_requests()[1].body)[1] == ("assistant", first_answer.content)
    assert "tokens" in first_answer.stats and first_answer.model == chat.model
    assert chat.messages[0].created_at < first_answer.created_at < chat.messages[2].created_at

    markdown = markdown_bytes.decode()
    assert markdown.startswith(f"# {QUESTIONS[0]}\n")
    for line in [
        f"- **Model:** {chat.model}", "- **Temperature:** 0", "- **Max tokens:** 48",
        "**System prompt:**", "> What is the capital of France?", "> And of Spain?",
    ]:  # fmt: skip
        assert line in markdown.splitlines(), line
    assert len(re.findall(r"^### 👤 alice · \d{4}-\d\d-\d\d ", markdown, re.M)) == 2
    assert len(re.findall(rf"^### 🤖 {re.escape(chat.model)} · ", markdown, re.M)) == 2
    for answer in (first_answer, second_answer):
        assert quoted(answer.content) in markdown
        assert f"*{answer.stats}*" in markdown

    # Imported as another chat, which opens at once, whole.
    await import_file(page, "What is the capital of France.json", json_bytes)
    await expect(page).not_to_have_url(re.compile(original))
    await expect(page).to_have_url(re.compile(r"/thread/[0-9a-f-]+$"))
    imported = open_thread_id(page)
    await expect(page.locator(USER_MESSAGE)).to_have_text(QUESTIONS)
    answers = page.locator(ASSISTANT_MESSAGE).filter(has=page.locator(ANSWER_STATS))
    await expect(answers).to_have_count(2)
    await expect(answers.locator(ANSWER_STATS)).to_have_text(
        [first_answer.stats, second_answer.stats]
    )
    await expect(page.locator(THREADS)).to_have_count(2)

    # It goes on: the next question is sent with the imported turns, and the chat's settings.
    asked = len(proxy.chat_requests())
    await send_prompt(page, "And of Italy?")
    await wait_for_answer(page)
    assert len(proxy.chat_requests()) == asked + 1
    request = proxy.chat_requests()[-1].body
    assert request is not None
    assert conversation(request) == [
        ("user", QUESTIONS[0]), ("assistant", first_answer.content),
        ("user", QUESTIONS[1]), ("assistant", second_answer.content),
        ("user", "And of Italy?"),
    ]  # fmt: skip
    assert (request["temperature"], request["max_tokens"]) == (0, 48)

    # Exported again, the imported chat has the same turns, and the new one.
    await open_thread_menu(page, imported)
    _, again = await download(page, "#export-thread-json")
    continued = parse_chat_export(again)
    assert continued.messages[:4] == chat.messages
    assert [m.content for m in continued.messages[4:5]] == ["And of Italy?"]


@pytest.mark.parametrize("locale", ["ko-KR"])
@pytest.mark.parametrize("history_database", ["sqlite"], indirect=True)  # the screens are the same
async def test_the_korean_menus_file_names_and_refusals(page: Page) -> None:
    walk = Walk(page)
    await sign_in(page)
    await page.locator("#user-nav-button").click()
    await expect(page.locator("#import-chat")).to_have_text("채팅 가져오기…")
    await walk.look("the user menu with the import")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("menu")).to_have_count(0)

    hostile = "프랑스의 수도\n# 가짜 제목"
    body = {
        "format": FORMAT, "title": hostile, "created_at": "2026-01-31T12:00:00Z",
        "messages": [
            {"role": "user", "content": "What is the capital of France?",
             "created_at": "2026-01-31T12:00:01Z"},
            {"role": "assistant", "content": "Paris.", "created_at": "2026-01-31T12:00:02Z",
             "model": "smollm2-135m-instruct-generic-cpu:1", "stats": "토큰 2개",
             "versions": [{"content": "Lyon.", "stats": "토큰 3개"},
                          {"content": "Paris.", "stats": "토큰 2개"}], "shown_version": 1},
        ],
    }  # fmt: skip
    await import_file(page, "chat.json", json.dumps(body, ensure_ascii=False).encode())
    await expect(page).to_have_url(re.compile(r"/thread/[0-9a-f-]+$"))
    imported = open_thread_id(page)
    await expect(page.locator(USER_MESSAGE)).to_have_text(["What is the capital of France?"])
    title = page.locator(f"li#thread-{imported}")
    await expect(title).to_have_text("프랑스의 수도 # 가짜 제목")  # one line
    # The imported answer's versions switch as an answer given again here does.
    version = page.get_by_test_id("answer-version")
    await expect(version).to_have_text("2/2")
    await page.get_by_role("button", name="이전 답변").click()
    await expect(version).to_have_text("1/2")
    answer = page.locator(ASSISTANT_MESSAGE).filter(has=page.locator(ANSWER_STATS))
    await expect(answer.get_by_role("article")).to_have_text("Lyon.")
    await expect(answer.locator(ANSWER_STATS)).to_have_text("토큰 3개")

    await open_thread_menu(page, imported)
    await expect(page.locator("#export-thread-md")).to_have_text("마크다운으로 내보내기")
    await expect(page.locator("#export-thread-json")).to_have_text("JSON으로 내보내기")
    await walk.look("a chat's menu with the exports")
    name, markdown = await download(page, "#export-thread-md")
    assert name == "프랑스의 수도 # 가짜 제목.md"
    lines = markdown.decode().splitlines()
    assert lines[:3] == ["# 프랑스의 수도 \\# 가짜 제목", "", "- **날짜:** 2026-01-31 12:00:00 UTC"]
    assert "#### 버전 1/2 (표시된 버전)" in lines and "> Lyon." in lines  # the version shown now

    newer = json.dumps({**body, "format": "foundry-local-chat/2"}).encode()
    await import_file(page, "newer.json", newer)
    dialog = page.get_by_role("alertdialog")
    await expect(dialog).to_contain_text("채팅을 가져오지 못했습니다: 이 앱이 읽지 못하는 형식")
    await expect(dialog.locator("code")).to_have_text(["2", "foundry-local-chat/1"])
    await walk.look("an import refused")
    await dialog.get_by_role("button", name="확인").click()
    await expect(dialog).to_have_count(0)
    await expect(page.locator(THREADS)).to_have_count(1)  # nothing was imported
    assert walk.found == {}, json.dumps(walk.found, ensure_ascii=False, indent=1)
