"""Chat history through Chainlit's SQLAlchemyDataLayer, with the gaps that matter here closed.

`ChatDataLayer` keeps Chainlit's SQL and adds:

- **failures are never silent**: Chainlit only logs a failed statement. Here a failed save is
  logged as an error and, during a chat, shown in that chat once. Outside a chat (e.g. renaming a
  thread over HTTP) it raises, so the request fails instead of pretending.
- **an outage loses nothing**: while the database cannot be reached, a conversation's unsaved
  statements wait in memory, in order; its next save (in this chat, or after a reload that
  resumes it) writes them first, and the chat says when it has caught up. They are lost only if
  the app itself stops before the database is back.
- **one schema for SQLite and PostgreSQL** (see migrations/): lists and dicts Chainlit passes as
  parameters (thread and step `tags`, step `modes`) are stored as JSON text, and JSON read back
  is turned into dicts and lists again. This avoids Chainlit's SQLite bug with chat-profile tags
  (auto_tag_thread passes a list) while keeping the tags.
- **the session's state is saved with every message**, not only on a clean disconnect, so a
  thread resumed on another instance after a crash gets its chat settings and profile back.
- **an answer's speed line and sources are kept**: Chainlit stores elements only as files in a
  blob store; a CustomElement is all props (no file), so it is stored as a row and comes back on
  resume, and so is a short text element (a source passage), its text in a `data:` URL the
  browser reads as it would a file's.
- **a chat's documents are kept with it** (documents/store.py, in the same database): deleting
  a thread deletes its documents and their passages.
- **nothing is saved into a deleted thread**: a chat still open on a thread that was deleted
  (in another tab, or the page kept it) writes nothing more, so the thread does not come back
  as an orphan; the handler refuses to answer in it (`thread_deleted`).
- **every id is checked against its owner** (history/ownership.py, history/row_owners.py): a thread,
  message, element or feedback of another user is refused (`NotYours`, a 404 over HTTP), never
  upserted or deleted, and never read; in a chat the refusal is said there. The upserts of
  steps, elements and feedback also carry the check in their SQL (an id already in another
  thread is not updated), so a statement that waited out an outage cannot overwrite either.
- **a turn ends when it is saved**: `wait_for_saves` makes a message handler wait for the saves
  its turn started (Chainlit fires them as background tasks), so an instance killed right after
  an answer was shown has already stored it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import quote

from chainlit.context import ChainlitContextException, get_context
from chainlit.data import get_data_layer
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.data.utils import queue_until_user_message
from chainlit.element import CustomElement, Element, ElementDict, Text
from chainlit.session import WebsocketSession
from chainlit.step import StepDict
from chainlit.types import Feedback, ThreadDict
from chainlit.utils import utc_now
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from foundry_local_chat.config import Settings
from foundry_local_chat.documents.store import DocumentStore, Owner
from foundry_local_chat.errors import FoundryLocalChatError
from foundry_local_chat.history.auth import ADD_A_USER, Access, AuthError, ensure_auth_secret
from foundry_local_chat.history.ownership import NotYours, acting_user, in_http_request
from foundry_local_chat.history.row_owners import (
    THIS_ELEMENT_IS_ANOTHERS,
    THIS_MESSAGE_IS_ANOTHERS,
    HistoryOwners,
    guarded_upsert,
)
from foundry_local_chat.storage import database
from foundry_local_chat.text_repair import repair_unicode

log = logging.getLogger(__name__)

SAVE_TIMEOUT_SECONDS = 15.0
WRITES = ("INSERT", "UPDATE", "DELETE")
MESSAGE_TYPES = ("user_message", "assistant_message")
MAX_INLINE_TEXT_CHARS = 200_000  # a source passage, or a document sent whole
# threads."namedBy" (migration 0004): NULL while the thread has Chainlit's name, its first message
NAMED_BY_APP, NAMED_BY_USER = "app", "user"


class PersistenceError(FoundryLocalChatError, RuntimeError):
    """A save failed outside a chat (e.g. an HTTP request), where nobody would see a notice."""


class SaveTroubleKind(StrEnum):
    OUTAGE = "outage"  # the database cannot be reached: saves wait in order
    REFUSED = "refused"  # the database refused one statement: it is skipped
    RECOVERED = "recovered"  # what waited is saved now
    NOT_YOURS = "not_yours"  # an id of another user's chat: refused, the chat goes on


@dataclass(frozen=True)
class SaveTrouble:
    kind: SaveTroubleKind
    reason: str = ""  # the database's own words


TellSaveTrouble = Callable[[SaveTrouble], Awaitable[None]]
"""Shows a SaveTrouble in the chat it happened in (the chat view does; the data layer only
reports)."""


async def _log_only(trouble: SaveTrouble) -> None:
    log.info("history: %s %s", trouble.kind.value, trouble.reason)


def _is_write(query: str) -> bool:
    return query.lstrip().upper().startswith(WRITES)


def _reason(error: BaseException) -> str:
    """One line a person can read: the driver's message, not SQLAlchemy's SQL dump."""
    return database.driver_reason(error)


def _chat_session() -> WebsocketSession | None:
    """The chat (socket.io session) this code runs for, if any."""
    try:
        session = get_context().session
    except ChainlitContextException:
        return None
    return session if isinstance(session, WebsocketSession) else None


Statement = tuple[str, dict[str, Any]]  # SQL and its (encoded) parameters


def is_outage(error: Exception) -> bool:
    """The database could not be reached or used at all (worth retrying), as opposed to a
    statement it refused (which would fail again)."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OperationalError | InterfaceError | OSError | TimeoutError)


