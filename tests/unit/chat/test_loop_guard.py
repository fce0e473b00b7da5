"""The loop guard on its own: loops are found and cut after one copy of what repeats; answers that
repeat on purpose (lists, code, refrains) pass whole, however the stream splits them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_local_chat.chat.loop_guard import Loop, LoopGuard, LoopRules, units_of
from tests.support.loop_guard_cases import IMPOSSIBLE_RULES, guarded, splits
from tests.support.repetitive_answers import (
    A_WEEK_LISTED_AGAIN,
    LEGITIMATE,
    LOOPS,
    as_model_tokens,
    looping,
)


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


@pytest.mark.parametrize(
    ("start", "line"),
    [
        # Issue 22: the line came back four times before the guard stopped the poem.
        (
            "The sea is deep, the sea is wide,\nits secrets kept from every tide,\n",
            "balances untold balances,\n",
        ),
        # The bundled model, "Write a poem about the sea." (seed 5).
        ("My tale of sailin' the seas,\nA brave adventurer,\nAn explorer,\n", "A sailor's mate,\n"),
        ("바다는 깊고 넓어서\n", "파도야,\n"),
    ],
)
def test_a_line_that_comes_back_is_stopped_at_its_third_copy(start: str, line: str) -> None:
    loop, read = guarded(as_model_tokens(start + line * 20))
    assert loop is not None
    assert loop.keep == (start + line).strip()
    # A delta brings the third copy's newline with the fourth copy's first word: no further.
    assert read <= len(as_model_tokens(start + line * 3)) + 1


def test_a_line_that_comes_back_with_only_old_lines_between_is_stopped_at_its_third_copy() -> None:
    start = "In twilight skies,\nIn darkest nights,\n"
    line, between = "In deepest deepensions,\n", "In deepest depths,\n"
    loop, read = guarded(as_model_tokens(start + line + between + line * 20))
    assert loop is not None
    assert loop.keep == (start + line + between).strip()
    assert read <= len(as_model_tokens(start + line + between + line * 2)) + 1


def test_a_line_that_comes_back_after_new_lines_is_a_refrain() -> None:
    answer = "".join(f"The {thing} is far,\nand the river runs on.\n" for thing in "abcdefgh")
    assert guarded(as_model_tokens(answer))[0] is None
    knock = "The wind came by:\nknock, knock,\nknock, knock,\nknock, knock,\nand then no more.\n"
    assert guarded(as_model_tokens(knock))[0] is None  # a line of one word is no line to count


def test_lines_in_code_may_repeat() -> None:
    code = "```python\n" + "print('Hello, World!')\n" * 2 + "move_robot(left)\n" * 3 + "```\n"
    assert guarded(as_model_tokens(code))[0] is None
    prose = "Then:\n" + "move the robot left\n" * 3
    assert guarded(as_model_tokens(prose))[0] is not None


def test_a_week_listed_again_is_stopped_when_it_begins_again() -> None:
    loop, _ = guarded(as_model_tokens(A_WEEK_LISTED_AGAIN))
    assert loop is not None
    assert loop.keep.endswith("7. Sunday - 20, 21, ...\n\n8. Monday - 22, 23, ...")


def test_records_that_each_bring_a_new_word_are_a_listing_not_a_loop() -> None:
    names = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Jon"]
    record = '{{"name": "{}", "active": true, "admin": false}},\n'
    assert guarded(as_model_tokens("".join(record.format(name) for name in names)))[0] is None
    loop, _ = guarded(as_model_tokens("".join(record.format("Ann") for _ in names)))
    assert loop is not None and loop.keep.startswith(record.format("Ann").strip())


def test_a_line_drawn_with_one_mark_is_no_loop_unless_it_goes_on() -> None:
    columns = "abcdefghij"
    cells = " | ".join(str(n) for n in range(10))
    table = f"| {' | '.join(columns)} |\n|{'---|' * len(columns)}\n| {cells} |\n"
    heading = "Results of the survey\n" + "=" * 21 + "\n\nMost people sleep well.\n"
    assert guarded(as_model_tokens(table + heading))[0] is None
    loop, _ = guarded(as_model_tokens("Results\n" + "=" * 300))
    assert loop is not None and len(loop.keep) < len("Results\n") + 100


def test_the_loop_it_keeps_ends_where_the_repeats_begin() -> None:
    guard = LoopGuard()
    text = "Here is my answer. " + "The cat sat on the mat. " * 12
    for delta in as_model_tokens(text):
        guard.feed(delta)
    assert guard.loop == Loop(
        keep="Here is my answer. The cat sat on the mat.", span="The cat sat on the mat."
    )


@pytest.mark.parametrize(
    "name",
    ["a phrase", "a line of a poem", "a short line of a poem", "two lines of a poem taking turns"],
)
@pytest.mark.parametrize("streamed", [True, False])
def test_what_it_keeps_is_the_answer_up_to_one_copy(name: str, streamed: bool) -> None:
    start, span = LOOPS[name]
    text = looping(name)
    loop, _ = guarded(as_model_tokens(text) if streamed else [text])
    assert loop is not None and loop.keep == (start + span).strip()


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


@pytest.mark.parametrize("rules", IMPOSSIBLE_RULES)
def test_rules_that_cannot_work_are_refused(rules: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LoopRules(**rules)  # type: ignore[arg-type]


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
