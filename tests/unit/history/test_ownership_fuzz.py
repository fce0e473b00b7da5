"""Property: whatever ids another user's writes carry (Alice's, his own, unknown ones), in any
order, Alice's thread stays exactly as it was. The data layer on a SQLite file, no server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from chainlit.element import CustomElement
from chainlit.message import Message
from chainlit.types import Feedback
from chainlit.user import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_local_chat.history.data_layer import ChatDataLayer, PersistenceError
from foundry_local_chat.history.ownership import ActingUser, NotYours, acting_as
from foundry_local_chat.storage import database
from tests.support.chainlit_context import outside_a_chat

ALICE = {
    "thread": "a0000000-0000-4000-8000-000000000001",
    "question": "a0000000-0000-4000-8000-000000000002",
    "answer": "a0000000-0000-4000-8000-000000000003",
    "element": "a0000000-0000-4000-8000-000000000004",
    "feedback": "a0000000-0000-4000-8000-000000000005",
}
BOB_THREAD = "b0000000-0000-4000-8000-000000000001"
ids = st.sampled_from([*ALICE.values(), BOB_THREAD]) | st.uuids(version=4).map(str)
OPERATIONS = (
    "step", "element", "delete_element", "delete_step", "feedback", "delete_feedback",
    "rename", "delete_thread",
)  # fmt: skip
operations = st.lists(st.tuples(st.sampled_from(OPERATIONS), ids, ids, ids), max_size=8)


async def seed(url: str) -> tuple[str, str]:
    """Alice's thread (a question, an answer with an element and feedback) and Bob's."""
    layer = ChatDataLayer(url)
    try:
        users = [await layer.create_user(User(identifier=name)) for name in ("alice", "bob")]
        alice, bob = (user.id for user in users if user is not None)
        await layer.update_thread(ALICE["thread"], name="Alice's", user_id=alice)
        await layer.update_thread(BOB_THREAD, name="Bob's", user_id=bob)
        with outside_a_chat():
            for step_id, text in ((ALICE["question"], "Code 4711?"), (ALICE["answer"], "Yes.")):
                message = Message(id=step_id, content=text)
                message.thread_id = ALICE["thread"]
                await layer.create_step(message.to_dict())
            stats = CustomElement(
                id=ALICE["element"], name="AnswerStats", props={"summary": "1 token"},
                for_id=ALICE["answer"], thread_id=ALICE["thread"],
            )  # fmt: skip
            await layer.create_element(stats)
        feedback = Feedback(forId=ALICE["answer"], value=1, id=ALICE["feedback"])
        await layer.upsert_feedback(feedback)
        return alice, bob
    finally:
        await layer.close()


async def alices_thread(url: str) -> Any:
    layer = ChatDataLayer(url)
    try:
        return await layer.get_thread(ALICE["thread"])
    finally:
        await layer.close()


async def as_bob(url: str, bob_id: str, steps: list[tuple[str, str, str, str]]) -> None:
    layer = ChatDataLayer(url)

    def element(element_id: str, for_id: str, thread_id: str) -> CustomElement:
        return CustomElement(
            id=element_id, name="AnswerStats", props={"summary": "forged"}, for_id=for_id,
            thread_id=thread_id,
        )  # fmt: skip

    def step(step_id: str, thread_id: str) -> dict[str, Any]:
        message = Message(id=step_id, content="Bob was here.")
        message.thread_id = thread_id
        return dict(message.to_dict())

    run: dict[str, Callable[[str, str, str], Awaitable[Any]]] = {
        "step": lambda a, b, c: layer.create_step(step(a, b)),  # type: ignore[arg-type]
        "element": lambda a, b, c: layer.create_element(element(a, b, c)),
        "delete_element": lambda a, b, c: layer.delete_element(a, b),
        "delete_step": lambda a, b, c: layer.delete_step(a),
        "feedback": lambda a, b, c: layer.upsert_feedback(Feedback(forId=a, value=0, id=b)),
        "delete_feedback": lambda a, b, c: layer.delete_feedback(a),
        "rename": lambda a, b, c: layer.update_thread(a, name="Bob's now"),
        "delete_thread": lambda a, b, c: layer.delete_thread(a),
    }
    try:
        with outside_a_chat(), acting_as(ActingUser("bob", bob_id)):
            for operation, first, second, third in steps:
                # Refused by the check, or by a foreign key (an unknown thread).
                with contextlib.suppress(NotYours, PersistenceError):
                    await run[operation](first, second, third)
    finally:
        await layer.close()


def test_another_users_writes_never_change_alices_thread(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    asyncio.run(database.upgrade(url))
    _, bob_id = asyncio.run(seed(url))
    before = asyncio.run(alices_thread(url))
    assert before is not None and len(before["steps"]) == 2 and before["elements"]

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(steps=operations)
    def bob_tries(steps: list[tuple[str, str, str, str]]) -> None:
        asyncio.run(as_bob(url, bob_id, steps))
        assert asyncio.run(alices_thread(url)) == before

    bob_tries()


def test_unknown_ids_read_as_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    asyncio.run(database.upgrade(url))

    async def reads() -> None:
        layer = ChatDataLayer(url)
        try:
            unknown = str(uuid.uuid4())
            assert await layer.get_thread_author(unknown) == ""
            assert await layer.get_thread(unknown) is None
            assert await layer.get_step(unknown) is None
        finally:
            await layer.close()

    asyncio.run(reads())
