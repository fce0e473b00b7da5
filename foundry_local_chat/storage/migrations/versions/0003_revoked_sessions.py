"""Session tokens ended by signing out, until they would have expired anyway.

Chainlit's session token is a signed JWT that stays valid until it expires (15 days): signing
out only cleared the cookie. The app refuses a token listed here (history/sessions.py), on every
instance that shares the database. Only a SHA-256 of the token is kept.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("token_sha256", sa.Text, primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),  # Unix time, as the token's exp
    )
    op.create_index("ix_revoked_sessions_expires_at", "revoked_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("revoked_sessions")
