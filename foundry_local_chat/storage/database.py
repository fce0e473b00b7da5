"""The chat-history database: engines for SQLite and PostgreSQL, and the schema's migrations.

The schema belongs to this project, not to Chainlit (whose SQLAlchemy data layer creates no
tables): Alembic revisions in `migrations/versions/`, the same for both databases, applied on
every start (`upgrade`, idempotent) and by `python -m foundry_local_chat db upgrade`. Two
instances starting at once take turns: PostgreSQL through an advisory lock, SQLite through a
lock file next to the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, event, func, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from foundry_local_chat.config import SQLITE_DRIVER, redact_url
from foundry_local_chat.errors import FoundryLocalChatError, one_line

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: its import logs (plugin set-up), and the app's log
# format (LOG_FORMAT=json) is not set up yet while app.py imports this module.

VERSION_TABLE = "chat_schema_version"
HISTORY_TABLES = (  # parents first
    "users", "threads", "steps", "elements", "feedbacks", "documents", "document_chunks",
)  # fmt: skip
# Columns each database fills in itself: a passage's id (a sequence on PostgreSQL, which copied
# ids would leave behind) and PostgreSQL's search column (generated).
NOT_COPIED = {"document_chunks": {"id", "search"}}
# Any constant: the key of the PostgreSQL advisory lock held while migrating.
MIGRATION_LOCK_KEY = 0x46_4C_43_48_41_54  # "FLCHAT"


class DatabaseError(FoundryLocalChatError, RuntimeError):
    """The history database cannot be reached or prepared; the message says which and why."""


def driver_reason(error: BaseException) -> str:
    """One line a person can read: the database driver's message, not SQLAlchemy's SQL dump."""
    return one_line(getattr(error, "orig", None) or error)


def is_sqlite(url: str) -> bool:
    return make_url(url).drivername == SQLITE_DRIVER


def sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def engine_options(url: str) -> dict[str, Any]:
    if is_sqlite(url):
        # sqlite3's busy timeout: wait for another writer instead of failing at once.
        return {"connect_args": {"timeout": 30}}
    # Fail fast when PostgreSQL is down, and drop pooled connections a restart has broken.
    return {"connect_args": {"timeout": 10, "command_timeout": 30}, "pool_pre_ping": True}


def create_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, **engine_options(url))
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # as PostgreSQL does
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
    cursor.execute(
        "PRAGMA secure_delete=ON"
    )  # deleted rows are overwritten, not left in free pages
    cursor.close()


FTS_TABLE = "document_chunks_fts"


async def forget_deleted(engine: AsyncEngine, *, passages: bool = False) -> None:
    """After a delete, leave nothing of the deleted rows in SQLite's files: with `passages`
    (document passages were deleted), the full-text index merges its segments (deleted
    passages' words stay in old segments until then; a merge rewrites the whole index), and the WAL,
    which still holds the pages as they were before, is written back and emptied. secure_delete
    has already zeroed the freed space. PostgreSQL keeps deleted rows as dead tuples until
    VACUUM (see the README)."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.begin() as connection:
        indexed = passages and await connection.scalar(
            text("SELECT count(*) FROM sqlite_master WHERE name = :name"), {"name": FTS_TABLE}
        )
        if indexed:
            await connection.execute(
                text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")
            )
    async with engine.connect() as connection:
        await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "foundry_local_chat.storage:migrations")
    config.set_main_option("version_table", VERSION_TABLE)
    return config


@contextlib.contextmanager
def _sqlite_migration_lock(url: str) -> Iterator[None]:
    path = sqlite_path(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(path.name + ".migrate-lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def migrate(connection: Connection, revision: str = "head") -> None:
    """Bring the schema on this (synchronous) connection to `revision`: also how a chat without
    history gets the same tables in memory (document_store.DocumentStore.in_memory)."""
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


async def upgrade(url: str, revision: str = "head") -> str | None:
    """Bring the schema to `revision` (creating it in an empty database); returns the version."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            if not is_sqlite(url):
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            await connection.run_sync(migrate, revision)
            return await connection.run_sync(_current)
    finally:
        await engine.dispose()


def prepare(url: str) -> str | None:
    """Migrate before the app serves: raises DatabaseError with a message a person can act on."""
    try:
        with _sqlite_migration_lock(url) if is_sqlite(url) else contextlib.nullcontext():
            return asyncio.run(upgrade(url))
    except Exception as error:
        raise DatabaseError(
            f"the chat history database {redact_url(url)} cannot be used: "
            f"{driver_reason(error)}. "
            "Check DATABASE_URL and that the database server is running."
        ) from error


async def copy_history(source: str, target: str) -> dict[str, int]:
    """Copy every user, thread, step, element and feedback from `source` into `target`, which
    must hold no history yet (both are migrated first). Returns the rows copied per table.

    The schema is the same on SQLite and PostgreSQL, so this moves one machine's history
    (its SQLite file) into a shared PostgreSQL, or back."""
    for url in (source, target):
        await upgrade(url)
    reader, writer = create_engine(source), create_engine(target)
    copied: dict[str, int] = {}
    try:
        async with reader.connect() as source_db, writer.begin() as target_db:
            tables = MetaData()
            await source_db.run_sync(lambda sync: tables.reflect(sync, only=HISTORY_TABLES))
            users = tables.tables["users"]
            if await target_db.scalar(select(func.count()).select_from(users)):
                raise DatabaseError(
                    f"{redact_url(target)} already holds users: copy only into an empty history."
                )
            for name in HISTORY_TABLES:
                table = tables.tables[name]
                skipped = NOT_COPIED.get(name, set())
                rows = [
                    {key: value for key, value in row._mapping.items() if key not in skipped}
                    for row in await source_db.execute(select(table))
                ]
                if rows:
                    await target_db.execute(table.insert(), rows)
                copied[name] = len(rows)
    finally:
        await reader.dispose()
        await writer.dispose()
    return copied


async def ping(engine: AsyncEngine) -> None:
    """One round trip to the database (readiness); raises what the driver raises."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
