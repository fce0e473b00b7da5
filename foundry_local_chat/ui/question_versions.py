"""An edited question keeps what it replaced: `< 1/2 >` under the question switches between its
versions, each with the turns that followed it (ChatGPT's branches).

Chainlit's edit removed every later message and answered the edited one. Here the question's
message keeps, in its metadata, every version it has had: its text and the turns that followed
it (answers, notices, later questions: their messages with their speed line and sources). The
version shown is the chat's own messages; the others are kept as data. Switching puts the turns
shown away into the question's metadata and sends the other version's again. All of it is the
question's own step and element (public/elements/QuestionVersions.jsx), so it is stored with
the thread (SQLite and PostgreSQL) and comes back on resume. The model is sent the chat's
messages, which are the shown version's turns, and the chat goes on from the version shown.

A message brought back is sent again with its id, text, metadata and custom elements (speed
line, sources); not with its place under Chainlit's hidden "on_message" step (it is shown at
the top level, in the same order), its uploaded-file chips (Chainlit keeps none on resume
either) or its feedback.
"""

from __future__ import annotations

import asyncio
from typing import Any

import chainlit as cl

from foundry_local_chat.chat.turn import REFUSED_KEY, SENT_KEY
from foundry_local_chat.history.data_layer import history_layer
from foundry_local_chat.ui.answer_versions import MOST_VERSIONS, offer_regenerate_on_latest
from foundry_local_chat.ui.texts import Words

VERSIONS_KEY = "question_versions"  # [{"question", "own", "turns"}, …], oldest first
SHOWN_KEY = "question_version_shown"  # which of them the chat shows
ELEMENT_KEY = "question_versions_element"  # the id of the question's < n/m > element
SHOW_QUESTION_VERSION = "show_question_version"
ELEMENT_NAME = "QuestionVersions"
LOCK_KEY = "question_versions_lock"  # the chat's lock (in its user session)
# What of a question's metadata belongs to one of its versions: how it was sent (with passages
# of the chat's documents), and whether it was refused.
OWN_KEYS = (SENT_KEY, REFUSED_KEY)


class QuestionVersionsFull(Exception):
    """An edit of a question that has MOST_VERSIONS versions: it keeps the text it had."""


Version = dict[str, Any]  # {"question": text, "own": {…OWN_KEYS}, "turns": [Turn, …]}
Turn = dict[str, Any]  # {"step": StepDict, "elements": [{"id", "name", "props", "display"}]}


def versions_lock() -> asyncio.Lock:
    """The chat's lock for putting turns away and bringing them back: one change at a time."""
    lock: asyncio.Lock | None = cl.user_session.get(LOCK_KEY)
    if lock is None:
        lock = asyncio.Lock()
        cl.user_session.set(LOCK_KEY, lock)
    return lock


def versions_of(question: cl.Message) -> tuple[list[Version], int]:
    """The question's versions (the one shown holds no turns: they are the chat's messages)
    and which is shown."""
    metadata = question.metadata or {}
    kept = metadata.get(VERSIONS_KEY)
    shown = metadata.get(SHOWN_KEY)
    if isinstance(kept, list) and kept and isinstance(shown, int) and 0 <= shown < len(kept):
        return [dict(version) for version in kept], shown
    return [{"question": question.content, "own": {}, "turns": []}], 0


def switch_request(payload: object) -> tuple[str, int] | None:
    """(question id, version index) from a switch button's payload, or None when it is not one."""
    if not isinstance(payload, dict):
        return None
    question, index = payload.get("question"), payload.get("index")
    if not isinstance(question, str) or not isinstance(index, int) or isinstance(index, bool):
        return None
    return question, index


def _own(question: cl.Message) -> dict[str, Any]:
    metadata = question.metadata or {}
    return {key: metadata[key] for key in OWN_KEYS if key in metadata}


def _switcher(question: cl.Message, said: Words) -> cl.CustomElement:
    """The question's `< n/m >`."""
    versions, shown = versions_of(question)
    element = cl.CustomElement(
        name=ELEMENT_NAME,
        props={
            "question": question.id,
            "versions": len(versions),
            "shown": shown,
            "previous": said.previous_question_version,
            "next": said.next_question_version,
        },
        display="inline",
    )
    element_id = (question.metadata or {}).get(ELEMENT_KEY)
    if isinstance(element_id, str):
        element.id = element_id
    return element


async def _show_switcher(question: cl.Message, said: Words) -> None:
    # Sent on its own, not as one of the question's elements: those are its uploads, which an
    # edited question reads again (app.answer_in_thread).
    await _switcher(question, said).send(for_id=question.id)


