"""The /browser page's loop guard (web/src/loop_guard.js, run by Node.js) holds to the chat's
(foundry_local_chat/chat/loop_guard.py): the cases of tests/unit/chat/test_loop_guard.py (issue
22's among them, tests/support/repetitive_answers.py's EDGE_CASES), and on every answer, however
the stream splits it, the same verdict as the Python guard: what it keeps, the span it names,
and after how many deltas."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_local_chat.chat.loop_guard import Loop, LoopGuard, units_of
from tests.support.js_loop_guard import JsLoopGuard
from tests.support.loop_guard_cases import IMPOSSIBLE_RULES, guarded, splits
from tests.support.repetitive_answers import (
    EDGE_CASES,
    LEGITIMATE,
    LOOPS,
    as_model_tokens,
    looping,
)

ANSWERS = [
    *LEGITIMATE.values(),
    *(looping(name, 30) for name in LOOPS),
    *EDGE_CASES.values(),
]


@pytest.fixture(scope="module")
def js() -> Iterator[JsLoopGuard]:
    guard = JsLoopGuard()
    yield guard
    guard.close()


@pytest.mark.parametrize("name", LEGITIMATE)
def test_an_answer_that_repeats_on_purpose_passes_whole(js: JsLoopGuard, name: str) -> None:
    verdict = js.guard(as_model_tokens(LEGITIMATE[name]))
    assert verdict.loop is None, f"{name} was cut: {verdict.loop}"


@pytest.mark.parametrize("name", LOOPS)
def test_a_loop_is_cut_after_one_copy_of_what_repeats(js: JsLoopGuard, name: str) -> None:
    start, span = LOOPS[name]
    deltas = as_model_tokens(looping(name))
    verdict = js.guard(deltas)
    assert verdict.loop is not None
    assert verdict.loop.keep.startswith(start.strip()[:20])
    copies = span.format(n=1, m=2).strip()
    assert len(verdict.loop.keep) < len(start) + 2 * len(copies) + 40, verdict.loop.keep
    looped = len(as_model_tokens(start + copies))
    assert verdict.read - looped <= 48, f"{verdict.read - looped} deltas of the loop streamed"


@pytest.mark.parametrize("name", [*LEGITIMATE, *LOOPS, *EDGE_CASES])
@pytest.mark.parametrize("streamed", [True, False])
def test_the_same_verdict_as_the_chats_guard(js: JsLoopGuard, name: str, streamed: bool) -> None:
    text = LEGITIMATE.get(name) or EDGE_CASES.get(name) or looping(name)
    deltas = as_model_tokens(text) if streamed else [text, "\n"]
    loop, read = guarded(deltas)
    verdict = js.guard(deltas)
    assert (verdict.loop, verdict.read) == (loop, read)


def test_the_loop_it_keeps_ends_where_the_repeats_begin(js: JsLoopGuard) -> None:
    text = "Here is my answer. " + "The cat sat on the mat. " * 12
    verdict = js.guard(as_model_tokens(text))
    assert verdict.loop == Loop(
        keep="Here is my answer. The cat sat on the mat.", span="The cat sat on the mat."
    )


def test_once_it_found_a_loop_it_reads_no_more(js: JsLoopGuard) -> None:
    verdict = js.guard(["go " * 40, "something new"])
    assert verdict.loop is not None and verdict.read == 1
    assert verdict.text == "go " * 40


def test_a_word_split_across_deltas_is_one_word(js: JsLoopGuard) -> None:
    verdict = js.guard(["wan", "derer ", "lo", "st"])
    assert js.units([verdict.text]) == [["wanderer", "lost"]]
    assert verdict.units == ["wanderer"]  # "lost" may go on in the next delta


def test_hangul_and_cjk_are_read_a_character_at_a_time(js: JsLoopGuard) -> None:
    [units] = js.units(["백우로 손어, Hello 2023年"])
    assert units == ["백", "우", "로", "손", "어", ",", "hello", "2023", "年"]


def test_every_character_is_read_as_python_reads_it(js: JsLoopGuard) -> None:
    """JavaScript's \\w, \\d and \\s are not Python's: the module spells Python's out. Every
    character Python's Unicode database knows (its version may be older than Node's), alone and
    after a letter (a word goes on, or a new unit starts), lower-cased the same way."""
    known = [
        chr(code) for code in range(0x110000)
        if not 0xD800 <= code <= 0xDFFF and unicodedata.category(chr(code)) != "Cn"
    ]  # fmt: skip
    texts = [f"{char} a{char} {char}1" for char in known]
    read = zip(texts, js.units(texts), strict=True)
    differently = [f"U+{ord(text[0]):04X}" for text, units in read if units != units_of(text)]
    assert differently[:20] == []


@pytest.mark.parametrize("rules", IMPOSSIBLE_RULES)
def test_rules_that_cannot_work_are_refused(js: JsLoopGuard, rules: dict[str, float]) -> None:
    assert js.refusal() is None
    refusal = js.refusal(**rules)
    assert refusal is not None and refusal.startswith("RangeError")


@settings(max_examples=60, deadline=None)
@given(data=st.data(), index=st.integers(0, len(ANSWERS) - 1))
def test_how_the_stream_is_split_changes_nothing(
    js: JsLoopGuard, data: st.DataObject, index: int
) -> None:
    text = ANSWERS[index]
    whole = LoopGuard()
    whole.feed(text)
    whole.feed("\n")  # the end of the answer: its last word is complete
    split = js.guard([*data.draw(splits(text)), "\n"])
    assert split.loop == whole.loop
