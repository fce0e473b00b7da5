"""An exported chat made a new thread of the user who imports it, and a refused file's reason
in the words of their language.

The thread is the importer's alone, with new ids for everything, and goes on like a chat had
here: its questions and answers are stored as the chat stores them (an answer carries its
model, so the next question is sent with it; a question the model was never sent stays out of
requests), each answer hangs under a run of the message handler (Chainlit's copy and feedback
buttons are the run's) with its speed line and versions (the version buttons work), and the
chat's panel settings and profile come back when it is opened (applied, or the chat says why
not). Nothing else of the file reaches the thread's metadata, which an opened chat takes as its
session.

Everything the file says is shown as the app shows text it did not write: the title on one line
with its controls and bidirectional marks taken out, images in any message made links
(ui/markdown_safety.py). Messages keep their times, in order (the history orders a thread by
time: equal times are set a microsecond apart).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from foundry_local_chat.chat.turn import REFUSED_KEY, REPLY_MODEL_KEY
from foundry_local_chat.errors import shortened
from foundry_local_chat.history.chat_documents import HAS_DOCUMENTS
from foundry_local_chat.history.export import (
    FORMAT,
    MAX_TITLE_CHARS,
    AssistantMessage,
    ChatExport,
    FieldProblem,
    ImportProblem,
    ImportRefused,
    UserMessage,
    iso,
)
from foundry_local_chat.history.new_thread import NewThread, Row
from foundry_local_chat.history.ownership import ActingUser
from foundry_local_chat.ui.answer_versions import (
    SHOWN_KEY,
    STATS_ELEMENT_KEY,
    STATS_ELEMENT_NAME,
    VERSIONS_KEY,
    stats_props,
)
from foundry_local_chat.ui.chat_export import DOCUMENTS_KEY
from foundry_local_chat.ui.markdown_safety import inert_images
from foundry_local_chat.ui.texts import Words, without_bidi_controls

PANEL_SETTINGS = ("model", "system_prompt", "temperature", "max_tokens", "streaming")
TITLE_FROM_QUESTION_CHARS = 100
ONE_STEP = timedelta(microseconds=1)


def shown_title(title: str) -> str:
    """A title from a file as the sidebar shows it: one line, no control characters, no
    bidirectional controls, images as links."""
    flat = "".join(" " if not c.isprintable() else c for c in without_bidi_controls(title))
    return shortened(inert_images(flat), MAX_TITLE_CHARS)


def imported_thread(chat: ChatExport, user: ActingUser, said: Words) -> NewThread:
    """The chat as a new thread of `user` (whose users-table id is known)."""
    thread_id = str(uuid.uuid4())
    steps: list[Row] = []
    elements: list[Row] = []
    times = _Times()
    question: Row | None = None
    for message in chat.messages:
        if isinstance(message, UserMessage):
            question = _step(thread_id, message, times.next(message.created_at), user)
            steps.append(question)
            continue
        # As Chainlit's own: an answer inside the run of the question it answers (its copy and
        # feedback buttons are the run's).
        run = _run(thread_id, question, times.next(None))
        step = _step(thread_id, message, times.next(message.created_at), user, parent=run["id"])
        steps += [run, step]
        element = _stats_element(thread_id, step, message, said)
        if element is not None:
            step["metadata"][STATS_ELEMENT_KEY] = element["id"]
            elements.append(element)
    first_question = next((m.content for m in chat.messages if isinstance(m, UserMessage)), "")
    title = shown_title(chat.title) or shown_title(
        shortened(first_question, TITLE_FROM_QUESTION_CHARS)
    )
    panel = {
        key: value for key in PANEL_SETTINGS if (value := getattr(chat.settings, key)) is not None
    }
    metadata: dict[str, Any] = {"chat_settings": panel, HAS_DOCUMENTS.name: False}
    if chat.chat_profile:
        metadata["chat_profile"] = chat.chat_profile
    thread: Row = {
        "id": thread_id,
        "createdAt": iso(chat.created_at),
        "name": title,
        "userId": user.id,
        "userIdentifier": user.identifier,
        "tags": [chat.chat_profile] if chat.chat_profile else None,
        "metadata": metadata,
    }
    return NewThread(thread, steps, elements)


class _Times:
    """The messages' times as the history stores them: in order, each after the one before
    (the history orders a thread's steps by time, as text)."""

    def __init__(self) -> None:
        self._last: datetime | None = None

    def next(self, wanted: datetime | None) -> str:
        at = wanted if wanted is not None else self._last
        if at is None or (self._last is not None and at <= self._last):
            at = (self._last or datetime.now(UTC)) + ONE_STEP
        self._last = at
        return iso(at)


def _run(thread_id: str, question: Row | None, at: str) -> Row:
    """Chainlit's step for one run of the message handler: what the answer hangs under."""
    return {
        "id": str(uuid.uuid4()),
        "threadId": thread_id,
        "parentId": question["id"] if question else None,
        "name": "on_message",
        "type": "run",
        "streaming": False,
        "isError": False,
        "metadata": {},
        "input": question["output"] if question else "",
        "output": "",
        "createdAt": at,
        "start": at,
        "end": at,
        "generation": {},
        "showInput": "json",
        "defaultOpen": False,
        "autoCollapse": False,
    }


def _step(
    thread_id: str,
    message: UserMessage | AssistantMessage,
    at: str,
    user: ActingUser,
    parent: str | None = None,
) -> Row:
    metadata: dict[str, Any]
    if isinstance(message, UserMessage):
        name, kind = user.identifier, "user_message"
        metadata = {DOCUMENTS_KEY: message.documents} if message.documents else {}
        if message.refused:
            metadata[REFUSED_KEY] = True
    else:
        name, kind = message.model, "assistant_message"
        metadata = {REPLY_MODEL_KEY: message.model, "stats": message.stats}
        if message.backend:
            metadata["backend"] = message.backend
        if message.stopped:
            metadata["stopped"] = True
        if message.versions:
            metadata[VERSIONS_KEY] = [
                {**version.model_dump(), "content": inert_images(version.content)}
                for version in message.versions
            ]
            metadata[SHOWN_KEY] = message.shown_version
    return {
        "id": str(uuid.uuid4()),
        "threadId": thread_id,
        "parentId": parent,
        "name": name,
        "type": kind,
        "streaming": False,
        "waitForAnswer": False,
        "isError": False,
        "metadata": metadata,
        "output": inert_images(message.content),
        "createdAt": at,
        "start": at,
        "end": at,
        "generation": {},
    }


def _stats_element(thread_id: str, step: Row, answer: AssistantMessage, said: Words) -> Row | None:
    """The speed line under an imported answer, with its version buttons; none for an answer
    that has neither."""
    if not answer.stats and not answer.versions:
        return None
    count = max(1, len(answer.versions))
    shown = answer.shown_version or 0
    stats = answer.versions[shown].stats if answer.versions else answer.stats
    backend = answer.backend or answer.model
    props = stats_props(step["id"], stats, backend, answer.stopped, said, count, shown)
    return {
        "id": str(uuid.uuid4()),
        "threadId": thread_id,
        "type": "custom",
        "name": STATS_ELEMENT_NAME,
        "display": "inline",
        "forId": step["id"],
        "mime": "application/json",
        "props": props,
    }


# -- a refused file, in words ----------------------------------------------------------------------


def _kind(kind: str, said: Words) -> str:
    kinds = {
        "string": said.kind_string,
        "number": said.kind_number,
        "integer": said.kind_integer,
        "boolean": said.kind_boolean,
        "array": said.kind_array,
        "object": said.kind_object,
    }
    return kinds.get(kind, said.kind_value)


def _as_code(values: str) -> str:
    return ", ".join(f"`{value.strip()}`" for value in values.split(",") if value.strip())


def _field_problem(refused: ImportRefused, said: Words) -> str:
    detail, limit = refused.detail, refused.limit
    wording = {
        FieldProblem.MISSING: said.field_missing,
        FieldProblem.UNKNOWN: said.field_unknown,
        FieldProblem.TYPE: said.field_type.format(kind=_kind(detail, said)),
        FieldProblem.EMPTY: said.field_empty,
        FieldProblem.TOO_FEW: said.field_too_few.format(limit=limit),
        FieldProblem.TOO_LONG: said.field_too_long.format(limit=f"{limit or 0:,}"),
        FieldProblem.OUT_OF_RANGE: said.field_out_of_range.format(range=detail),
        FieldProblem.NOT_ONE_OF: said.field_not_one_of.format(allowed=_as_code(detail)),
        FieldProblem.TIME: said.field_time,
        FieldProblem.FUTURE: said.field_future,
        FieldProblem.ORDER: said.field_order,
        FieldProblem.VERSION_SHOWN: said.field_version_shown.format(index=detail),
    }
    return wording[refused.field or FieldProblem.TYPE]


def why_not_imported(refused: ImportRefused, said: Words) -> str:
    """The reason, in a sentence: what is wrong with the file, and where (`code` for a path)."""
    problem = refused.problem
    where = refused.where.replace("`", "'")
    if problem == ImportProblem.TOO_LARGE:
        reason = said.import_too_large.format(limit=f"{(refused.limit or 0) / 1024**2:g}")
    elif problem == ImportProblem.NOT_UTF8:
        reason = said.import_not_utf8
    elif problem == ImportProblem.NOT_JSON:
        line, _, column = refused.detail.partition(":")
        reason = (
            said.import_not_json_at.format(line=line, column=column)
            if column
            else said.import_not_json
        )
    elif problem == ImportProblem.TOO_DEEP:
        reason = said.import_too_deep.format(limit=refused.limit)
    elif problem == ImportProblem.BAD_TEXT:
        reason = said.import_bad_text.format(where=where)
    elif problem == ImportProblem.NOT_AN_EXPORT:
        reason = said.import_not_an_export.format(format=FORMAT)
    elif problem == ImportProblem.UNKNOWN_VERSION:
        version = refused.detail.replace("`", "'")
        reason = said.import_unknown_version.format(version=version, format=FORMAT)
    elif problem == ImportProblem.TOO_MANY_MESSAGES:
        reason = said.import_too_many_messages.format(
            count=f"{refused.count or 0:,}", limit=f"{refused.limit or 0:,}"
        )
    else:
        reason = said.import_field.format(where=where, problem=_field_problem(refused, said))
    return said.import_refused.format(reason=reason)