async def _stored_elements(ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The custom elements the history holds for these messages (a resumed chat's messages
    come back without theirs)."""
    layer = history_layer()
    if layer is None or not ids:
        return {}
    thread = await layer.get_thread(cl.context.session.thread_id)
    found: dict[str, list[dict[str, Any]]] = {}
    for element in thread.get("elements") or [] if thread else []:
        owner = element.get("forId")
        if owner in ids and element.get("type") == "custom" and element["name"] != ELEMENT_NAME:
            found.setdefault(str(owner), []).append(_element_data(element))
    return found


def _element_data(element: Any) -> dict[str, Any]:
    """A custom element (an object or the history's dict) as data."""
    if isinstance(element, cl.CustomElement):
        return {"id": element.id, "name": element.name, "props": element.props,
                "display": element.display}  # fmt: skip
    return {key: element.get(key) for key in ("id", "name", "props", "display")}


async def put_away(later: list[cl.Message]) -> list[Turn]:
    """The messages as data, with their custom elements, and out of the chat (and the
    history)."""
    in_memory = {
        message.id: [_element_data(e) for e in message.elements or []
                     if isinstance(e, cl.CustomElement) and e.name != ELEMENT_NAME]
        for message in later
    }  # fmt: skip
    stored = await _stored_elements({id for id, elements in in_memory.items() if not elements})
    turns = []
    for message in later:
        elements = in_memory[message.id] or stored.get(message.id, [])
        turns.append({"step": message.to_dict(), "elements": elements})
        await message.remove()
    return turns


async def bring_back(turns: list[Turn], said: Words) -> None:
    """Send the messages of a version again, in their order, after the question."""
    for turn in turns:
        step = turn["step"]
        message = cl.Message.from_dict(step)
        message.parent_id = None  # its "on_message" parent is not on the page any more
        message.metadata = dict(step.get("metadata") or {})
        elements: list[Any] = []
        for data in turn.get("elements") or []:
            element = cl.CustomElement(
                name=data["name"], props=data.get("props") or {}, display=data.get("display")
            )
            element.id = data["id"]
            elements.append(element)
        message.elements = elements
        await message.send()
        if message.type == "user_message" and VERSIONS_KEY in message.metadata:
            await _show_switcher(message, said)


def _question_at(question_id: str) -> tuple[cl.Message, list[cl.Message]] | None:
    """The question (by id) and the messages after it; None when it is not one of the chat's
    questions."""
    messages = cl.chat_context.get()
    at = next((i for i, m in enumerate(messages) if m.id == question_id), None)
    if at is None or messages[at].type != "user_message":
        return None
    return messages[at], messages[at + 1 :]


async def keep_before_edit(question_id: str, text: str, said: Words) -> cl.Message | None:
    """Before an edited question is answered again: the version it had, with the turns that
    followed it, is kept, and they leave the chat; the question shows its new text, as a new
    version. Returns the question (None when it is not one of the chat's questions); raises
    QuestionVersionsFull when it has MOST_VERSIONS already."""
    found = _question_at(question_id)
    if found is None:
        return None
    question, later = found
    versions, shown = versions_of(question)
    if len(versions) >= MOST_VERSIONS:
        await question.update()  # the browser shows the edited text already: it goes back
        raise QuestionVersionsFull(question_id)
    versions[shown] = {"question": question.content, "own": _own(question),
                       "turns": await put_away(later)}  # fmt: skip
    versions.append({"question": text, "own": {}, "turns": []})
    await _show(question, versions, len(versions) - 1, said)
    return question


async def show_question_version(question_id: str, index: int, said: Words) -> bool:
    """Show another version of a question, with the turns that followed it; the chat goes on
    from there. False when there is no such question or version."""
    found = _question_at(question_id)
    if found is None:
        return False
    question, later = found
    versions, shown = versions_of(question)
    if not 0 <= index < len(versions) or len(versions) < 2:
        return False
    if index == shown:
        return True
    versions[shown] = {"question": question.content, "own": _own(question),
                       "turns": await put_away(later)}  # fmt: skip
    turns = versions[index].get("turns") or []
    await _show(question, versions, index, said)
    await bring_back(turns, said)
    await offer_regenerate_on_latest(said)
    return True


async def _show(question: cl.Message, versions: list[Version], index: int, said: Words) -> None:
    """The question as its version `index` (whose turns are then the chat's: not kept twice)."""
    shown = versions[index]
    versions[index] = {**shown, "turns": []}
    metadata = {k: v for k, v in (question.metadata or {}).items() if k not in OWN_KEYS}
    element_id = metadata.get(ELEMENT_KEY) or _switcher(question, said).id
    question.content = str(shown["question"])
    question.metadata = {
        **metadata, **(shown.get("own") or {}),
        VERSIONS_KEY: versions, SHOWN_KEY: index, ELEMENT_KEY: element_id,
    }  # fmt: skip
    await question.update()
    await _show_switcher(question, said)
