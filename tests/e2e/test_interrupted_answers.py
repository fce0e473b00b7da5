"""An answer saved as it grew and never finished (the app was killed) is marked cut on the next
start, on SQLite and PostgreSQL, and a resumed thread shows it with the note; nothing else is
touched."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.step import StepDict
from chainlit.user import User

from foundry_local_chat.answers.checkpoints import in_progress
from foundry_local_chat.answers.interrupted import mark_interrupted
from foundry_local_chat.answers.live import CUT_KEY, IN_PROGRESS_KEY, CutReason
from foundry_local_chat.history.data_layer import ChatDataLayer
from foundry_local_chat.ui.reattach import shown_on_resume
from foundry_local_chat.ui.texts import words_for
from tests.support.chainlit_context import outside_a_chat


@pytest.fixture
async def layer(layer: ChatDataLayer) -> AsyncIterator[ChatDataLayer]:
    """The shared data layer (tests/conftest.py), used outside any chat's context."""
    with outside_a_chat():
        yield layer


def answer(thread: str, text: str, **metadata: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()), "threadId": thread, "type": "assistant_message", "name": "m",
        "output": text, "createdAt": "2026-12-06T20:00:00", "streaming": False,
        "metadata": {"reply_model": "m", **metadata},
    }  # fmt: skip


async def test_an_answer_left_in_progress_is_marked_cut_on_start(layer: ChatDataLayer) -> None:
    user = await layer.create_user(User(identifier="alice"))
    assert user is not None
    thread = str(uuid.uuid4())
    await layer.update_thread(thread, name="story", user_id=user.id)
    killed = answer(thread, "The sun dipped into the horizon")
    finished = answer(thread, 'It says "in_progress": true, in its text only')
    for saved in (in_progress(cast(StepDict, killed)), finished):
        await SQLAlchemyDataLayer.create_step(layer, cast(StepDict, saved))

    assert await mark_interrupted(layer) == 1
    assert await mark_interrupted(layer) == 0, "marked once"

    stored = await layer.get_thread(thread)
    assert stored is not None
    by_id = {step["id"]: step for step in stored["steps"]}
    cut = by_id[killed["id"]]
    assert cut["output"] == "The sun dipped into the horizon", "what had streamed is kept"
    assert cut["metadata"][CUT_KEY] == CutReason.APP_STOPPED
    assert IN_PROGRESS_KEY not in cut["metadata"]
    assert cut["metadata"]["reply_model"] == "m"
    assert by_id[finished["id"]]["metadata"] == finished["metadata"], "finished: untouched"

    said = words_for("ko-KR")
    shown = shown_on_resume(stored, None, said)
    notes = {e["forId"]: e["props"]["summary"] for e in shown["elements"] or []}
    assert notes == {killed["id"]: said.cut_app_stopped}
