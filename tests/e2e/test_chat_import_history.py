"""An imported chat in the history database, on SQLite and PostgreSQL, without a server: it is
written whole, reads back through the data layer as the chat it was (its export is the file's
chat), belongs to the importer alone, and a failure part-way leaves nothing behind."""

from __future__ import annotations

import json

import pytest
from chainlit.user import User
from sqlalchemy import text

from foundry_local_chat.chat.turn import turn_role
from foundry_local_chat.history.data_layer import ChatDataLayer
from foundry_local_chat.history.export import parse_chat_export
from foundry_local_chat.history.new_thread import ThreadNotSaved, save_new_thread
from foundry_local_chat.history.ownership import ActingUser, acting_as
from foundry_local_chat.storage import database
from foundry_local_chat.ui.chat_export import chat_export
from foundry_local_chat.ui.chat_import import imported_thread
from foundry_local_chat.ui.texts import ENGLISH, WORDS
from tests.support.chat_files import a_file

# A database that refuses the last statement of an import: the elements.
REFUSE_ELEMENTS = {
    "sqlite": [
        "CREATE TRIGGER refuse_elements BEFORE INSERT ON elements "
        "BEGIN SELECT RAISE(ABORT, 'elements refused by the test'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_elements() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'elements refused by the test'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_elements BEFORE INSERT ON elements "
        "FOR EACH ROW EXECUTE FUNCTION refuse_elements()",
    ],
}


async def user(layer: ChatDataLayer, name: str) -> ActingUser:
    persisted = await layer.create_user(User(identifier=name))
    assert persisted is not None
    return ActingUser(name, persisted.id)


async def counts(layer: ChatDataLayer) -> dict[str, int]:
    async with layer.engine.connect() as connection:
        return {
            table: (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("threads", "steps", "elements")
        }


async def test_an_imported_chat_reads_back_whole_for_its_importer_only(
    layer: ChatDataLayer,
) -> None:
    alice, bob = await user(layer, "alice"), await user(layer, "bob")
    chat = parse_chat_export(json.dumps(a_file(title="프랑스의 수도")).encode())
    new = imported_thread(chat, alice, WORDS[ENGLISH])
    await save_new_thread(layer.engine, new)

    with acting_as(alice):
        thread = await layer.get_thread(new.id)
    assert thread is not None and thread["userIdentifier"] == "alice"
    assert thread["name"] == "프랑스의 수도" and thread["tags"] == ["Auto"]
    assert thread["metadata"]["chat_settings"]["temperature"] == 0.0
    # What a resumed chat sends: every question and answer, in order, the refused one left out.
    conversation = [
        (role, s["output"])
        for s in thread["steps"]
        if (role := turn_role(s["type"], s["metadata"]))
    ]
    assert conversation == [
        ("user", "What is the capital of France?"),
        ("assistant", "It is Paris."),
        ("user", "And of Spain?"),
        ("assistant", "Madrid."),
    ]
    [versions, speed] = sorted(thread["elements"], key=lambda e: e["props"]["versions"])[::-1]
    assert versions["props"]["versions"] == 2 and speed["props"]["summary"] == "3 tokens"
    # Exported again, it is the chat of the file: every message, time, version and setting.
    again = chat_export(thread, [], top_p=chat.settings.top_p)
    assert again.messages == [
        m.model_copy(update={"sources": []}) if m.role == "assistant" else m for m in chat.messages
    ]  # (sources are shown with the answer when it is given; an import has none to show)
    assert (again.settings, again.chat_profile, again.created_at) == (
        chat.settings,
        chat.chat_profile,
        chat.created_at,
    )

    with acting_as(bob):
        assert await layer.get_thread(new.id) is None
        assert await layer.get_all_user_threads(user_id=bob.id) == []
        assert await layer.get_thread_author(new.id) == ""


async def test_a_failure_part_way_leaves_no_half_imported_chat(
    layer: ChatDataLayer, database_url: str
) -> None:
    alice = await user(layer, "alice")
    dialect = "sqlite" if database.is_sqlite(database_url) else "postgresql"
    async with layer.engine.begin() as connection:
        for statement in REFUSE_ELEMENTS[dialect]:
            await connection.execute(text(statement))
    new = imported_thread(parse_chat_export(json.dumps(a_file()).encode()), alice, WORDS[ENGLISH])
    assert new.steps and new.elements  # the thread and its steps are written before them

    with pytest.raises(ThreadNotSaved, match="elements refused by the test"):
        await save_new_thread(layer.engine, new)
    assert await counts(layer) == {"threads": 0, "steps": 0, "elements": 0}
    with acting_as(alice):
        assert await layer.get_all_user_threads(user_id=alice.id) == []
