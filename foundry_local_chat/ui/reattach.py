"""What a tab that opens a thread is shown of its answers: the answer being written, as far as
it is written (then the rest streams in), and a note under an answer that was cut because the
app stopped, or that another app instance is still writing (its stored part is what this
instance can show)."""

from __future__ import annotations

import uuid
from typing import Any, cast

from chainlit.step import StepDict
from chainlit.types import ThreadDict

from foundry_local_chat.answers.live import CUT_KEY, IN_PROGRESS_KEY, CutReason
from foundry_local_chat.ui.texts import Words

NOTE_ELEMENT = "AnswerStats"  # public/elements/AnswerStats.jsx: the line under an answer


def note_element(thread_id: str, step_id: str, text: str) -> dict[str, Any]:
    """The line under an answer, as Chainlit sends a CustomElement."""
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"note:{step_id}:{text}")),
        "threadId": thread_id,
        "type": "custom",
        "name": NOTE_ELEMENT,
        "display": "inline",
        "props": {"summary": text, "backend": "", "stopped": True, "title": text},
        "forId": step_id,
        "mime": "application/json",
        "url": None,
        "chainlitKey": None,
        "objectKey": None,
    }


def shown_on_resume(thread: ThreadDict, written: StepDict | None, said: Words) -> ThreadDict:
    """The thread as a tab that opens it is shown. `written` is the answer this process is
    writing in it, as far as it is written (None when there is none): it replaces its stored
    part, or is added when nothing is stored yet, and shows as streaming."""
    steps: list[Any] = list(thread.get("steps") or [])
    elements: list[Any] = list(thread.get("elements") or [])
    if written is not None:
        live: dict[str, Any] = {**written, "streaming": True}
        metadata = {**(live.get("metadata") or {})}
        metadata.pop(IN_PROGRESS_KEY, None)
        live["metadata"] = metadata
        at = next((i for i, step in enumerate(steps) if step.get("id") == live.get("id")), None)
        if at is None:
            steps.append(live)
        else:
            steps[at] = live
    noted = {element.get("forId") for element in elements if element.get("name") == NOTE_ELEMENT}
    for step in steps:
        metadata = step.get("metadata") or {}
        if step.get("id") in noted or (written is not None and step.get("id") == written.get("id")):
            continue
        if metadata.get(IN_PROGRESS_KEY):
            text = said.being_written
        elif metadata.get(CUT_KEY) == CutReason.APP_STOPPED:
            text = said.cut_app_stopped
        else:
            continue
        elements.append(note_element(str(thread.get("id", "")), str(step.get("id")), text))
    return cast(ThreadDict, {**thread, "steps": steps, "elements": elements})
