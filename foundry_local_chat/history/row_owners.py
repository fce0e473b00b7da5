"""Which rows of the chat history the acting user may touch (the rule is in history/ownership.py).

Each check reads the row an id names and its thread's owner: a thread, message, element or
feedback of another user is `NotYours`; an id that names nothing is a new row (writes) or
nothing (reads). While the database cannot be read (an outage) the checks pass, and the
upserts built by `guarded_upsert` still refuse to move a row into another thread when the
statements that waited are written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from foundry_local_chat.history.ownership import ActingUser, NotYours, acting_user

Rows = Callable[[str, dict[str, Any]], Awaitable[list[dict[str, Any]] | None]]
"""A query's rows; None when the database could not be read."""

THIS_CHAT_IS_ANOTHERS = "this chat belongs to another user"
THIS_MESSAGE_IS_ANOTHERS = "a message with this id belongs to another chat"
THIS_ELEMENT_IS_ANOTHERS = "an element with this id belongs to another chat"


def guarded_upsert(table: str, row: dict[str, Any]) -> str:
    """INSERT, or UPDATE the row of the same id only while it stays in its thread (steps,
    elements) or under its message (feedback). Refused, it changes no row (rowcount 0)."""
    key = "forId" if table == "feedbacks" else "threadId"
    columns = ", ".join(f'"{column}"' for column in row)
    values = ", ".join(f":{column}" for column in row)
    updates = ", ".join(f'"{column}" = :{column}' for column in row if column != "id")
    guard = f'{table}."{key}" = excluded."{key}"' if key in row else "TRUE"
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({values}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates} WHERE {guard}"
    )


class HistoryOwners:
    def __init__(self, rows: Rows) -> None:
        self._rows = rows

    async def author(self, thread_id: str) -> str:
        """The thread's user, or "" when it does not exist or is not the acting user's."""
        rows = await self._rows(
            'SELECT "userIdentifier" AS owner FROM threads WHERE id = :id', {"id": thread_id}
        )
        owner = rows[0]["owner"] if rows else None
        actor = acting_user()
        if actor is not None and owner != actor.identifier:
            return ""  # another user's thread is a 404 too, not a 401 that says it exists
        return owner if isinstance(owner, str) else ""

    async def check_thread(self, thread_id: str | None, actor: ActingUser | None) -> bool | None:
        """Whether the thread exists (None: unknown); NotYours when it is another user's."""
        if not thread_id:
            return False
        rows = await self._rows(
            'SELECT "userIdentifier" AS owner FROM threads WHERE id = :id', {"id": thread_id}
        )
        if rows and actor is not None and rows[0]["owner"] not in (None, actor.identifier):
            raise NotYours(THIS_CHAT_IS_ANOTHERS)
        return None if rows is None else bool(rows)

    async def may_read(self, thread_id: str | None) -> bool:
        actor = acting_user()
        if actor is None:
            return True
        return await self.author(thread_id or "") == actor.identifier

    async def check_step(self, step_id: str, in_thread: str | None = None) -> None:
        """NotYours when the step is in another user's thread, or (with `in_thread`) in
        another thread than that one. An unknown id passes: it is a new step."""
        actor = acting_user()
        rows = await self._rows(
            'SELECT s."threadId" AS thread, t."userIdentifier" AS owner FROM steps s '
            'LEFT JOIN threads t ON t.id = s."threadId" WHERE s.id = :id',
            {"id": step_id},
        )
        if not rows:
            return
        thread, owner = rows[0]["thread"], rows[0]["owner"]
        if in_thread is not None and thread != in_thread:
            raise NotYours(THIS_MESSAGE_IS_ANOTHERS)
        if actor is not None and owner != actor.identifier:
            raise NotYours(THIS_MESSAGE_IS_ANOTHERS)

    async def thread_of_step(self, step_id: str) -> str | None:
        """The step's thread, when the step exists and the acting user may see it."""
        rows = await self._rows(
            'SELECT "threadId" AS thread FROM steps WHERE id = :id', {"id": step_id}
        )
        if not rows or not await self.may_read(rows[0]["thread"]):
            return None
        thread: str | None = rows[0]["thread"]
        return thread

    async def check_element(
        self, element_id: str, thread_id: str | None, for_id: str | None
    ) -> None:
        """NotYours when the element, its thread or the message it is under is another user's
        (or another thread's)."""
        actor = acting_user()
        await self.check_thread(thread_id, actor)
        rows = await self._rows(
            'SELECT e."threadId" AS thread, t."userIdentifier" AS owner FROM elements e '
            'LEFT JOIN threads t ON t.id = e."threadId" WHERE e.id = :id',
            {"id": element_id},
        )
        if rows:
            if thread_id is not None and rows[0]["thread"] != thread_id:
                raise NotYours(THIS_ELEMENT_IS_ANOTHERS)
            if actor is not None and rows[0]["owner"] != actor.identifier:
                raise NotYours(THIS_ELEMENT_IS_ANOTHERS)
        if for_id:
            await self.check_step(for_id, in_thread=thread_id)

    async def check_feedback(self, feedback_id: str, for_id: str | None) -> None:
        rows = await self._rows(
            'SELECT "forId" AS step FROM feedbacks WHERE id = :id', {"id": feedback_id}
        )
        if not rows:
            if for_id is None:
                raise NotYours(f"no feedback {feedback_id}")
            return
        if for_id is not None and rows[0]["step"] != for_id:
            raise NotYours(f"feedback {feedback_id} is on another message")
        if await self.thread_of_step(rows[0]["step"]) is None:
            raise NotYours(f"no feedback {feedback_id}")
