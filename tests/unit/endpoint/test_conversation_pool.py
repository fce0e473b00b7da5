"""Which retained conversation a request continues, and what the pool keeps (no engine needed:
a stand-in session records what it is asked to undo and whether it was closed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from foundry_local_chat.endpoint.conversation_pool import (
    ConversationPool,
    Turn,
    kv_cache_bytes,
    plan,
    scope_key,
)

SYSTEM = ("system", "Be brief.")


class StandInSession:
    def __init__(self) -> None:
        self.undone: list[int] = []
        self.closed = False

    def undo_turns(self, count: int) -> None:
        self.undone.append(count)

    def _close(self) -> None:
        self.closed = True


def conversation_turns() -> list[Turn]:
    return [
        Turn((SYSTEM, ("user", "Capital of France?")), "Paris.", 30),
        Turn((("user", "And of Spain?"),), "Madrid.", 45),
    ]


def test_a_follow_up_keeps_every_turn_and_sends_only_the_new_message() -> None:
    messages = [SYSTEM, ("user", "Capital of France?"), ("assistant", "Paris."),
                ("user", "And of Spain?"), ("assistant", "Madrid."),
                ("user", "Of Italy?")]  # fmt: skip
    assert plan(conversation_turns(), messages).keep == 2
    assert plan(conversation_turns(), messages).new == (("user", "Of Italy?"),)


def test_regenerating_the_last_answer_keeps_the_turns_before_it() -> None:
    messages = [SYSTEM, ("user", "Capital of France?"), ("assistant", "Paris."),
                ("user", "And of Spain?")]  # fmt: skip
    assert plan(conversation_turns(), messages).keep == 1
    assert plan(conversation_turns(), messages).new == (("user", "And of Spain?"),)


def test_an_answer_changed_by_the_client_is_read_again_from_there() -> None:
    messages = [SYSTEM, ("user", "Capital of France?"), ("assistant", "Paris!"),
                ("user", "And of Spain?")]  # fmt: skip
    assert plan(conversation_turns(), messages).keep == 0


def test_another_system_prompt_shares_nothing() -> None:
    messages = [("system", "Be verbose."), ("user", "Capital of France?")]
    assert plan(conversation_turns(), messages).keep == 0


def test_the_same_conversation_with_nothing_new_is_not_a_continuation() -> None:
    messages = [SYSTEM, ("user", "Capital of France?"), ("assistant", "Paris.")]
    assert plan(conversation_turns(), messages).keep == 0


@given(st.lists(st.tuples(st.sampled_from(["system", "user", "assistant"]), st.text(max_size=8)),
                min_size=1, max_size=8))  # fmt: skip
def test_a_plan_always_sends_a_suffix_of_the_request(messages: list[tuple[str, str]]) -> None:
    result = plan(conversation_turns(), messages)
    assert result.new and tuple(messages[len(messages) - len(result.new) :]) == result.new
    kept = conversation_turns()[: result.keep]
    assert sum(len(turn.prompt) + 1 for turn in kept) + len(result.new) == len(messages)


def pool_of(capacity: int) -> tuple[ConversationPool, list[StandInSession]]:
    opened: list[StandInSession] = []

    def open_session() -> StandInSession:
        opened.append(StandInSession())
        return opened[-1]

    return ConversationPool(capacity, open_session), opened


def answered(pool: ConversationPool, scope: str, messages: list[tuple[str, str]], answer: str):
    checkout = pool.checkout(scope, messages)
    conversation = checkout.conversation
    tokens = conversation.tokens + 10
    conversation.turns.append(Turn(checkout.plan.new, answer, tokens))
    pool.give_back(conversation, keep=True)
    return checkout


def test_one_scope_never_continues_another_scopes_conversation() -> None:
    pool, opened = pool_of(4)
    first = [SYSTEM, ("user", "Secret?")]
    answered(pool, "alice", first, "Swordfish.")
    bob = pool.checkout("bob", [*first, ("assistant", "Swordfish."), ("user", "More?")])
    assert bob.new_conversation and bob.reused_tokens == 0 and len(opened) == 2


def test_the_least_recently_used_conversation_makes_room_and_lends_its_session() -> None:
    pool, opened = pool_of(2)
    answered(pool, "a", [("user", "one")], "1")
    answered(pool, "b", [("user", "two")], "2")
    answered(pool, "a", [("user", "one"), ("assistant", "1"), ("user", "again")], "1 again")
    third = answered(pool, "c", [("user", "three")], "3")
    # b's session, emptied, answers c: no new session (its cache is already allocated).
    assert len(opened) == 2 and opened[1].undone == [1] and not opened[1].closed
    assert third.conversation.session is opened[1] and third.reused_tokens == 0
    assert pool.stats.evictions == 1 and pool.size == 2
    follow_up = pool.checkout("b", [("user", "two"), ("assistant", "2"), ("user", "more")])
    assert follow_up.new_conversation  # b's conversation is gone


def test_regenerate_undoes_the_last_turn_and_reuses_the_rest() -> None:
    pool, opened = pool_of(2)
    answered(pool, "a", [SYSTEM, ("user", "one")], "1")
    answered(pool, "a", [SYSTEM, ("user", "one"), ("assistant", "1"), ("user", "two")], "2")
    again = pool.checkout("a", [SYSTEM, ("user", "one"), ("assistant", "1"), ("user", "two")])
    assert opened[0].undone == [1]
    assert again.reused_tokens == 10 and again.plan.new == (("user", "two"),)


def test_a_conversation_in_use_is_never_handed_out_twice() -> None:
    pool, _ = pool_of(3)
    answered(pool, "a", [("user", "one")], "1")
    follow_up = [("user", "one"), ("assistant", "1"), ("user", "two")]
    first = pool.checkout("a", follow_up)
    second = pool.checkout("a", follow_up)
    assert not first.new_conversation and second.new_conversation
    assert first.conversation.session is not second.conversation.session


def test_a_failed_conversation_is_closed_not_kept() -> None:
    pool, opened = pool_of(2)
    checkout = pool.checkout("a", [("user", "one")])
    pool.give_back(checkout.conversation, keep=False)
    assert opened[0].closed and pool.size == 0


def test_scopes_differ_by_key_and_by_the_clients_own_identifiers() -> None:
    body = {"model": "m", "messages": []}
    assert scope_key("Bearer a", body, {}) != scope_key("Bearer b", body, {})
    assert scope_key("Bearer a", {**body, "user": "x"}, {}) != scope_key("Bearer a", body, {})
    assert scope_key("Bearer a", {**body, "prompt_cache_key": "chat-1"}, {}) != scope_key(
        "Bearer a", {**body, "prompt_cache_key": "chat-2"}, {}
    )
    assert scope_key("", body, {"X-OpenWebUI-User-Id": "u1"}) != scope_key("", body, {})


@pytest.mark.parametrize("field", ["prompt_cache_key", "user", "safety_identifier"])
def test_a_field_cannot_pose_as_another(field: str) -> None:
    # "a\x00b" in one field must not equal "a" in one and "b" in the next
    joined = scope_key("k", {field: "a\x00b"}, {})
    assert joined != scope_key("k", {"prompt_cache_key": "a", "user": "b"}, {})


def test_the_bundled_models_kv_cache_is_sized_for_its_whole_context() -> None:
    config = {
        "model": {"context_length": 8192, "decoder": {
            "num_hidden_layers": 30, "num_key_value_heads": 3, "head_size": 64}},
        "search": {"max_length": 8192},
    }  # fmt: skip
    assert kv_cache_bytes(config) == 377_487_360  # 360 MiB, as measured (README)
    assert kv_cache_bytes({"model": {}}) is None


def test_more_answers_at_once_than_places_leave_no_more_than_the_capacity() -> None:
    pool, opened = pool_of(1)
    first = pool.checkout("a", [("user", "one")])
    second = pool.checkout("b", [("user", "two")])  # answered at the same time
    for checkout, answer in ((first, "1"), (second, "2")):
        checkout.conversation.turns.append(Turn(checkout.plan.new, answer, 10))
        pool.give_back(checkout.conversation, keep=True)
    assert pool.size == 1 and sum(session.closed for session in opened) == 1
