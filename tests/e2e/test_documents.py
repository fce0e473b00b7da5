"""Chat with your own documents through the real parts: `chainlit run` with sign-in and history
(SQLite, then PostgreSQL), files uploaded through Chainlit's /project/file route the way the
attach button does, socket.io for the chat, and the bundled model behind a recording proxy whose
requests show what the model was given.

One test per database does it all, so that each starts the app twice (before and after a
restart) and no more: the passage for a question about page 3 (and not an unrelated page's)
reaches the model, a small document goes whole, sources and document tokens are shown, bad files
get their line, another user can neither retrieve the documents nor open their sources, and
after a restart the resumed chat still answers from them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio

from foundry_local_chat.documents.store import DocumentStore, Owner, StoredDocument
from foundry_local_chat.storage import database
from foundry_local_chat.ui.texts import ENGLISH, WORDS
from tests.support.apps import PASSWORD
from tests.support.chainlit_client import (
    ChainlitApi,
    ChainlitSession,
    Reply,
    messages_of,
)
from tests.support.pdf_maker import encrypted_pdf, text_pdf
from tests.support.processes import RunningProcess, add_user, clean_env, free_port, start_chainlit
from tests.support.recording_proxy import RecordingProxy

SAID = WORDS[ENGLISH]
CAT_FACT = "The lighthouse keeper's cat is called Marmalade and sleeps beside the lamp."
TIDE_FACT = "High tide at the north pier comes at eleven minutes past four."
RECIPE_FACT = "Grandmother's plum cake needs exactly seventeen plums."
CAT_QUESTION = "What is the name of the lighthouse keeper's cat?"


def harbour_report() -> bytes:
    """Twenty pages, longer than the bundled model's context; the cat is on page 3, the tide on
    page 12 and nowhere else."""
    entry = "Entry {}: the crane lifted {} crates of timber, rope and tar."
    pages = [
        [f"Page {n}: harbour ledger for the winter season."]
        + [entry.format(i, i * n) for i in range(45)]
        for n in range(1, 21)
    ]
    pages[2].insert(20, CAT_FACT)
    pages[11].insert(20, TIDE_FACT)
    return text_pdf(pages)


def notes() -> bytes:
    return f"# Recipes\n\n{RECIPE_FACT}\n\n# Garden\n\nThe roses bloom in June.\n".encode()


def sent_to_model(proxy: RecordingProxy) -> str:
    """The last request's messages, as the model server received them."""
    body = proxy.chat_requests()[-1].body
    assert body is not None
    return str(body["messages"])


def question_to_model(proxy: RecordingProxy) -> str:
    """The last request's question, with the passages found for it (earlier questions are
    repeated as they were sent, passages and all, so they stay read at the endpoint)."""
    body = proxy.chat_requests()[-1].body
    assert body is not None
    return str(body["messages"][-1]["content"])


def lines(reply: Reply) -> list[str]:
    """The app's lines that stayed (not the "Reading …" status, which goes once done)."""
    deleted = {m["id"] for m in reply.of("delete_message")}
    return [
        m["output"] for m in reply.of("new_message")
        if m.get("name") == "Foundry Local Chat" and m["id"] not in deleted
    ]  # fmt: skip


def sources_of(reply: Reply) -> dict[str, str]:
    """The sources under the answer: each button's label, and the text it opens."""
    [line] = [m for m in reply.of("new_message") if (m.get("metadata") or {}).get("sources")]
    [shown] = [e for e in reply.of("element") if e.get("forId") == line["id"]]
    return {source["label"]: source["text"] for source in shown["props"]["sources"]}


@pytest.fixture
def apps(bundled_model_dir: Path) -> Iterator[list[RunningProcess]]:
    """The app processes a test starts (it restarts them); all stopped at the end."""
    running: list[RunningProcess] = []
    yield running
    for process in running:
        process.stop()


def start_app(apps: list[RunningProcess], settings: dict[str, str]) -> str:
    port = free_port()
    env = clean_env({"FOUNDRY_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
                     "FOUNDRY_OFFLINE": "1", **settings})  # fmt: skip
    apps.append(start_chainlit(env, port))
    return f"http://127.0.0.1:{port}"


async def stored_documents(database_url: str, owner: Owner) -> list[StoredDocument]:
    engine = database.create_engine(database_url)
    try:
        return await DocumentStore(engine).documents(owner)
    finally:
        await engine.dispose()


