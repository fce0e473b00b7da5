"""Notices when a streamed answer has fallen into a loop, as a small model does when a question is
beyond it: the same span of words coming back again and again until the token limit.

Pure: fed the answer's text as it streams, it says whether the answer loops and which part of
it is worth keeping; chat_ui stops the request when it does (closing the token generator).

The text is read as units: a word (lower-cased), one Hangul, kana or CJK character (those scripts
do not separate words the way English does), or one punctuation mark. Two rules, either of which
finds a loop:

- **A span comes back word for word**: for some span of p ≤ 64 units, the last max(16, 2·p)
  units (so at least two more copies of the span) each equal the unit p earlier, allowing one in
  twenty to differ. A counter may count up: one number in a span with a word ("7. Uranus, 8.
  Uranus"), several in a span with three different words for each ("8. What makes us feel
  uneasy about things happening outside our own homes (10)"). Numbers alone (counting), a times
  table, `a[1] = 2; a[2] = 4;` or "Week 1: run 10 minutes, Week 2: run 15 minutes" pass.
- **A few words churn**: among the last 48 units, at most 45% of the word pairs (2-grams) are
  distinct: the loops whose copies each differ a little ("In twilight's darkest air, … darkest
  night, … darkest hour").

Legitimate repetition keeps bringing something new: a numbered list has new items, code with
repeated lines has lines between them, a poem's refrain comes back after a new verse. The
numbers were measured, not guessed: bench/bench_loop_guard.py --sweep replays the bundled model's
unguarded answers (seeds 1-3 of its 25 prompts) and the legitimate repetitive answers of
tests/support/repetitive_answers.py through candidate rules; these are the tightest that cut
no legitimate answer and none the model finished itself. README's "The loop guard" has the
figures, and those of seeds 4-5, on which nothing was tuned.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass

_SYLLABIC = "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3"
# A word; one Hangul syllable or jamo, kana or CJK ideograph; or one other visible character.
_UNIT = re.compile(rf"(?P<word>[^\W{_SYLLABIC}]+)|[{_SYLLABIC}]|[^\w\s]")
_NUMBER = re.compile(r"\d+")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class LoopRules:
    """The two rules' thresholds (see the module's docstring)."""

    # A span that comes back word for word.
    min_repeat_units: int = 16  # the repeats cover at least this many units...
    min_repeats: int = 2  # ...and at least this many copies after the first
    max_span_units: int = 64  # the longest span looked for
    repeat_share: float = 0.95  # share of units equal to the unit a span earlier
    words_for_one_counter: int = 1  # a span with this many different words may count up one
    words_per_counter: int = 3  # number; several, with this many different words for each
    # A few words churning.
    window: int = 48  # units looked at together
    n: int = 2  # units per n-gram
    max_distinct_share: float = 0.45  # at most this share of the window's n-grams are distinct

    def __post_init__(self) -> None:
        if not 1 <= self.n < self.window:
            raise ValueError(f"n={self.n} must be at least 1 and less than window={self.window}")
        for name in ("repeat_share", "max_distinct_share"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name}={getattr(self, name)} must lie in (0, 1]")
        if self.min_repeat_units < 2 or self.min_repeats < 1 or self.max_span_units < 1:
            raise ValueError("min_repeat_units ≥ 2, min_repeats ≥ 1 and max_span_units ≥ 1")

    def repeat_units(self, span: int) -> int:
        return max(self.min_repeat_units, self.min_repeats * span)


@dataclass(frozen=True)
class Loop:
    """Where an answer loops: `keep` is the text worth keeping (everything before the repeats,
    and the repeated span once); `span` is that span."""

    keep: str
    span: str


def units_of(text: str) -> list[str]:
    return [unit for _, unit in units_at(text)]


def units_at(text: str) -> list[tuple[int, str]]:
    """The text's units, each with the offset it starts at."""
    return [(match.start(), match.group().lower()) for match in _UNIT.finditer(text)]


