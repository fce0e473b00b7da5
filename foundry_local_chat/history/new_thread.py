"""A whole thread written into the history at once (an imported chat): its row, its messages and
their elements, in one transaction. If any statement fails, none is kept: no half-imported chat
is ever listed.

The rows are Chainlit's (the tables of migration 0001): keys are their columns, dicts and lists
are stored as JSON text, as the data layer stores them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from foundry_local_chat.errors import FoundryLocalChatError
from foundry_local_chat.storage import database

Row = dict[str, Any]


class ThreadNotSaved(FoundryLocalChatError, RuntimeError):
    """The database refused the thread, or could not be reached; nothing of it was written."""


@dataclass(frozen=True)
class NewThread:
    thread: Row
    steps: Sequence[Row] = ()
    elements: Sequence[Row] = ()

    @property
    def id(self) -> str:
        return str(self.thread["id"])


def _encoded(row: Row) -> Row:
    return {key: json.dumps(v) if isinstance(v, dict | list) else v for key, v in row.items()}


def _insert(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(f'"{column}"' for column in columns)
    values = ", ".join(f":{column}" for column in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values})"


async def save_new_thread(engine: AsyncEngine, new: NewThread) -> None:
    """Write the thread and everything in it, or nothing (raises ThreadNotSaved)."""
    try:
        async with engine.begin() as connection:
            tables = {"threads": [new.thread], "steps": new.steps, "elements": new.elements}
            for table, rows in tables.items():
                if not rows:
                    continue
                columns = sorted({column for row in rows for column in row})
                await connection.execute(
                    text(_insert(table, columns)),
                    [_encoded({column: row.get(column) for column in columns}) for row in rows],
                )
    except Exception as error:
        raise ThreadNotSaved(database.driver_reason(error)) from error
