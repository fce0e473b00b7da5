"""Which part of a conversation is sent: the request always fits the model's context, keeps the
newest turns, and a message that cannot fit is refused (property-based, with a counted fake
window; tests/e2e/test_chat_survives_input.py checks the real tokenizer against Foundry Local)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from foundry_local_chat.chat.context_window import (
    MIN_ANSWER_TOKENS,
    ContextWindow,
    MessageTooLong,
    fit_request,
    read_window,
)
from foundry_local_chat.text_repair import has_lone_surrogates, repair_unicode

Message = dict[str, str]


def counted(messages: Sequence[Message]) -> int:
    """A stand-in tokenizer: one token per 4 characters, 5 per message, 3 to start the answer."""
    return sum(len(m["content"]) // 4 + 5 for m in messages) + 3


WINDOW = ContextWindow(context_length=1000, count_tokens=counted, max_token_bytes=16)
SYSTEM = [{"role": "system", "content": "Be brief."}]

turns = st.lists(
    st.integers(0, 900).map(
        lambda size: [
            {"role": "user", "content": "q" * size},
            {"role": "assistant", "content": "a" * (size // 2)},
        ]
    ),
    max_size=8,
).map(lambda pairs: [message for pair in pairs for message in pair])


@given(earlier=turns, new_size=st.integers(0, 5000), max_tokens=st.integers(1, 1200))
def test_a_request_always_fits_and_keeps_the_newest_turns(
    earlier: list[Message], new_size: int, max_tokens: int
) -> None:
    new = {"role": "user", "content": "n" * new_size}
    try:
        fitted = fit_request(SYSTEM, earlier, new, max_tokens, WINDOW)
    except MessageTooLong as error:
        assert counted([*SYSTEM, new]) + MIN_ANSWER_TOKENS > WINDOW.context_length
        assert error.message_tokens > error.limit
        return
    assert fitted.messages[0] == SYSTEM[0] and fitted.messages[-1] == new
    kept = fitted.messages[1:-1]
    assert kept == earlier[len(earlier) - len(kept) :], "a suffix: the newest turns"
    assert fitted.left_out == len(earlier) - len(kept)
    assert not kept or kept[0]["role"] == "user"
    assert fitted.prompt_tokens == counted(fitted.messages)
    assert fitted.prompt_tokens + fitted.max_tokens <= WINDOW.context_length
    if fitted.max_tokens != max_tokens:  # less room for the answer only once nothing is left
        assert kept == [] and MIN_ANSWER_TOKENS <= fitted.max_tokens < max_tokens
    if fitted.left_out:  # one more turn (to the previous question) would not have fitted
        previous = max(i for i in range(fitted.left_out) if earlier[i]["role"] == "user")
        longer = [*SYSTEM, *earlier[previous:], new]
        assert counted(longer) + max_tokens > WINDOW.context_length


def test_without_a_window_the_conversation_goes_as_it_is() -> None:
    earlier = [{"role": "user", "content": "x" * 100_000}]
    new = {"role": "user", "content": "Hi"}
    fitted = fit_request(SYSTEM, earlier, new, 512, None)
    assert fitted.messages == [*SYSTEM, *earlier, new] and fitted.prompt_tokens is None


def test_a_huge_message_is_refused_without_counting_it() -> None:
    def never(_: Sequence[Message]) -> int:
        raise AssertionError("a message far too long is not tokenized")

    window = ContextWindow(context_length=1000, count_tokens=never, max_token_bytes=16)
    with pytest.raises(MessageTooLong) as refused:
        fit_request([], [], {"role": "user", "content": "x" * 100_000}, 100, window)
    assert not refused.value.exact and refused.value.message_tokens == 6250


def test_a_folder_without_a_tokenizer_has_no_window(tmp_path: Path) -> None:
    assert read_window(tmp_path) is None


@given(st.text())
def test_repaired_text_is_always_valid_utf8_and_valid_text_is_unchanged(text: str) -> None:
    repaired = repair_unicode(text)
    repaired.encode("utf-8")
    assert not has_lone_surrogates(repaired)
    if not has_lone_surrogates(text):
        assert repaired == text


@given(st.lists(st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr))))
def test_lone_surrogates_become_replacement_characters(parts: list[str]) -> None:
    text = "".join(parts)
    repaired = repair_unicode(text)
    assert not has_lone_surrogates(repaired)
    assert len(repaired) <= len(text)
