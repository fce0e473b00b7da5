"""Who named a thread: NULL for Chainlit's own name (its first message), `app` for the title the
app made after its first answer, `user` for a rename in the sidebar, which nothing overwrites.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("threads", sa.Column("namedBy", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("threads") as table:  # SQLite drops a column by copying the table
        table.drop_column("namedBy")
