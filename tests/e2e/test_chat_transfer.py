"""The export and import routes of a real `chainlit run` (server/chat_transfer.py), on SQLite and
PostgreSQL: a chat is downloaded by its owner only, never for another user, another web page or
nobody; an import is the importer's alone, and a file the app cannot take is refused with a
reason in the user's language, leaving nothing behind."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import pytest

from foundry_local_chat.history.export import FORMAT, MAX_IMPORT_BYTES, parse_chat_export
from tests.support.apps import PASSWORD, AppFactory, signed_in_app
from tests.support.chainlit_client import AUTH_COOKIE, ChainlitApi, ChainlitSession, messages_of
from tests.support.recording_proxy import RecordingProxy

EXPORT = "/chat-transfer/export/{thread}?format={format}"
IMPORT = "/chat-transfer/import"


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


async def call(
    url: str, method: str, path: str, token: str | None, body: bytes | None = None,
    **headers: str,
) -> Answer:  # fmt: skip
    sent = {key.replace("_", "-"): value for key, value in headers.items()}
    if token:
        sent["Cookie"] = f"{AUTH_COOKIE}={token}"
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url + path, data=body, headers=sent) as response,
    ):
        return Answer(response.status, dict(response.headers), await response.read())


async def export(
    url: str, thread: str, token: str | None, format: str = "json", **headers: str
) -> Answer:
    return await call(url, "GET", EXPORT.format(thread=thread, format=format), token, **headers)


async def import_file(
    url: str, token: str | None, body: bytes, path: str = IMPORT, **headers: str
) -> Answer:
    headers.setdefault("Content_Type", "application/json")
    return await call(url, "POST", path, token, body, **headers)


@pytest.fixture
def app(
    chainlit_app: AppFactory,
    proxy: RecordingProxy,
    tmp_path: Path,
    history_database: dict[str, str],
) -> str:
    return signed_in_app(chainlit_app, proxy, tmp_path, "alice", "bob", **history_database)


async def test_a_chat_goes_to_its_owner_only_and_an_import_to_the_importer_only(app: str) -> None:
    alice, bob = ChainlitApi(app), ChainlitApi(app)
    await alice.sign_in("alice", PASSWORD)
    await bob.sign_in("bob", PASSWORD)
    async with ChainlitSession(app, alice.token) as tab:
        assert await tab.ready() is None
        await tab.ask("Alice's locker code is 4711. What is the capital of France?")
    [thread] = await alice.threads()
    stored = messages_of(await alice.thread(thread["id"]))

    markdown = await export(app, thread["id"], alice.token, "md")
    assert markdown.status == 200, markdown.body
    assert markdown.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert markdown.headers["Cache-Control"] == "no-store"
    assert markdown.headers["X-Content-Type-Options"] == "nosniff"
    disposition = markdown.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Alice')
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == (
        "Alice's locker code is 4711. What is the capital of France.md"
    )
    assert "> Alice's locker code is 4711." in markdown.body.decode()
    exported = await export(app, thread["id"], alice.token, "json")
    assert exported.headers["Content-Type"] == "application/json"
    chat = parse_chat_export(exported.body)
    assert [(m.role, m.content) for m in chat.messages] == [
        ("user" if kind == "user_message" else "assistant", text) for kind, text in stored
    ]

    # Nobody else gets it: not another user, not without a session, not for a made-up id.
    for format in ("md", "json"):
        assert (await export(app, thread["id"], bob.token, format)).status == 404
    assert (await export(app, thread["id"], None)).status == 401
    assert (await export(app, str(uuid.uuid4()), alice.token)).status == 404
    assert (await export(app, thread["id"], alice.token, "pdf")).status == 400
    # Not for another web page either, whether it fetches (Origin) or links (Sec-Fetch-Site).
    port = urlsplit(app).port
    foreign = f"http://127.0.0.1:{port + 1}"  # same site: the browser sends the cookie
    assert (await export(app, thread["id"], alice.token, Origin=foreign)).status == 403
    for site in ("same-site", "cross-site"):
        answer = await export(app, thread["id"], alice.token, Sec_Fetch_Site=site)
        assert answer.status == 403 and b"4711" not in answer.body
    for site in ("same-origin", "none"):  # the app's own page, an address typed in
        assert (await export(app, thread["id"], alice.token, Sec_Fetch_Site=site)).status == 200

    # Bob imports Alice's file (she gave it to him): his own new chat, which she cannot export.
    imported = await import_file(app, bob.token, exported.body)
    assert imported.status == 201, imported.body
    new_id = imported.json()["thread_id"]
    assert new_id != thread["id"]
    assert [t["id"] for t in await bob.threads()] == [new_id]
    assert [t["id"] for t in await alice.threads()] == [thread["id"]]
    assert (await export(app, new_id, alice.token)).status == 404
    again = parse_chat_export((await export(app, new_id, bob.token)).body)
    assert again.messages == chat.messages and again.settings == chat.settings
    assert messages_of(await bob.thread(new_id)) == stored


async def test_a_file_the_app_cannot_take_is_refused_and_nothing_is_imported(app: str) -> None:
    alice = ChainlitApi(app)
    await alice.sign_in("alice", PASSWORD)
    body = json.dumps({
        "format": FORMAT, "title": "Imported", "created_at": "2026-01-31T12:00:00Z",
        "messages": [{"role": "user", "content": "Hi", "created_at": "2026-01-31T12:00:01Z"}],
    }).encode()  # fmt: skip
    newer = body.replace(FORMAT.encode(), b"foundry-local-chat/2")

    refused = await import_file(app, alice.token, newer)
    assert refused.status == 422
    assert refused.json()["detail"] == (
        "The chat was not imported: the file's format version `2` is not one this app reads "
        "(it reads `foundry-local-chat/1`): it may come from a newer version of the app."
    )
    korean = await import_file(app, alice.token, newer, path=f"{IMPORT}?lang=ko")
    assert korean.json()["detail"].startswith("채팅을 가져오지 못했습니다: 이 앱이 읽지 못하는")
    wrong_type = await import_file(app, alice.token, body, Content_Type="text/plain")
    assert wrong_type.status == 415
    too_large = await import_file(app, alice.token, b" " * (MAX_IMPORT_BYTES + 1))
    assert too_large.status == 413
    foreign = f"http://localhost:{urlsplit(app).port}"  # another name for the app: another origin
    assert (await import_file(app, alice.token, body, Origin=foreign)).status == 403
    assert (await import_file(app, None, body)).status == 401
    assert await alice.threads() == []  # none of them left anything

    imported = await import_file(app, alice.token, body, Origin=app)  # from the app's own page
    assert imported.status == 201
    assert [t["name"] for t in await alice.threads()] == ["Imported"]


async def test_without_history_there_is_nothing_to_export_or_import(
    chainlit_app: AppFactory, proxy: RecordingProxy
) -> None:
    app = chainlit_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url)  # nobody signs in: no history
    assert (await export(app, str(uuid.uuid4()), None)).status == 404
    assert (await import_file(app, None, b"{}")).status == 404
