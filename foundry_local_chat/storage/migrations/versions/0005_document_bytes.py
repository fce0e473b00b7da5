"""A document's size as it was attached, in bytes: the chat's list of documents shows it (a PDF
shows its pages). NULL for documents stored before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("documents", sa.Column("bytes", sa.BigInteger))


def downgrade() -> None:
    with op.batch_alter_table("documents") as table:
        table.drop_column("bytes")
