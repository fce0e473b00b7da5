"""Where a chat's documents and their passages are kept, and the passages found for a question.

With history on, in the history database (tables of migration 0002): a document belongs to a
thread and its user, and every read is filtered by both, so one user's documents never reach
another's chat. With history off, in a SQLite database in memory that the chat session holds
(`DocumentStore.in_memory`): it goes when the session does.

Ranking is lexical, by the database's own full-text search: SQLite FTS5 with bm25, PostgreSQL
with ts_rank over a tsvector. No embedding model is needed.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

from foundry_local_chat.documents.chunking import Chunk
from foundry_local_chat.documents.extract import ExtractedDocument
from foundry_local_chat.storage import database

T = TypeVar("T")

MAX_SEARCH_TERMS = 32
WORD = re.compile(r"\w+")
# Words that say nothing about which passage answers (English; other languages rank on all words).
_STOPWORDS = (
    "a about an and any are as at be been but by can could did do does for from had has have "
    "how i if in into is it its me my no not of on or our please so tell than that the their "
    "them then there these they this those to us was we were what when where which who whom "
    "why will with would you your"
)
STOPWORDS = frozenset(_STOPWORDS.split())


HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Endings written onto a Korean word (case particles, the copula), longest first.
_PARTICLES = (
    "은 는 이 가 을 를 의 에 에서 에게 와 과 도 로 으로 만 까지 부터 이나 나 이다 입니다 예요 "
    "이에요 인가요 인지"
)
KOREAN_PARTICLES = sorted(_PARTICLES.split(), key=len, reverse=True)


@dataclass(frozen=True)
class Owner:
    """Whose documents: a thread and its user ("" when nobody signs in)."""

    thread_id: str
    user_id: str = ""


@dataclass(frozen=True)
class StoredDocument:
    id: str
    name: str
    kind: str
    pages: int | None
    chars: int
    passages: int
    size: int | None = None  # the file's bytes as attached (None: stored before this was kept)


@dataclass(frozen=True)
class ListedDocument:
    """A document as a chat's export names it."""

    name: str
    kind: str
    pages: int | None
    added_at: str  # ISO 8601, in UTC


@dataclass(frozen=True)
class Passage:
    document: str  # the file's name
    position: int
    text: str
    page: int | None = None
    section: str | None = None


@dataclass(frozen=True)
class Term:
    text: str  # letters, digits and underscores only
    prefix: bool = False  # matches the words that begin with it


@dataclass(frozen=True)
class LookUp:
    documents: list[StoredDocument]
    matches: list[Passage]  # best first


