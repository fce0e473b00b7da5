"""A deleted chat, with its messages and documents, is gone from SQLite's files (chat.db and its
WAL), not only from what the app shows. Through a real `chainlit run` with sign-in on; the
bytes of the files are read before and after."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from chainlit.message import Message
from chainlit.user import User
from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_local_chat.documents.chunking import chunk
from foundry_local_chat.documents.extract import extract
from foundry_local_chat.documents.store import Owner
from foundry_local_chat.history.data_layer import ChatDataLayer
from foundry_local_chat.storage import database
from tests.support.apps import PASSWORD, AppFactory, signed_in_app
from tests.support.chainlit_client import ChainlitApi, ChainlitSession
from tests.support.chainlit_context import outside_a_chat
from tests.support.recording_proxy import RecordingProxy

MESSAGE_SECRET = b"zebra-7731-quokka"
DOCUMENT_SECRET = b"Marmaladeflux"
DOCUMENT = b"# Vault\n\nThe night porter hides the key under the " + DOCUMENT_SECRET + b" tin.\n"
REPLACED_SECRET = b"Obsoletequince"


def files_of(data_dir: Path) -> bytes:
    """Everything SQLite keeps for the history: the database and its write-ahead log."""
    paths = [data_dir / name for name in ("chat.db", "chat.db-wal", "chat.db-journal")]
    return b"".join(path.read_bytes() for path in paths if path.exists())


async def test_a_deleted_chat_and_its_documents_leave_no_trace_in_the_files(
    chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    url = signed_in_app(chainlit_app, proxy, tmp_path, "alice", APP_DATA_DIR=str(data_dir))
    alice = ChainlitApi(url)
    await alice.sign_in("alice", PASSWORD)
    async with ChainlitSession(url, alice.token) as chat:
        await chat.ready()
        old = await chat.upload("vault.md", b"# Old\n\n" + REPLACED_SECRET + b"\n", "text/markdown")
        await chat.ask("", files=(old,))
        # The same name again replaces the first version: its text goes too.
        new = await chat.upload("vault.md", DOCUMENT, "text/markdown")
        await chat.ask("", files=(new,))
        await chat.ask(f"My vault code is {MESSAGE_SECRET.decode()}. Where is the key?")
    stored = files_of(data_dir)
    assert MESSAGE_SECRET in stored and DOCUMENT_SECRET in stored
    assert REPLACED_SECRET not in stored
    assert REPLACED_SECRET.lower() not in stored  # nor in the full-text index

    [thread] = await alice.threads()
    await alice.request("DELETE", "/project/thread", json={"threadId": thread["id"]})

    assert await alice.threads() == []
    left = files_of(data_dir)
    for secret in (MESSAGE_SECRET, DOCUMENT_SECRET, DOCUMENT_SECRET.lower()):
        assert secret not in left, secret
    assert (data_dir / "chat.db-wal").stat().st_size == 0  # checkpointed and truncated


texts = st.lists(
    # Text a document may hold (control characters make it binary data, refused).
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=300),
    min_size=1,
    max_size=4,
)


async def save_and_delete(url: str, messages: list[str], document: str) -> None:
    layer = ChatDataLayer(url)
    try:
        user = await layer.create_user(User(identifier="alice"))
        assert user is not None
        owner = Owner(str(uuid.uuid4()), user.id)
        store = await layer.documents_of(owner)
        extracted = extract("notes.md", document.encode())
        await store.add(owner, extracted, chunk(extracted))
        with outside_a_chat():
            for text in messages:
                message = Message(content=text)
                message.thread_id = owner.thread_id
                await layer.create_step(message.to_dict())
            await layer.delete_thread(owner.thread_id)
    finally:
        await layer.close()


def test_whatever_a_deleted_chat_said_is_not_in_the_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite+aiosqlite:///{data_dir / 'chat.db'}"
    asyncio.run(database.upgrade(url))

    @settings(max_examples=25, deadline=None, database=None)
    @given(messages=texts, document=texts)
    def one(messages: list[str], document: list[str]) -> None:
        marked = [f"{uuid.uuid4().hex} {text}" for text in messages]  # unique in the files
        paragraphs = [f"q{uuid.uuid4().hex} {text}" for text in document]
        asyncio.run(save_and_delete(url, marked, "\n\n".join(paragraphs)))
        left = files_of(data_dir)
        for text in (*marked, *paragraphs):
            assert text.split()[0].encode() not in left
            assert text.encode() not in left

    one()
