"""Documents uploaded into a chat, their passages, and a full-text index of the passages.

A document belongs to a thread and its user (deleting the thread deletes it, by the foreign key
and by the data layer's delete_thread). The index is each database's own: SQLite's FTS5 (ranked
with bm25) over an external-content table kept by triggers, PostgreSQL's tsvector (ranked with
ts_rank) as a stored generated column with a GIN index. Both stem English words (porter /
the `english` configuration) and split other scripts, Korean included, at spaces and marks
(document_store searches a Korean word by its stem as a prefix).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_INDEX = (
    "CREATE VIRTUAL TABLE document_chunks_fts USING fts5(section, text, "
    "content='document_chunks', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER document_chunks_indexed AFTER INSERT ON document_chunks BEGIN "
    "INSERT INTO document_chunks_fts(rowid, section, text) "
    "VALUES (new.id, new.section, new.text); END",
    "CREATE TRIGGER document_chunks_unindexed AFTER DELETE ON document_chunks BEGIN "
    "INSERT INTO document_chunks_fts(document_chunks_fts, rowid, section, text) "
    "VALUES ('delete', old.id, old.section, old.text); END",
)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column(
            "thread_id",
            sa.Text,
            sa.ForeignKey("threads.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", sa.Text, nullable=False),  # "" when nobody signs in
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("pages", sa.Integer),
        sa.Column("chars", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_index("ix_documents_thread_user", "documents", ["thread_id", "user_id"])
    op.create_table(
        "document_chunks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "document_id",
            sa.Text,
            sa.ForeignKey("documents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("page", sa.Integer),
        sa.Column("section", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_document_chunks_document", "document_chunks", ["document_id", "position"])
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "document_chunks",
            sa.Column(
                "search",
                postgresql.TSVECTOR,
                sa.Computed(
                    "to_tsvector('english', coalesce(section, '') || ' ' || text)",
                    persisted=True,
                ),
            ),
        )
        op.create_index(
            "ix_document_chunks_search", "document_chunks", ["search"], postgresql_using="gin"
        )
    else:
        for statement in SQLITE_INDEX:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE document_chunks_fts")  # its triggers go with document_chunks
    op.drop_table("document_chunks")
    op.drop_table("documents")
