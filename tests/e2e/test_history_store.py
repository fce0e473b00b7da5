"""The history database without a server: schema, the data layer's round trips, failures."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest
from chainlit.message import Message
from chainlit.step import Step
from chainlit.user import User
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from foundry_local_chat.chat.turn import REPLY_MODEL_KEY, turn_role
from foundry_local_chat.documents.chunking import chunk
from foundry_local_chat.documents.extract import extract
from foundry_local_chat.documents.store import Owner
from foundry_local_chat.history.data_layer import ChatDataLayer, PersistenceError
from foundry_local_chat.storage import database
from tests.support.chainlit_context import outside_a_chat
from tests.support.pdf_maker import text_pdf
from tests.support.postgres import PostgresServer

TABLES = {"users", "threads", "steps", "elements", "feedbacks", database.VERSION_TABLE}


async def test_schema_is_created_from_empty_and_upgrading_again_changes_nothing(
    database_url: str,
) -> None:
    if database.is_sqlite(database_url):
        database.sqlite_path(database_url).parent.mkdir(parents=True)  # type: ignore[union-attr]
    assert await database.upgrade(database_url) == "0005"
    assert await database.upgrade(database_url) == "0005"
    engine = database.create_engine(database_url)
    async with engine.connect() as connection:

        def columns(sync_connection) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
            inspector = inspect(sync_connection)
            return {t: {c["name"] for c in inspector.get_columns(t)} for t in TABLES}

        schema = await connection.run_sync(columns)
    await engine.dispose()
    # Every key Chainlit 2.12 writes for a message or a step has its column.
    with outside_a_chat():
        keys = set(Message(content="x").to_dict()) | set(Step(name="s").to_dict())
    assert keys <= schema["steps"], keys - schema["steps"]


async def test_tags_and_metadata_come_back_as_lists_and_dicts(layer: ChatDataLayer) -> None:
    user = await layer.create_user(User(identifier="alice", metadata={"sign_in": "password"}))
    assert user is not None and user.metadata == {"sign_in": "password"}
    thread_id = str(uuid.uuid4())
    # What Chainlit does with a chat profile and auto_tag_thread: a *list* of tags.
    await layer.update_thread(
        thread_id, name="Hello", user_id=user.id, tags=["Tester"],
        metadata={"chat_settings": {"temperature": 0.7}},
    )  # fmt: skip
    with outside_a_chat():
        answer = Message(
            content="Hi!", author="m", metadata={REPLY_MODEL_KEY: "m", "stats": "1 token"}
        )
        answer.thread_id = thread_id
        await layer.create_step({**answer.to_dict(), "modes": {"mode": "fast"}})

    thread = await layer.get_thread(thread_id)
    assert thread is not None
    assert thread["tags"] == ["Tester"]
    assert thread["userIdentifier"] == "alice"
    assert thread["metadata"]["chat_settings"] == {"temperature": 0.7}
    [step] = thread["steps"]
    assert step["metadata"] == {REPLY_MODEL_KEY: "m", "stats": "1 token"}
    assert turn_role(step["type"], step["metadata"]) == "assistant"  # resume keeps answers
    [listed] = (await layer.get_all_user_threads(user_id=user.id)) or []
    assert listed["id"] == thread_id


async def test_a_threads_documents_are_found_only_for_it_and_its_user_and_go_with_it(
    layer: ChatDataLayer,
) -> None:
    """Retrieval on each database's own full-text search (FTS5 bm25, tsvector ts_rank)."""
    alice = await layer.create_user(User(identifier="alice"))
    bob = await layer.create_user(User(identifier="bob"))
    assert alice is not None and bob is not None
    thread_id = str(uuid.uuid4())
    owner = Owner(thread_id, alice.id)
    store = await layer.documents_of(owner)  # the thread gets its row first
    pages = [[f"Page {n}: harbour ledger, crates of timber."] for n in range(1, 6)]
    pages[2].append("The lighthouse keeper's cat is called Marmalade.")
    report = extract("report.pdf", text_pdf(pages))
    await store.add(owner, report, chunk(report))

    [best, *_] = await store.search(owner, "What is the lighthouse keeper's cat called?", 3)
    assert (best.document, best.page) == ("report.pdf", 3)
    korean = extract("노트.md", "# 등대\n\n등대지기의 고양이는 마멀레이드입니다.\n".encode())
    await store.add(owner, korean, chunk(korean))
    [best] = await store.search(owner, "등대지기 고양이의 이름은?", 1)
    assert best.document == "노트.md"
    assert await store.search(Owner(thread_id, bob.id), "lighthouse cat", 3) == []
    with outside_a_chat():
        await layer.delete_thread(thread_id)
    assert await store.search(owner, "lighthouse cat", 3) == []
    assert await store.passages(owner) == []


