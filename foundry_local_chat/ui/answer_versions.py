"""An answer given again (regenerate), with every version kept: the answer's message holds the
one shown (its content is what later requests send), its metadata all of them, and its speed
line element (public/elements/AnswerStats.jsx) the "< n/m >" buttons that switch between them.
All of it is the message's own step and element, so it is stored with the thread and comes back
on resume."""

from __future__ import annotations

from typing import Any

import chainlit as cl
from chainlit.types import ThreadDict

from foundry_local_chat.chat.turn import REPLY_MODEL_KEY
from foundry_local_chat.history.session_keys import SessionKey
from foundry_local_chat.ui.texts import Words

VERSIONS_KEY = "versions"  # [{"content", "stats", "stopped"}, …], oldest first (2 or more)
# The most versions an answer, or an edited question, keeps. Each is stored in its message's
# step and sent to every tab that shows it (a question's versions hold the turns that followed
# each), so a careless user's hundredth "answer again" must not make every save larger.
MOST_VERSIONS = 20
SHOWN_KEY = "version_shown"  # which of them the message shows
STATS_ELEMENT_KEY = "stats_element"  # the id of its speed line element
LATEST_ANSWER = SessionKey[cl.Action]("latest_answer")  # the answer offering "answer again"
STATS_ELEMENT_NAME = "AnswerStats"  # public/elements/AnswerStats.jsx
REGENERATE = "regenerate"
SHOW_VERSION = "show_version"
StepFacts = tuple[str, str, dict[str, Any] | None]  # a message's id, type and metadata


def version_of(message: cl.Message) -> dict[str, Any]:
    metadata = message.metadata or {}
    return {
        "content": message.content,
        "stats": metadata.get("stats", ""),
        "stopped": bool(metadata.get("stopped")),
    }


def versions_of(message: cl.Message) -> list[dict[str, Any]]:
    """The versions an answer has had so far, the one it shows included."""
    kept = (message.metadata or {}).get(VERSIONS_KEY)
    return list(kept) if isinstance(kept, list) and kept else [version_of(message)]


def stats_props(
    answer_id: str,
    summary: str,
    backend: str,
    stopped: bool,
    said: Words,
    versions: int = 1,
    shown: int = 0,
) -> dict[str, Any]:
    """What the speed line element shows (public/elements/AnswerStats.jsx)."""
    return {
        "summary": summary,
        "backend": backend,
        "stopped": stopped,
        "title": said.answered_by.format(backend=backend),
        "answer": answer_id,
        "versions": versions,
        "shown": shown,
        "previous": said.previous_version,
        "next": said.next_version,
    }


def stats_element(
    answer_id: str,
    summary: str,
    backend: str,
    stopped: bool,
    said: Words,
    versions: int = 1,
    shown: int = 0,
    element_id: str | None = None,
) -> cl.CustomElement:
    """The speed line under an answer, with the version buttons when it has more than one."""
    element = cl.CustomElement(
        name=STATS_ELEMENT_NAME,
        props=stats_props(answer_id, summary, backend, stopped, said, versions, shown),
        display="inline",
    )
    if element_id:
        element.id = element_id
    return element


def regenerate_action(said: Words) -> cl.Action:
    return cl.Action(
        name=REGENERATE,
        payload={},
        icon="refresh-cw",
        label=said.regenerate,
        tooltip=said.regenerate_tip,
    )


async def offer_regenerate(reply: cl.Message, said: Words) -> None:
    """Only the latest answer offers to be given again: the one before stops offering it."""
    before: cl.Action | None = LATEST_ANSWER.get()
    if before is not None:
        await before.remove()
    action = regenerate_action(said)
    reply.actions = [action]
    LATEST_ANSWER.set(action)


async def offer_regenerate_on_resume(thread: ThreadDict, said: Words) -> None:
    """A resumed chat's latest answer offers to be given again, as it did before the reload
    (Chainlit does not keep a message's actions)."""
    steps = thread.get("steps", [])
    await _offer_on_latest([(s["id"], s.get("type", ""), s.get("metadata")) for s in steps], said)


async def offer_regenerate_on_latest(said: Words) -> None:
    """The chat's latest answer offers to be given again, once the turns shown have changed
    (another version of a question)."""
    before: cl.Action | None = LATEST_ANSWER.get()
    if before is not None:
        await before.remove()
        LATEST_ANSWER.set(None)
    messages = cl.chat_context.get()
    await _offer_on_latest([(m.id, m.type, m.metadata) for m in messages], said)


async def _offer_on_latest(steps: list[StepFacts], said: Words) -> None:
    """Offer it on the latest of the chat's turns (questions and answers, not the app's
    notices) when that is an answer."""
    turns = [(id, metadata or {}) for id, kind, metadata in steps
             if kind == "user_message" or REPLY_MODEL_KEY in (metadata or {})]  # fmt: skip
    if not turns or REPLY_MODEL_KEY not in turns[-1][1]:
        return
    action = regenerate_action(said)
    await action.send(for_id=turns[-1][0])
    LATEST_ANSWER.set(action)


def answer_to_regenerate(
    answer_id: str,
) -> tuple[cl.Message, cl.Message, list[cl.Message]] | None:
    """The latest answer (by id), the question it answers, and the app's notices after it
    (sources, a loop notice); None when that is not the chat's latest answer."""
    messages = cl.chat_context.get()
    at = next((i for i, m in enumerate(messages) if m.id == answer_id), None)
    if at is None or REPLY_MODEL_KEY not in (messages[at].metadata or {}):
        return None
    later = messages[at + 1 :]
    if any(m.type == "user_message" or REPLY_MODEL_KEY in (m.metadata or {}) for m in later):
        return None
    question = next((m for m in reversed(messages[:at]) if m.type == "user_message"), None)
    if question is None:
        return None
    return messages[at], question, later


async def show_version(answer_id: str, index: object, said: Words) -> bool:
    """Show another version of an answer; later requests send the one shown."""
    message = next((m for m in cl.chat_context.get() if m.id == answer_id), None)
    if message is None:
        return False
    versions = versions_of(message)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(versions):
        return False
    version = versions[index]
    metadata = message.metadata or {}
    message.content = str(version["content"])
    message.metadata = {**metadata, "stats": version["stats"], SHOWN_KEY: index}
    element = stats_element(
        message.id, str(version["stats"]), str(metadata.get("backend", "")),
        bool(version.get("stopped")), said, len(versions), index,
        element_id=metadata.get(STATS_ELEMENT_KEY),
    )  # fmt: skip
    # Chainlit's annotation of Message.elements leaves out CustomElement, which it sends.
    elements: list[Any] = [element]
    message.elements = elements
    await message.update()
    return True