def _encode(value: Any) -> Any:
    if isinstance(value, str):
        return repair_unicode(value)  # a lone surrogate cannot be stored as UTF-8 text
    return json.dumps(value) if isinstance(value, list | dict) else value


def _decoded(value: Any, kind: type) -> Any:
    """JSON text (SQLite, text columns) → dict/list; PostgreSQL's JSONB already arrives decoded."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return value
    return value if isinstance(value, kind) else None


_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])
_queued_until_first_message = cast(Callable[[_F], _F], queue_until_user_message())


def _normalize_step(step: StepDict) -> StepDict:
    step["metadata"] = _decoded(step.get("metadata"), dict) or {}
    step["tags"] = _decoded(step.get("tags"), list)
    step["generation"] = _decoded(step.get("generation"), dict)
    return step


class ChatDataLayer(SQLAlchemyDataLayer):
    def __init__(self, url: str, tell: TellSaveTrouble = _log_only) -> None:
        super().__init__(conninfo=url, connect_args=database.engine_options(url)["connect_args"])
        self._tell = tell
        # Chainlit's engine has no pool pre-ping or SQLite pragmas: use the project's engine.
        self.engine = database.create_engine(url)
        self.async_session = async_sessionmaker(self.engine, expire_on_commit=False)
        self.documents = DocumentStore(self.engine)
        self.owners = HistoryOwners(self._rows)
        self._writes: dict[str, set[asyncio.Task[Any]]] = {}
        self._unsaved: dict[str, list[Statement]] = {}  # per thread, oldest first
        self._thread_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._deleted: set[str] = set()  # threads deleted while this process runs

    def thread_deleted(self, thread_id: str) -> bool:
        """Whether the thread was deleted (while this process ran): nothing more is saved in it."""
        return thread_id in self._deleted

    @property
    def saves_waiting(self) -> int:
        """Statements waiting for the database to come back, over all conversations."""
        return sum(len(statements) for statements in self._unsaved.values())

    async def get_current_timestamp(self) -> str:
        return str(utc_now())  # Chainlit's own uses local time with a "Z"

    # ----- every statement goes through here -----

    async def execute_sql(
        self, query: str, parameters: dict[str, Any]
    ) -> list[dict[str, Any]] | int | None:
        statement = (query, {key: _encode(value) for key, value in parameters.items()})
        chat = _chat_session()
        if chat is not None and chat.thread_id in self._deleted and _is_write(query):
            log.info("thread %s was deleted: not saving into it", chat.thread_id)
            return None
        if chat is not None and chat.thread_id and _is_write(query):
            # A conversation's saves run one at a time, in the order Chainlit started them.
            async with self._thread_locks.setdefault(chat.thread_id, asyncio.Lock()):
                return await self._save(chat, statement)
        try:
            return await self._run(statement)
        except Exception as error:
            reason = _reason(error)
            if not _is_write(query):
                log.error("reading the chat history failed: %s", reason)
                return None
            log.error("saving the chat history failed: %s", reason)
            raise PersistenceError(f"saving the chat history failed: {reason}") from error

    async def _run(self, statement: Statement) -> list[dict[str, Any]] | int:
        query, parameters = statement
        async with self.async_session() as session, session.begin():
            result = await session.execute(text(query), parameters)
            if result.returns_rows:
                rows = [dict(row._mapping) for row in result.fetchall()]
                cleaned: list[dict[str, Any]] = self.clean_result(rows)  # type: ignore[no-untyped-call]
                return cleaned
            return int(result.rowcount)

    async def _save(self, chat: WebsocketSession, statement: Statement) -> int | None:
        """Save for a chat's conversation. While the database is out, its statements wait in
        order; the first save that works again writes them all first."""
        unsaved = self._unsaved.setdefault(chat.thread_id, [])
        behind = bool(unsaved)
        unsaved.append(statement)
        outcome = None
        while unsaved:
            try:
                outcome = await self._run(unsaved[0])
            except Exception as error:
                reason = _reason(error)
                log.error("saving the chat history failed: %s", reason)
                if is_outage(error):
                    if not behind:  # an outage is told once
                        await self._tell(SaveTrouble(SaveTroubleKind.OUTAGE, reason))
                    log.warning(
                        "thread %s: %d saves wait for the database", chat.thread_id, len(unsaved)
                    )
                    return None
                # Refused, not an outage: this statement would fail again; the rest may not.
                await self._tell(SaveTrouble(SaveTroubleKind.REFUSED, reason))
            unsaved.pop(0)
        del self._unsaved[chat.thread_id]
        if behind:
            await self._tell(SaveTrouble(SaveTroubleKind.RECOVERED))
        return outcome if isinstance(outcome, int) else None

    # ----- writes: tracked per chat, so a turn can wait for them -----

    def _track(self) -> None:
        chat, task = _chat_session(), asyncio.current_task()
        if chat is None or task is None:
            return
        tasks = self._writes.setdefault(chat.id, set())
        if task not in tasks:
            tasks.add(task)
            task.add_done_callback(functools.partial(self._untrack, chat.id))

    def _untrack(self, chat_id: str, task: asyncio.Task[Any]) -> None:
        tasks = self._writes.get(chat_id)
        if tasks is not None:
            tasks.discard(task)
            if not tasks:
                del self._writes[chat_id]

    async def settle(self, chat_id: str, within: float = SAVE_TIMEOUT_SECONDS) -> bool:
        """Wait for the chat's saves under way; False when some still run after `within` s."""
        # Saves are tasks the handler created just before; asyncio starts ready tasks in order,
        # so after one pass of the loop each has started and registered itself.
        await asyncio.sleep(0)
        deadline = asyncio.get_running_loop().time() + within
        while pending := self._writes.get(chat_id, set()) - {asyncio.current_task()}:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                log.warning("%d saves of chat %s still running", len(pending), chat_id)
                return False
            await asyncio.wait(set(pending), timeout=remaining)
        return True

    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        self._track()
        actor = acting_user()
        exists = await self.owners.check_thread(thread_id, actor)
        if actor is not None:
            if user_id is None and exists is False:  # a new thread is its creator's
                user_id = actor.id or await self._user_id(actor.identifier)
            elif user_id is not None and actor.id is not None and user_id != actor.id:
                raise NotYours("a thread can be given to its own user only")
        if name is not None and in_http_request() and exists:
            # The sidebar's rename (the only route that names a thread): marked first, so that
            # a title being made meanwhile finds it renamed and leaves it (title_thread).
            await self.execute_sql(
                f"UPDATE threads SET \"namedBy\" = '{NAMED_BY_USER}' WHERE id = :id",
                {"id": thread_id},
            )
        await super().update_thread(thread_id, name, user_id, metadata, tags)

    async def title_thread(self, thread_id: str, user_id: str, title: str) -> bool:
        """Name the thread with the title the app made, unless its user renamed it (or it is
        gone, or not theirs). Whether it was named."""
        query = (
            f"UPDATE threads SET name = :title, \"namedBy\" = '{NAMED_BY_APP}' "
            'WHERE id = :id AND "userId" = :user AND "namedBy" IS NULL'
        )
        parameters = {"title": repair_unicode(title), "id": thread_id, "user": user_id}
        async with self.engine.begin() as connection:
            result = await connection.execute(text(query), parameters)
        return bool(result.rowcount == 1)

    @_queued_until_first_message  # as Chainlit's: a chat is saved from its first message on
    async def create_step(self, step_dict: StepDict) -> None:
        self._track()
        try:
            await self._upsert_step(step_dict)
        except NotYours as refused:
            await self._refused(refused, awaited=False)
            return
        if step_dict.get("type") in MESSAGE_TYPES:
            await self._save_chat_state(step_dict.get("threadId"))

    async def update_step(self, step_dict: StepDict) -> None:
        await self.create_step(step_dict)

    async def _upsert_step(self, step_dict: StepDict) -> None:
        """Chainlit's create_step, but a step id already in another thread is not updated."""
        thread_id = step_dict.get("threadId")
        await self.owners.check_step(step_dict["id"], in_thread=thread_id)
        await self.update_thread(thread_id)  # type: ignore[arg-type]  # as Chainlit does
        step: dict[str, Any] = dict(step_dict)
        if "showInput" in step:
            step["showInput"] = str(step["showInput"]).lower()
        row = {
            key: value
            for key, value in step.items()
            if value is not None and not (isinstance(value, dict) and not value)
        }
        row["metadata"] = json.dumps(step.get("metadata") or {})
        row["generation"] = json.dumps(step.get("generation") or {})
        saved = await self.execute_sql(guarded_upsert("steps", row), row)
        if saved == 0:  # raced with a step of the same id in another thread
            raise NotYours(THIS_MESSAGE_IS_ANOTHERS)

    async def delete_step(self, step_id: str) -> None:
        self._track()
        try:
            await self.owners.check_step(step_id)
        except NotYours as refused:
            await self._refused(refused, awaited=True)
            return
        await super().delete_step(step_id)
        await self._forget_deleted()

    async def create_element(self, element: Element) -> None:
        inline_text = (
            isinstance(element, Text)
            and isinstance(element.content, str)
            and len(element.content) <= MAX_INLINE_TEXT_CHARS
        )
        if (
            (isinstance(element, CustomElement) or inline_text)
            and element.for_id
            and self.storage_provider is None
        ):
            self._track()
            try:
                await self.owners.check_element(element.id, element.thread_id, element.for_id)
            except NotYours as refused:
                await self._refused(refused, awaited=False)
                return
            row = {key: value for key, value in element.to_dict().items() if value is not None}
            if inline_text:
                content = str(element.content)
                row["url"] = "data:text/plain;charset=utf-8," + quote(content, safe="")
                row.pop("chainlitKey", None)  # the file of a session that will be gone
            saved = await self.execute_sql(guarded_upsert("elements", row), parameters=row)
            if saved == 0:
                await self._refused(NotYours(THIS_ELEMENT_IS_ANOTHERS), awaited=False)
            return
        await super().create_element(element)

    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        try:
            await self.owners.check_element(element_id, None, None)
        except NotYours as refused:
            await self._refused(refused, awaited=True)
            return
        await super().delete_element(element_id, thread_id)
        await self._forget_deleted()

    async def get_element(self, thread_id: str, element_id: str) -> ElementDict | None:
        if not await self.owners.may_read(thread_id):
            return None
        return await super().get_element(thread_id, element_id)

    # ----- feedback: on the acting user's own answers only -----

    async def upsert_feedback(self, feedback: Feedback) -> str:
        thread_id = await self.owners.thread_of_step(feedback.forId)
        if thread_id is None:
            raise NotYours(f"no message {feedback.forId} to give feedback on")
        if feedback.id:
            await self.owners.check_feedback(feedback.id, feedback.forId)
        feedback.id = feedback.id or str(uuid.uuid4())
        feedback.threadId = thread_id  # the message's, whatever the browser said
        row = {key: value for key, value in asdict(feedback).items() if value is not None}
        if await self.execute_sql(guarded_upsert("feedbacks", row), row) == 0:
            raise NotYours(f"feedback {feedback.id} is on another message")
        return feedback.id

    async def delete_feedback(self, feedback_id: str) -> bool:
        await self.owners.check_feedback(feedback_id, None)
        deleted = await super().delete_feedback(feedback_id)
        await self._forget_deleted()
        return deleted

    # ----- ownership: every id against the acting user (see history/ownership.py) -----

    async def _rows(self, query: str, parameters: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The rows; None when the database could not be read (an outage: the checks pass, and
        the guarded upserts still refuse what waited)."""
        rows = await self.execute_sql(query, parameters)
        return rows if isinstance(rows, list) else None

    async def _refused(self, refused: NotYours, *, awaited: bool) -> None:
        """Raised where a caller waits for the answer (a route: 404); in a chat (Chainlit saves
        steps and elements in background tasks, which nobody awaits) the chat is told instead."""
        log.warning("history: refused a write for %s: %s", acting_user(), refused)
        if _chat_session() is None or (awaited and in_http_request()):
            raise refused
        await self._tell(SaveTrouble(SaveTroubleKind.NOT_YOURS, str(refused)))

    async def _user_id(self, identifier: str) -> str | None:
        user = await self.get_user(identifier)
        return user.id if user is not None else None

    async def delete_thread(self, thread_id: str) -> None:
        await self.owners.check_thread(thread_id, acting_user())
        self._deleted.add(thread_id)  # first: a chat still open on it saves nothing more
        # The foreign key cascades too; deleting first also covers a database that ignores it.
        await self.documents.delete_thread(thread_id)
        await super().delete_thread(thread_id)
        await self._forget_deleted(passages=True)

    async def _forget_deleted(self, *, passages: bool = False) -> None:
        try:
            await database.forget_deleted(self.engine, passages=passages)
        except Exception as error:  # the delete itself is done; the files keep traces longer
            log.warning("after a delete, cleaning the database files failed: %s", _reason(error))

    async def get_thread_author(self, thread_id: str) -> str:
        """ "" for a thread that does not exist, or is not the acting user's: Chainlit's routes
        answer 404 (its own raised ValueError, a 500 with a traceback)."""
        return await self.owners.author(thread_id)

    async def documents_of(self, owner: Owner) -> DocumentStore:
        """The store for the owner's documents, once their thread has a row to belong to
        (Chainlit writes it in the background, maybe not yet)."""
        await self.update_thread(owner.thread_id, user_id=owner.user_id)
        return self.documents

    async def _save_chat_state(self, thread_id: str | None) -> None:
        """The chat's settings, profile and user session into the thread's metadata (Chainlit
        saves them only when the socket closes cleanly, which a crash never does)."""
        chat = _chat_session()
        if chat is None or not chat.has_first_interaction or chat.thread_id != thread_id:
            return
        await self.update_thread(thread_id, metadata=chat.to_persistable())

    # ----- reads: JSON back into dicts and lists -----

    async def get_all_user_threads(
        self, user_id: str | None = None, thread_id: str | None = None
    ) -> list[ThreadDict] | None:
        threads = await super().get_all_user_threads(user_id=user_id, thread_id=thread_id)
        if threads is not None and (actor := acting_user()) is not None:
            threads = [t for t in threads if t.get("userIdentifier") == actor.identifier]
        for thread in threads or []:
            thread["metadata"] = _decoded(thread.get("metadata"), dict) or {}
            thread["tags"] = _decoded(thread.get("tags"), list)
            for step in thread["steps"]:
                _normalize_step(step)
            for element in thread.get("elements") or []:
                element["props"] = _decoded(element.get("props"), dict) or {}
        return threads

    async def get_step(self, step_id: str) -> StepDict | None:
        step = await super().get_step(step_id)
        if step is None or not await self.owners.may_read(step.get("threadId")):
            return None
        return _normalize_step(step)


def start_history(settings: Settings, access: Access, environ: MutableMapping[str, str]) -> None:
    """Before the app serves: the session-cookie secret and the database schema.

    Raises AuthError or database.DatabaseError with a message for the person starting it."""
    if not access.enabled:
        if environ.get("DATABASE_URL", "").strip():
            raise AuthError(
                "DATABASE_URL is set, but nobody can sign in, and Chainlit keeps history only "
                f"for signed-in users: add a user (`{ADD_A_USER}`) or set AUTH_HEADER, or unset "
                "DATABASE_URL."
            )
        log.warning(
            "history is off: nobody can sign in, so chats are not kept (add a user: %s)", ADD_A_USER
        )
        return
    ensure_auth_secret(settings.app_data_dir, environ)
    version = database.prepare(settings.database_url)
    log.info("chat history in %s (schema %s)", settings.database_url_redacted, version)


def history_layer() -> ChatDataLayer | None:
    layer = get_data_layer()
    return layer if isinstance(layer, ChatDataLayer) else None


def thread_deleted(thread_id: str) -> bool:
    layer = history_layer()
    return layer is not None and layer.thread_deleted(thread_id)


def history_owners() -> HistoryOwners | None:
    """Whose each history row is (element_route_guard asks); None when history is off."""
    layer = history_layer()
    return layer.owners if layer is not None else None


def history_engine() -> AsyncEngine | None:
    """The history database's engine (readiness checks it); None when history is off."""
    layer = history_layer()
    return layer.engine if layer is not None else None


def saves_waiting() -> int:
    layer = history_layer()
    return layer.saves_waiting if layer is not None else 0


P = ParamSpec("P")
R = TypeVar("R")


def wait_for_saves(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Decorate a Chainlit handler so that its turn ends only once what it said is saved."""

    @functools.wraps(handler)
    async def handler_then_settle(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await handler(*args, **kwargs)
        finally:
            layer, chat = get_data_layer(), _chat_session()
            if isinstance(layer, ChatDataLayer) and chat is not None:
                await layer.settle(chat.id)

    return handler_then_settle