class LoopGuard:
    """Feed it an answer's text deltas in order; `feed` returns the Loop once one is found (and
    keeps returning it, reading no more)."""

    def __init__(self, rules: LoopRules | None = None) -> None:
        self.rules = rules or LoopRules()
        self.text = ""
        self.loop: Loop | None = None
        self._units: list[str] = []
        self._starts: list[int] = []  # where each unit starts in the text
        self._numeric: list[bool] = []  # whether each unit is a number
        self._lettered = [0]  # how many of the units before each index have a letter
        self._read = 0  # the text before this offset is cut into units
        spans = range(1, self.rules.max_span_units + 1)
        self._agree: dict[int, deque[bool]] = {span: deque() for span in spans}
        self._agreeing: dict[int, int] = dict.fromkeys(spans, 0)
        self._grams: deque[tuple[str, ...]] = deque()
        self._gram_counts: Counter[tuple[str, ...]] = Counter()

    def feed(self, delta: str) -> Loop | None:
        if self.loop is not None:
            return self.loop
        self.text += delta
        for match in _UNIT.finditer(self.text, self._read):
            if match.end() == len(self.text) and match.lastgroup == "word":
                break  # the word may go on in the next delta
            unit = match.group().lower()
            self._units.append(unit)
            self._starts.append(match.start())
            self._numeric.append(bool(_NUMBER.fullmatch(unit)))
            self._lettered.append(self._lettered[-1] + bool(_LETTER.search(unit)))
            self._read = match.end()
            self.loop = self._repeated_span() or self._churn()
            if self.loop is not None:
                return self.loop
        return None

    # -- a span that comes back word for word ---------------------------------------------------

    def _same(self, at: int, span: int) -> bool:
        """Whether the unit at `at` repeats the one a span earlier. Counters may count up in a
        span of words: one in a span with a word ("7. Uranus, 8. Uranus"), several in a span of
        three different words for each ("8. What makes us feel uneasy about … homes (10)");
        not in numbers alone (counting) nor with fewer words (a times table, `a[1] = 2;`,
        "Week 1: run 10 minutes")."""
        unit, earlier = self._units[at], self._units[at - span]
        if unit == earlier:
            return True
        if not (self._numeric[at] and self._numeric[at - span]):
            return False
        first = at - span + 1
        lettered = self._lettered[at + 1] - self._lettered[first]
        if not lettered:
            return False  # numbers without words: counting
        units = self._units
        counters = sum(
            self._numeric[i] and units[i] != units[i - span] for i in range(first, at + 1)
        )
        words_per_counter = self.rules.words_per_counter
        needed = self.rules.words_for_one_counter if counters == 1 else words_per_counter * counters
        if lettered < needed:
            return False
        return len({u for u in units[first : at + 1] if _LETTER.search(u)}) >= needed

    def _repeated_span(self) -> Loop | None:
        last = len(self._units) - 1
        for span in range(1, min(self.rules.max_span_units, last) + 1):
            agree = self._agree[span]
            same = self._same(last, span)
            agree.append(same)
            self._agreeing[span] += same
            needed = self.rules.repeat_units(span)
            if len(agree) > needed:
                self._agreeing[span] -= agree.popleft()
            if len(agree) == needed and self._agreeing[span] >= self.rules.repeat_share * needed:
                first_repeat = last - needed + 1
                while first_repeat - span > 0 and self._same(first_repeat - 1, span):
                    first_repeat -= 1
                while not self._same(first_repeat, span):  # a differing unit may lead the run
                    first_repeat += 1
                return self._loop(first_repeat - span, first_repeat)
        return None

    # -- a few words churning -------------------------------------------------------------------

    def _churn(self) -> Loop | None:
        n, window = self.rules.n, self.rules.window
        if len(self._units) < n:
            return None
        gram = tuple(self._units[-n:])
        self._grams.append(gram)
        self._gram_counts[gram] += 1
        if len(self._grams) > window - n + 1:
            old = self._grams.popleft()
            self._gram_counts[old] -= 1
            if not self._gram_counts[old]:
                del self._gram_counts[old]
        if len(self._grams) < window - n + 1:
            return None
        if len(self._gram_counts) > self.rules.max_distinct_share * len(self._grams):
            return None
        # The churn began at the window's first n-gram that comes back in it; keep up to where
        # it first came back.
        start = len(self._units) - window
        grams = [tuple(self._units[i : i + n]) for i in range(start, len(self._units) - n + 1)]
        for offset, first in enumerate(grams):
            if self._gram_counts[first] > 1:
                again = grams.index(first, offset + 1)
                return self._loop(start + offset, start + again)
        return None  # unreachable: a window with fewer distinct n-grams than n-grams repeats one

    def _loop(self, span_start: int, repeats_start: int) -> Loop:
        # Let the repeats begin with a word or number: a copy keeps its closing punctuation.
        ahead = self._units[repeats_start : repeats_start + repeats_start - span_start]
        shift = next((k for k, unit in enumerate(ahead) if unit[0].isalnum()), 0)
        span_start, repeats_start = span_start + shift, repeats_start + shift
        cut = self._starts[repeats_start]
        span = self.text[self._starts[span_start] : cut]
        line_end = self.text.find("\n", cut, self._read)  # only what was read: however split
        if "\n" in span.strip() and line_end != -1:
            cut = line_end  # a span of lines: keep the line the repeats begin in whole
        return Loop(keep=self.text[:cut].rstrip(), span=span.strip())
