"""The loop guard on its own: loops are found and cut after one copy of what repeats; answers that
repeat on purpose (lists, code, refrains) pass whole, however the stream splits them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_local_chat.chat.loop_guard import Loop, LoopGuard, LoopRules, units_of
from tests.support.repetitive_answers import LEGITIMATE, LOOPS, as_model_tokens, looping


def guarded(deltas: list[str]) -> tuple[Loop | None, int]:
    """The guard's verdict, and how many deltas it read before it."""
    guard = LoopGuard()
    for read, delta in enumerate(deltas, start=1):
        if guard.feed(delta) is not None:
            return guard.loop, read
    return None, len(deltas)


@pytest.mark.parametrize("name", LEGITIMATE)
def test_an_answer_that_repeats_on_purpose_passes_whole(name: str) -> None:
    loop, _ = guarded(as_model_tokens(LEGITIMATE[name]))
    assert loop is None, f"{name} was cut: {loop}"


@pytest.mark.parametrize("name", LOOPS)
def test_a_loop_is_cut_after_one_copy_of_what_repeats(name: str) -> None:
    start, span = LOOPS[name]
    deltas = as_model_tokens(looping(name))
    loop, read = guarded(deltas)
    assert loop is not None
    assert loop.keep.startswith(start.strip()[:20])
    copies = span.format(n=1, m=2).strip()
    assert len(loop.keep) < len(start) + 2 * len(copies) + 40, loop.keep  # one copy, give or take
    looped = len(as_model_tokens(start + copies))  # the deltas until the loop began
    assert read - looped <= 48, f"{read - looped} deltas of the loop streamed"


def test_the_loop_it_keeps_ends_where_the_repeats_begin() -> None:
    guard = LoopGuard()
    text = "Here is my answer. " + "The cat sat on the mat. " * 12
    for delta in as_model_tokens(text):
        guard.feed(delta)
    assert guard.loop == Loop(
        keep="Here is my answer. The cat sat on the mat.", span="The cat sat on the mat."
    )


def test_once_it_found_a_loop_it_reads_no_more() -> None:
    guard = LoopGuard()
    found = guard.feed("go " * 40)
    assert found is not None and guard.feed("something new") is found
    assert guard.text == "go " * 40


def test_a_word_split_across_deltas_is_one_word() -> None:
    guard = LoopGuard()
    for delta in ["wan", "derer ", "lo", "st"]:
        guard.feed(delta)
    assert units_of(guard.text) == ["wanderer", "lost"]
    assert guard._units == ["wanderer"]  # "lost" may go on in the next delta


def test_hangul_and_cjk_are_read_a_character_at_a_time() -> None:
    units = units_of("백우로 손어, Hello 2023年")
    assert units == ["백", "우", "로", "손", "어", ",", "hello", "2023", "年"]


@pytest.mark.parametrize(
    "rules",
    [
        {"n": 0},
        {"n": 48, "window": 48},
        {"repeat_share": 0},
        {"max_distinct_share": 1.5},
        {"min_repeat_units": 1},
        {"min_repeats": 0},
    ],
)
def test_rules_that_cannot_work_are_refused(rules: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LoopRules(**rules)  # type: ignore[arg-type]


def splits(text: str) -> st.SearchStrategy[list[str]]:
    """The text cut into deltas at arbitrary places (as a server may send it)."""
    cuts = st.lists(st.integers(0, len(text)), max_size=60).map(sorted)
    return cuts.map(lambda at: [text[i:j] for i, j in zip([0, *at], [*at, len(text)], strict=True)])


ANSWERS = [*LEGITIMATE.values(), *(looping(name, 30) for name in LOOPS)]


@settings(max_examples=60, deadline=None)
@given(data=st.data(), index=st.integers(0, len(ANSWERS) - 1))
def test_how_the_stream_is_split_changes_nothing(data: st.DataObject, index: int) -> None:
    text = ANSWERS[index]
    whole = LoopGuard()
    whole.feed(text)
    whole.feed("\n")  # the end of the answer: its last word is complete
    split = LoopGuard()
    for delta in [*data.draw(splits(text)), "\n"]:
        split.feed(delta)
    assert split.loop == whole.loop