async def test_a_failed_save_outside_a_chat_raises(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'no-schema.db'}"  # never migrated: no tables
    data_layer = ChatDataLayer(url)
    try:
        with pytest.raises(PersistenceError, match="saving the chat history failed"):
            await data_layer.update_thread(str(uuid.uuid4()), name="lost")
        assert await data_layer.get_thread(str(uuid.uuid4())) is None  # reads: logged, None
    finally:
        await data_layer.close()


def test_an_unreachable_database_is_a_clear_error_without_its_password() -> None:
    from tests.support.processes import free_port

    url = f"postgresql+asyncpg://chat:hunter22@127.0.0.1:{free_port()}/chat"
    with pytest.raises(database.DatabaseError) as error:
        database.prepare(url)
    message = str(error.value)
    assert message.startswith("the chat history database postgresql+asyncpg://chat:***@")
    assert "hunter22" not in message and "Check DATABASE_URL" in message


def test_a_database_server_that_never_answers_is_a_clear_error() -> None:
    """asyncpg gives up after its connect timeout with a bare TimeoutError, whose message is
    empty: the error still names the database (its first line once raised IndexError)."""
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"postgresql+asyncpg://chat@127.0.0.1:{silent.getsockname()[1]}/chat"
        with pytest.raises(database.DatabaseError) as error:
            database.prepare(url)
    assert str(error.value) == (
        f"the chat history database {url} cannot be used: TimeoutError. "
        "Check DATABASE_URL and that the database server is running."
    )


def test_a_drivers_error_reads_as_its_first_line_or_its_type() -> None:
    statement = "INSERT INTO steps VALUES (?)"
    refused = OperationalError(statement, {}, Exception("database is locked\n[SQL: …]"))
    assert database.driver_reason(refused) == "database is locked"
    assert database.driver_reason(OperationalError(statement, {}, TimeoutError())) == "TimeoutError"


async def test_history_moves_from_a_sqlite_file_into_postgresql(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    laptop = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    await database.upgrade(laptop)
    old = ChatDataLayer(laptop)
    user = await old.create_user(User(identifier="alice"))
    assert user is not None
    thread_id = str(uuid.uuid4())
    await old.update_thread(thread_id, name="Hello", user_id=user.id, tags=["Tester"])
    with outside_a_chat():
        for text in ("Hello", "Hi there!"):
            message = Message(content=text, metadata={REPLY_MODEL_KEY: "m"})
            message.thread_id = thread_id
            await old.create_step(message.to_dict())
    owner = Owner(thread_id, user.id)
    notes = extract("notes.md", b"# Cats\nMarmalade sleeps by the lamp.\n\n# Dogs\nRex.\n")
    await old.documents.add(owner, notes, chunk(notes))
    before = await old.get_thread(thread_id)
    await old.close()
    assert before is not None and [s["output"] for s in before["steps"]] == ["Hello", "Hi there!"]

    server = await postgres.create_database()
    copied = await database.copy_history(laptop, server)
    assert copied == {"users": 1, "threads": 1, "steps": 2, "elements": 0, "feedbacks": 0,
                      "documents": 1, "document_chunks": 2}  # fmt: skip
    new = ChatDataLayer(server)
    try:
        after = await new.get_thread(thread_id)
        assert after == before
        assert (await new.get_user("alice")).id == user.id  # type: ignore[union-attr]
        [found] = await new.documents.search(owner, "where does the cat sleep", 1)
        assert found.section == "Cats"
        another = extract("more.md", b"# Birds\nA heron.\n")
        await new.documents.add(owner, another, chunk(another))  # new passage ids go on
        assert len(await new.documents.passages(owner)) == 3
    finally:
        await new.close()
    with pytest.raises(database.DatabaseError, match="already holds users"):
        await database.copy_history(laptop, server)
