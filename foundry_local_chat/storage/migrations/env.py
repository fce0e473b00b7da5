"""Alembic environment: migrations run on the connection storage/database.py passes in."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Run migrations with `python -m foundry_local_chat db upgrade` (it passes the connection)."
    )
context.configure(
    connection=connection,
    version_table=context.config.get_main_option("version_table") or "alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
