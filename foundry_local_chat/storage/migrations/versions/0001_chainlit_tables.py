"""The tables Chainlit 2.12's SQLAlchemyDataLayer reads and writes.

Chainlit's documented DDL is PostgreSQL-only (UUID, TEXT[], JSONB); these are the same tables
in types both databases share. Ids are text (Chainlit passes them as strings), timestamps are
ISO-8601 text as Chainlit writes them, JSON documents are JSON (JSONB on PostgreSQL), and
`tags` is a JSON-encoded list in a text column: the data layer encodes and decodes it, which
keeps chat-profile tags on SQLite too (Chainlit passes a Python list there, which SQLite
rejects). Step columns cover every key a Chainlit 2.12 step or message dict carries.

Revision ID: 0001
Revises:
Create Date: 2025-11-21
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("identifier", sa.Text, nullable=False, unique=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("createdAt", sa.Text),
    )
    op.create_table(
        "threads",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("createdAt", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("userId", sa.Text, sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("userIdentifier", sa.Text),
        sa.Column("tags", sa.Text),
        sa.Column("metadata", _json()),
    )
    op.create_index("ix_threads_user_id", "threads", ["userId"])
    op.create_table(
        "steps",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column(
            "threadId",
            sa.Text,
            sa.ForeignKey("threads.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("parentId", sa.Text),
        sa.Column("streaming", sa.Boolean, nullable=False),
        sa.Column("waitForAnswer", sa.Boolean),
        sa.Column("isError", sa.Boolean),
        sa.Column("metadata", _json()),
        sa.Column("tags", sa.Text),
        sa.Column("input", sa.Text),
        sa.Column("output", sa.Text),
        sa.Column("createdAt", sa.Text),
        sa.Column("command", sa.Text),
        sa.Column("modes", _json()),
        sa.Column("start", sa.Text),
        sa.Column("end", sa.Text),
        sa.Column("generation", _json()),
        sa.Column("showInput", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("indent", sa.Integer),
        sa.Column("defaultOpen", sa.Boolean),
        sa.Column("autoCollapse", sa.Boolean),
    )
    op.create_index("ix_steps_thread_id", "steps", ["threadId"])
    op.create_table(
        "elements",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("threadId", sa.Text, sa.ForeignKey("threads.id", ondelete="CASCADE")),
        sa.Column("type", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("chainlitKey", sa.Text),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("display", sa.Text),
        sa.Column("objectKey", sa.Text),
        sa.Column("size", sa.Text),
        sa.Column("page", sa.Integer),
        sa.Column("language", sa.Text),
        sa.Column("forId", sa.Text),
        sa.Column("mime", sa.Text),
        sa.Column("props", _json()),
        sa.Column("autoPlay", sa.Boolean),
        sa.Column("playerConfig", _json()),
    )
    op.create_index("ix_elements_thread_id", "elements", ["threadId"])
    op.create_table(
        "feedbacks",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("forId", sa.Text, nullable=False),
        sa.Column("threadId", sa.Text, sa.ForeignKey("threads.id", ondelete="CASCADE")),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text),
    )
    op.create_index("ix_feedbacks_for_id", "feedbacks", ["forId"])


def downgrade() -> None:
    for table in ("feedbacks", "elements", "steps", "threads", "users"):
        op.drop_table(table)
