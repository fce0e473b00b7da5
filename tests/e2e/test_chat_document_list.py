"""The chat's documents over HTTP, against a real `chainlit run` with sign-in and the bundled
model (through a recording proxy): a chat lists its own documents, only its user may list or
remove them, a removed one is gone from the next question, and no request, however malformed,
gets more than a 404 (tests/browser/test_document_list.py: the same in Chromium)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_local_chat.ui.texts import ENGLISH, WORDS
from tests.support.apps import PASSWORD, AppFactory, shared_proxy
from tests.support.chainlit_client import AUTH_COOKIE, ChainlitApi, ChainlitSession
from tests.support.processes import add_user
from tests.support.recording_proxy import RecordingProxy

proxy = pytest.fixture(shared_proxy)
RECIPES = b"# Recipes\n\nGrandmother's plum cake needs exactly seventeen plums.\n"
GARDEN = b"# Garden\n\nThe roses bloom in June and the tulips in April.\n"


@pytest.fixture(scope="module")
async def app(
    module_app: AppFactory, module_proxy: RecordingProxy, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str, str]]:
    """The app's address, and Alice's and Bob's session tokens."""
    users = tmp_path_factory.mktemp("document-list-users") / "users"
    for name in ("alice", "bob"):
        add_user(users, name, PASSWORD)
    url = module_app(FOUNDRY_LOCAL="0", BASE_URL=module_proxy.url, USERS_FILE=str(users),
                     LOOP_GUARD="0", MAX_TOKENS="16", TEMPERATURE="0")  # fmt: skip
    alice = await ChainlitApi(url).sign_in("alice", PASSWORD)
    bob = await ChainlitApi(url).sign_in("bob", PASSWORD)
    yield url, alice, bob


async def listed(url: str, token: str | None, session: str) -> list[dict[str, Any]]:
    answer = await ChainlitApi(url, token).request("GET", f"/chat-documents?session={session}")
    return list(answer["documents"])


async def status_of(url: str, token: str | None, method: str, path: str) -> int:
    headers = {"Cookie": f"{AUTH_COOKIE}={token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url + path, headers=headers, allow_redirects=False) as response,
    ):
        return response.status


async def with_documents(chat: ChainlitSession) -> list[dict[str, Any]]:
    """Attach both files to a message without text, as the paperclip does; their list."""
    files = [
        await chat.upload("recipes.md", RECIPES, "text/markdown"),
        await chat.upload("garden.md", GARDEN, "text/markdown"),
    ]
    await chat.send("", files)
    await chat.collect_reply()  # "… is ready" for each, and no answer
    return await listed(chat.base_url, chat.token, chat.session_id)


async def test_a_chats_documents_are_listed_and_removed_by_its_user_only(
    app: tuple[str, str, str], proxy: RecordingProxy
) -> None:
    url, alice, bob = app
    async with ChainlitSession(url, alice) as chat:
        await chat.ready()
        documents = await with_documents(chat)
        assert [(d["name"], d["kind"], d["bytes"], d["pages"]) for d in documents] == [
            ("recipes.md", "markdown", len(RECIPES), None),
            ("garden.md", "markdown", len(GARDEN), None),
        ]
        recipes = documents[0]["id"]
        mine = f"?session={chat.session_id}"

        async with ChainlitSession(url, bob) as bobs_chat:
            await bobs_chat.ready()
            theirs = f"?session={bobs_chat.session_id}"
            # Another user's chat, a chat without a signed-in user, or one's own chat but
            # another's document: nothing there, to list or to remove.
            for token, where in ((bob, mine), (None, mine), (alice, theirs)):
                assert await status_of(url, token, "GET", f"/chat-documents{where}") == 404
            for token, where in ((bob, mine), (None, mine), (alice, theirs), (bob, theirs)):
                path = f"/chat-documents/{recipes}{where}"
                assert await status_of(url, token, "DELETE", path) == 404
            assert await listed(url, bob, bobs_chat.session_id) == []
        assert await listed(url, alice, chat.session_id) == documents, "another user removed one"

        api = ChainlitApi(url, alice)
        removed = await api.request("DELETE", f"/chat-documents/{recipes}{mine}")
        assert removed == {"removed": "recipes.md"}
        notice = WORDS[ENGLISH].document_removed.format(file="recipes.md").replace("\\", "")
        await chat.wait_for("new_message", lambda m: m["output"] == notice, timeout=30)
        assert [d["name"] for d in await listed(url, alice, chat.session_id)] == ["garden.md"]
        assert await status_of(url, alice, "DELETE", f"/chat-documents/{recipes}{mine}") == 404

        reply = await chat.ask("How many plums does the cake need?")
        assert reply.answer()["output"]
        sent = str(proxy.chat_requests()[-1].body)
        assert "roses bloom in June" in sent and "seventeen plums" not in sent


ids = st.text(max_size=80) | st.uuids().map(str)


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(session=ids, document=ids, method=st.sampled_from(["GET", "DELETE", "POST", "PUT"]))
async def test_no_request_to_the_list_gets_more_than_a_404(
    app: tuple[str, str, str], proxy: RecordingProxy, session: str, document: str, method: str
) -> None:
    url, alice, bob = app
    for token in (alice, bob, None):
        for path in (
            f"/chat-documents?session={quote(session, safe='')}",
            f"/chat-documents/{quote(document, safe='')}?session={quote(session, safe='')}",
        ):
            status = await status_of(url, token, method, path)
            assert status < 500, f"{method} {path}: {status}"
            # (Chainlit's page answers any other GET, the address of a document included.)
            page = method == "GET" and path.startswith("/chat-documents/")
            assert status in (404, 405, 307) or (page and status == 200), (method, path, status)