def search_terms(question: str) -> list[Term]:
    """The question's words that can tell passages apart, lower-cased, each once. A Korean word
    is searched by its stem as a prefix: Korean writes particles onto the word, so "고양이의"
    in a question finds "고양이는" in a passage."""
    words = [word.lower() for word in WORD.findall(question)]
    telling = [w for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    terms = []
    for word in list(dict.fromkeys(telling or words))[:MAX_SEARCH_TERMS]:
        stem = _korean_stem(word) if HANGUL.search(word) else None
        terms.append(Term(stem, prefix=True) if stem else Term(word))
    return terms


def _korean_stem(word: str) -> str | None:
    """The word without its trailing particle, when two syllables or more remain."""
    for particle in KOREAN_PARTICLES:
        if word.endswith(particle) and len(word) - len(particle) >= 2:
            return word[: -len(particle)]
    return word if len(word) >= 2 else None


class DocumentStore:
    """A chat's documents on one database: the history's (AsyncEngine) or a session's own
    in-memory SQLite (a synchronous Engine, used from a worker thread)."""

    def __init__(self, engine: AsyncEngine | Engine) -> None:
        self._engine = engine
        self._lock = asyncio.Lock()  # a synchronous engine's one connection: one user at once

    @classmethod
    def in_memory(cls) -> DocumentStore:
        """A store that lives as long as the object: the same schema, in memory."""
        engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        with engine.begin() as connection:
            database.migrate(connection)
        return cls(engine)

    async def _run(self, work: Callable[[Connection], T]) -> T:
        if isinstance(self._engine, AsyncEngine):
            async with self._engine.begin() as connection:
                return await connection.run_sync(work)
        engine = self._engine

        def in_a_transaction() -> T:
            with engine.begin() as connection:
                return work(connection)

        async with self._lock:
            return await asyncio.to_thread(in_a_transaction)

    async def add(
        self,
        owner: Owner,
        document: ExtractedDocument,
        chunks: Sequence[Chunk],
        size: int | None = None,
    ) -> StoredDocument:
        """Store the document with its passages (`size`: the file's bytes); one of the same
        name in the chat is replaced (a new version of a file replaces the old one)."""
        stored = StoredDocument(
            str(uuid.uuid4()), document.name, document.kind.value, document.pages,
            document.chars, len(chunks), size,
        )  # fmt: skip

        def add(connection: Connection) -> int:
            same_name = {"thread": owner.thread_id, "user": owner.user_id, "name": stored.name}
            replaced = _delete(
                connection, "thread_id = :thread AND user_id = :user AND name = :name", same_name
            )
            connection.execute(
                text(
                    "INSERT INTO documents (id, thread_id, user_id, name, kind, pages, chars, "
                    "bytes, created_at) VALUES (:id, :thread, :user, :name, :kind, :pages, "
                    ":chars, :bytes, :created)"
                ),
                {"id": stored.id, "thread": owner.thread_id, "user": owner.user_id,
                 "name": stored.name, "kind": stored.kind, "pages": stored.pages,
                 "chars": stored.chars, "bytes": stored.size,
                 "created": datetime.now(UTC).isoformat()},
            )  # fmt: skip
            if chunks:
                connection.execute(
                    text(
                        "INSERT INTO document_chunks (document_id, position, page, section, text) "
                        "VALUES (:document, :position, :page, :section, :text)"
                    ),
                    [{"document": stored.id, "position": c.position, "page": c.page,
                      "section": c.section, "text": c.text} for c in chunks],
                )  # fmt: skip
            return replaced

        if await self._run(add):
            await self._forget_deleted()
        return stored

    async def documents(self, owner: Owner) -> list[StoredDocument]:
        return await self._run(lambda connection: _documents(connection, owner))

    async def listed(self, owner: Owner) -> list[ListedDocument]:
        """The owner's documents, oldest first, with when each was added."""

        def listed(connection: Connection) -> list[ListedDocument]:
            rows = connection.execute(
                text(
                    "SELECT name, kind, pages, created_at FROM documents "
                    "WHERE thread_id = :thread AND user_id = :user ORDER BY created_at, id"
                ),
                {"thread": owner.thread_id, "user": owner.user_id},
            )
            return [ListedDocument(*row) for row in rows]

        return await self._run(listed)

    async def passages(self, owner: Owner) -> list[Passage]:
        """Every passage of the owner's documents, in order: the documents whole."""
        return await self._run(lambda c: _passages(c, owner, None))

    async def search(self, owner: Owner, question: str, limit: int) -> list[Passage]:
        """The owner's passages that best match the question, best first (none may match)."""
        return await self._run(lambda connection: _search(connection, owner, question, limit))

    async def look_up(self, owner: Owner, question: str, limit: int) -> LookUp:
        """The owner's documents and the passages that best match the question, in one
        transaction (one round trip fewer per question on PostgreSQL). With no passage that
        matches, the first passage of each document."""

        def look_up(connection: Connection) -> LookUp:
            documents = _documents(connection, owner)
            if not documents:
                return LookUp([], [])
            found = _search(connection, owner, question, limit)
            return LookUp(documents, found or _passages(connection, owner, 1))

        return await self._run(look_up)

    async def remove(self, owner: Owner, document_id: str) -> StoredDocument | None:
        """Remove one of the owner's documents, with its passages: the chat's later questions
        go without it. None when the owner has no such document (another chat's or user's id
        removes nothing)."""

        def remove(connection: Connection) -> StoredDocument | None:
            found = [d for d in _documents(connection, owner) if d.id == document_id]
            if not found:
                return None
            where = "id = :id AND thread_id = :thread AND user_id = :user"
            _delete(
                connection,
                where,
                {"id": document_id, "thread": owner.thread_id, "user": owner.user_id},
            )
            return found[0]

        removed = await self._run(remove)
        if removed is not None:
            await self._forget_deleted()
        return removed

    async def delete_thread(self, thread_id: str) -> int:
        """Delete the thread's documents and their passages; how many documents there were."""

        def delete(connection: Connection) -> int:
            return _delete(connection, "thread_id = :thread", {"thread": thread_id})

        return await self._run(delete)  # the data layer forgets them once the thread is gone

    async def _forget_deleted(self) -> None:
        """Deleted text leaves the database's files too (database.forget_deleted); a store in
        memory has no files."""
        if isinstance(self._engine, AsyncEngine):
            await database.forget_deleted(self._engine, passages=True)


def _documents(connection: Connection, owner: Owner) -> list[StoredDocument]:
    rows = connection.execute(
        text(
            "SELECT d.id, d.name, d.kind, d.pages, d.chars, "
            "(SELECT count(*) FROM document_chunks c WHERE c.document_id = d.id), d.bytes "
            "FROM documents d WHERE d.thread_id = :thread AND d.user_id = :user "
            "ORDER BY d.created_at, d.id"
        ),
        {"thread": owner.thread_id, "user": owner.user_id},
    )
    return [StoredDocument(*row) for row in rows]


def _passages(connection: Connection, owner: Owner, limit: int | None) -> list[Passage]:
    """The owner's passages in document order (with `limit`, the first ones of each)."""
    rows = connection.execute(
        text(
            "SELECT d.name, c.position, c.text, c.page, c.section "
            "FROM document_chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE d.thread_id = :thread AND d.user_id = :user "
            + ("AND c.position < :limit " if limit is not None else "")
            + "ORDER BY d.created_at, d.id, c.position"
        ),
        {"thread": owner.thread_id, "user": owner.user_id, "limit": limit},
    )
    return [Passage(*row) for row in rows]


def _search(connection: Connection, owner: Owner, question: str, limit: int) -> list[Passage]:
    terms = search_terms(question)
    if not terms:
        return []
    if connection.dialect.name == "postgresql":
        query = POSTGRES_SEARCH
        phrase = " | ".join(f"'{t.text}'" + (":*" if t.prefix else "") for t in terms)
    else:
        query = SQLITE_SEARCH
        phrase = " OR ".join(f'"{t.text}"' + ("*" if t.prefix else "") for t in terms)
    rows = connection.execute(
        text(query),
        {"thread": owner.thread_id, "user": owner.user_id, "query": phrase, "limit": limit},
    )
    return [Passage(*row[:5]) for row in rows]


def _delete(connection: Connection, where: str, parameters: dict[str, str]) -> int:
    """Delete the documents that match, their passages first (a database without enforced
    foreign keys, as the in-memory one, would keep them); how many documents there were."""
    connection.execute(
        text(
            "DELETE FROM document_chunks WHERE document_id IN "
            f"(SELECT id FROM documents WHERE {where})"
        ),
        parameters,
    )
    return int(
        connection.execute(text(f"DELETE FROM documents WHERE {where}"), parameters).rowcount
    )


SQLITE_SEARCH = (
    "SELECT d.name, c.position, c.text, c.page, c.section, bm25(document_chunks_fts) AS score "
    "FROM document_chunks_fts "
    "JOIN document_chunks c ON c.id = document_chunks_fts.rowid "
    "JOIN documents d ON d.id = c.document_id "
    "WHERE document_chunks_fts MATCH :query AND d.thread_id = :thread AND d.user_id = :user "
    "ORDER BY score, d.created_at, c.position LIMIT :limit"
)
POSTGRES_SEARCH = (
    "SELECT d.name, c.position, c.text, c.page, c.section, ts_rank(c.search, q) AS score "
    "FROM document_chunks c JOIN documents d ON d.id = c.document_id, "
    "to_tsquery('english', :query) AS q "
    "WHERE c.search @@ q AND d.thread_id = :thread AND d.user_id = :user "
    "ORDER BY score DESC, d.created_at, c.position LIMIT :limit"
)