async def test_documents_are_answered_from_shown_kept_with_the_thread_and_private(
    apps: list[RunningProcess],
    proxy: RecordingProxy,
    history_database: dict[str, str],
    tmp_path: Path,
) -> None:
    proxy.max_tokens_cap = 12  # what the model writes does not matter here, what it reads does
    users = tmp_path / "users"
    for name in ("alice", "bob"):
        add_user(users, name, PASSWORD)
    data_dir = tmp_path / "data"
    settings = {
        "FOUNDRY_LOCAL": "0", "BASE_URL": proxy.url, "USERS_FILE": str(users),
        "APP_DATA_DIR": str(data_dir), "LOOP_GUARD": "0", **history_database,
    }  # fmt: skip
    database_url = history_database.get(
        "DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / 'chat.db'}"
    )
    url = start_app(apps, settings)
    alice, bob = ChainlitApi(url), ChainlitApi(url)
    await alice.sign_in("alice", PASSWORD)
    await bob.sign_in("bob", PASSWORD)

    async with ChainlitSession(url, alice.token) as chat:
        assert await chat.ready() is None
        report = await chat.upload("report.pdf", harbour_report(), "application/pdf")
        locked = await chat.upload("locked.pdf", encrypted_pdf([["secret"]]), "application/pdf")
        photo = await chat.upload("photo.png", b"\x89PNG\r\n\x1a\n", "image/png")
        uploaded = await chat.ask("", files=(report, locked, photo))
        assert lines(uploaded) == [
            SAID.document_ready.format(file="report.pdf", passages=60, pages=" from 20 pages"),
            SAID.document_encrypted.format(file="locked.pdf"),
            SAID.document_unsupported.format(
                file="photo.png", kinds="`.txt`, `.md`, `.pdf`, `.html`"
            ),
        ]

        answer = await chat.ask(CAT_QUESTION)
        request = sent_to_model(proxy)
        assert "Marmalade" in request and "[report.pdf, page 3]" in request
        assert "High tide" not in request and "page 12" not in request
        sources = sources_of(answer)
        assert next(iter(sources)) == "report.pdf, page 3"
        assert "Marmalade" in sources["report.pdf, page 3"]
        assert " · documents " in answer.stats()["summary"]

        # Bob, in his own chat, asks the same: nothing of Alice's reaches his request.
        async with ChainlitSession(url, bob.token) as bobs_chat:
            assert await bobs_chat.ready() is None
            await bobs_chat.ask(CAT_QUESTION)
            assert "Marmalade" not in sent_to_model(proxy)

    # A new chat with a small document: it goes whole.
    async with ChainlitSession(url, alice.token) as chat:
        assert await chat.ready() is None
        small = await chat.upload("notes.md", notes(), "text/markdown")
        answer = await chat.ask("How many plums does the cake need?", files=(small,))
        request = sent_to_model(proxy)
        assert "[notes.md (whole)]" in request and "roses bloom in June" in request
        assert list(sources_of(answer)) == ["notes.md"]

    [report_thread] = [
        thread for thread in await alice.threads()
        if ("user_message", CAT_QUESTION) in messages_of(thread)
    ]  # fmt: skip
    owner = Owner(report_thread["id"], (await alice.user())["id"])
    assert [d.name for d in await stored_documents(database_url, owner)] == ["report.pdf"]
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with ChainlitSession(url, bob.token, thread_id=report_thread["id"]):
            pass

    # Restart the app on the same database: the resumed chat still answers from the report.
    apps.pop().stop()
    url = start_app(apps, settings)
    alice = ChainlitApi(url, alice.token)
    async with ChainlitSession(url, alice.token, thread_id=report_thread["id"]) as chat:
        resumed = await chat.wait_for("resume_thread")
        # The sources come back with the chat: each passage in the element's props.
        [shown] = [e for e in resumed["elements"] if e["name"] == "Sources"]
        [source] = [s for s in shown["props"]["sources"] if s["label"] == "report.pdf, page 3"]
        assert "Marmalade" in source["text"]
        answer = await chat.ask("When is high tide at the north pier?")
        request = question_to_model(proxy)
        assert "eleven minutes past four" in request and "[report.pdf, page 12]" in request
        # The earlier question is repeated as it was sent (passages and all); the new one has
        # only its own passages.
        question = proxy.chat_requests()[-1].body["messages"][-1]["content"]  # type: ignore[index]
        assert "Marmalade" not in question
        assert next(iter(sources_of(answer))) == "report.pdf, page 12"

    # Deleting the thread (the sidebar's delete) deletes its documents and their passages.
    await alice.request("DELETE", "/project/thread", json={"threadId": report_thread["id"]})
    assert await stored_documents(database_url, owner) == []
