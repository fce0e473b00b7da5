"""Notices when a streamed answer has fallen into a loop, as a small model does when a question is
beyond it: the same span of words, or the same line, coming back again and again until the token
limit.

Pure: fed the answer's text as it streams, it says whether the answer loops and which part of
it is worth keeping; chat/answer_stream.py stops the request when it does (closing the token
generator).

The text is read as units: a word (lower-cased), one Hangul, kana or CJK character (those scripts
do not separate words the way English does), or one punctuation mark. Three rules, any of which
finds a loop:

- **A span comes back word for word**: for some span of p ≤ 64 units, the last max(14, 2·p)
  units (so at least two more copies of the span) each equal the unit p earlier, allowing 15% of
  them to differ, so long as the last copy brings no word the answer had not used before (the
  records of a listing each bring a new name, the cases of a `switch` a new day). A counter may
  count up: one number in a span with a word ("7. Uranus, 8. Uranus"), several in a span with
  three different words for each ("8. What makes us feel uneasy about things happening outside
  our own homes (10)"). Numbers alone (counting), a times table, `a[1] = 2; a[2] = 4;` or
  "Week 1: run 10 minutes, Week 2: run 15 minutes" pass. A line drawn with one mark (a table's
  separator row `|---|---|`, a rule, a heading's `=====`) is no span that repeats, up to 80 units.
- **A few words churn**: among the last 40 units, at most 55% of the word pairs (2-grams) are
  distinct and no word is one the answer had not used before: the loops whose copies each
  differ a little ("In twilight's darkest air, … darkest night, … darkest hour"), not a table
  whose rows repeat their cells nor a listing, whose rows bring new words.
- **A line comes back**: the same line (its units) for the third time among the last five lines,
  with at most one line between the copies that the answer had not had before ("balances untold
  balances," three times; "A, B, A, B, A"). Only lines of two different words or more count
  (not `}`, `end` nor "knock, knock,"), and none in a ``` code block: code repeats lines on
  purpose (`turn_left()` three times to turn right), and the span rule still reads it.

Legitimate repetition keeps bringing something new: a numbered list has new items, code with
repeated lines has lines between them, a poem's refrain comes back after a new verse, a listing's
records new names. The numbers were measured, not guessed: bench/bench_loop_guard.py --sweep
replays the bundled model's unguarded answers (seeds 1-3 of its 27 prompts) and the legitimate
repetitive answers of tests/support/repetitive_answers.py through candidate rules; these are the
ones that stream the fewest tokens while cutting no legitimate answer and none the model
finished itself. README's "The loop guard" has the figures, and those of seeds 4-5, on which
nothing was tuned.
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
# What a Markdown table's separator row, a rule or a heading's underline is drawn with, and the
# longest such line (a terminal's width): a line of marks that goes on is read as any other.
_RULE_MARKS = frozenset("-=_*~+|:.#")
_LONGEST_RULE = 80


@dataclass(frozen=True)
class LoopRules:
    """The three rules' thresholds (see the module's docstring)."""

    # A span that comes back word for word.
    min_repeat_units: int = 14  # the repeats cover at least this many units...
    min_repeats: int = 2  # ...and at least this many copies after the first
    max_span_units: int = 64  # the longest span looked for
    repeat_share: float = 0.85  # share of units equal to the unit a span earlier
    words_for_one_counter: int = 1  # a span with this many different words may count up one
    words_per_counter: int = 3  # number; several, with this many different words for each
    # A few words churning.
    window: int = 40  # units looked at together
    n: int = 2  # units per n-gram
    max_distinct_share: float = 0.55  # at most this share of the window's n-grams are distinct
    churn_new_words: int = 0  # and at most this many of its units are words not used before
    # A line that comes back.
    line_copies: int = 3  # the same line this many times...
    line_window: int = 5  # ...among the last this many lines (blank ones and code not counted)
    max_new_lines: int = 1  # with at most this many lines never seen before between the copies
    line_words: int = 2  # a line counts with at least this many different words

    def __post_init__(self) -> None:
        if not 1 <= self.n < self.window:
            raise ValueError(f"n={self.n} must be at least 1 and less than window={self.window}")
        for name in ("repeat_share", "max_distinct_share"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name}={getattr(self, name)} must lie in (0, 1]")
        if self.min_repeat_units < 2 or self.min_repeats < 1 or self.max_span_units < 1:
            raise ValueError("min_repeat_units ≥ 2, min_repeats ≥ 1 and max_span_units ≥ 1")
        if not 2 <= self.line_copies <= self.line_window or self.max_new_lines < 0:
            raise ValueError("2 ≤ line_copies ≤ line_window and max_new_lines ≥ 0")

    def repeat_units(self, span: int) -> int:
        return max(self.min_repeat_units, self.min_repeats * span)


@dataclass(frozen=True)
class _Line:
    units: tuple[str, ...]
    first: int  # the index of its first unit
    new: bool  # no line before it was the same


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
        self._seen_units: set[str] = set()
        self._new: list[bool] = []  # whether each unit is the first of its kind
        self._line_of: list[int] = []  # the line each unit is in
        self._ruled: list[bool] = []  # whether the line is drawn with rule marks up to each unit
        self._read = 0  # the text before this offset is cut into units
        spans = range(1, self.rules.max_span_units + 1)
        self._agree: dict[int, deque[bool]] = {span: deque() for span in spans}
        self._agreeing: dict[int, int] = dict.fromkeys(spans, 0)
        self._novel_at: dict[int, int] = dict.fromkeys(spans, -1)  # a new unit differed here
        self._grams: deque[tuple[str, ...]] = deque()
        self._gram_counts: Counter[tuple[str, ...]] = Counter()
        self._churn_read: deque[int] = deque()  # the units it reads (not those of a rule line)
        self._churn_novel = 0  # how many of them are new words
        self._line_first = 0  # the unit the line being read begins with
        self._line_no = 0
        self._in_code = False  # inside a ``` fence
        self._lines: deque[_Line] = deque(maxlen=self.rules.line_window)
        self._seen_lines: set[tuple[str, ...]] = set()

    def feed(self, delta: str) -> Loop | None:
        if self.loop is not None:
            return self.loop
        self.text += delta
        gap_end = len(self.text)
        for match in _UNIT.finditer(self.text, self._read):
            if match.end() == len(self.text) and match.lastgroup == "word":
                gap_end = match.start()
                break  # the word may go on in the next delta
            self.loop = self._line_ended(match.start())
            if self.loop is not None:
                return self.loop
            unit = match.group().lower()
            self._units.append(unit)
            self._starts.append(match.start())
            self._numeric.append(bool(_NUMBER.fullmatch(unit)))
            self._lettered.append(self._lettered[-1] + bool(_LETTER.search(unit)))
            self._new.append(unit not in self._seen_units)
            self._seen_units.add(unit)
            in_line = len(self._units) - 1 - self._line_first
            ruled = in_line == 0 or (self._ruled[-1] and in_line < _LONGEST_RULE)
            self._ruled.append(unit in _RULE_MARKS and ruled)
            self._line_of.append(self._line_no)
            self._read = match.end()
            self.loop = self._repeated_span() or self._churn()
            if self.loop is not None:
                return self.loop
        self.loop = self._line_ended(gap_end)
        return self.loop

    # -- a span that comes back word for word ---------------------------------------------------

    def _same(self, at: int, span: int) -> bool:
        """Whether the unit at `at` repeats the one a span earlier. Counters may count up in a
        span of words: one in a span with a word ("7. Uranus, 8. Uranus"), several in a span of
        three different words for each ("8. What makes us feel uneasy about … homes (10)");
        not in numbers alone (counting) nor with fewer words (a times table, `a[1] = 2;`,
        "Week 1: run 10 minutes"). A mark in a line drawn with it repeats nothing."""
        unit, earlier = self._units[at], self._units[at - span]
        if self._ruled[at] and self._line_of[at - span] == self._line_of[at]:
            return False  # a line drawn with one mark: a table's separator row, a rule
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
            if not same and self._novel(last):
                self._novel_at[span] = last  # something new: no copy
            needed = self.rules.repeat_units(span)
            if len(agree) > needed:
                self._agreeing[span] -= agree.popleft()
            if (
                len(agree) == needed
                and self._agreeing[span] >= self.rules.repeat_share * needed
                and self._novel_at[span] <= last - span
            ):
                first_repeat = last - needed + 1
                while first_repeat - span > 0 and self._same(first_repeat - 1, span):
                    first_repeat -= 1
                first_repeat = self._repeats_start(first_repeat, last, span)
                return self._loop(first_repeat - span, first_repeat)
        return None

    def _repeats_start(self, first: int, last: int, span: int) -> int:
        """Where the repeats found from `first` to `last` begin: with a whole span of units that
        repeat (before it, a unit may equal the one a span earlier by chance), or else with the
        first unit that repeats (when each copy differs a little)."""
        whole = (
            at
            for at in range(first, last - span + 2)
            if all(self._same(i, span) for i in range(at, at + span))
        )
        start = next(whole, None)
        if start is None:
            start = first
            while not self._same(start, span):  # a differing unit may lead the run
                start += 1
        return start

    # -- a few words churning -------------------------------------------------------------------

    def _churn(self) -> Loop | None:
        n, window = self.rules.n, self.rules.window
        last = len(self._units) - 1
        if self._ruled[last]:
            return None  # a separator row or a rule says nothing
        read = self._churn_read
        read.append(last)
        self._churn_novel += self._novel(last)
        if len(read) > window:
            self._churn_novel -= self._novel(read.popleft())
        if len(read) < n:
            return None
        gram = tuple(self._units[read[k]] for k in range(len(read) - n, len(read)))
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
        if self._churn_novel > self.rules.churn_new_words:
            return None  # a listing: new words keep coming
        # The churn began at the window's first n-gram that comes back in it; keep up to where
        # it first came back.
        at = list(read)
        grams = [tuple(self._units[i] for i in at[k : k + n]) for k in range(len(at) - n + 1)]
        for offset, first in enumerate(grams):
            if self._gram_counts[first] > 1:
                again = grams.index(first, offset + 1)
                return self._loop(at[offset], at[again])
        return None  # unreachable: a window with fewer distinct n-grams than n-grams repeats one

    def _novel(self, at: int) -> bool:
        """Whether the unit is a word (or syllable) the answer had not used before."""
        return self._new[at] and self._lettered[at + 1] > self._lettered[at]

    # -- a line that comes back ----------------------------------------------------------------

    def _line_ended(self, before: int) -> Loop | None:
        """Reads the line that ends when a newline comes between the last unit read and `before`
        (only whitespace lies between them)."""
        first, end = self._line_first, len(self._units)
        if first == end or "\n" not in self.text[self._read : before]:
            return None
        self._line_first = end
        self._line_no += 1
        units = tuple(self._units[first:end])
        if units[:3] == ("`", "`", "`") or units[:3] == ("~", "~", "~"):
            self._in_code = not self._in_code
            return None
        if self._in_code:
            return None  # code repeats lines on purpose; the span rule still reads it
        words = {unit for unit in units if _LETTER.search(unit)}
        line = _Line(units, first, new=units not in self._seen_lines)
        self._seen_lines.add(units)
        self._lines.append(line)
        if len(words) < self.rules.line_words:
            return None
        copies = [i for i, earlier in enumerate(self._lines) if earlier.units == units]
        if len(copies) < self.rules.line_copies:
            return None
        since = copies[-self.rules.line_copies]
        between = [
            earlier for earlier in list(self._lines)[since + 1 : -1] if earlier.units != units
        ]
        if sum(earlier.new for earlier in between) > self.rules.max_new_lines:
            return None
        again = list(self._lines)[since + 1 :]
        second = next(earlier for earlier in again if earlier.units == units)
        cut = self._starts[second.first]  # keep the lines up to the line's second copy
        span = self.text[self._starts[self._lines[since].first] : cut]
        return Loop(keep=self.text[:cut].rstrip(), span=span.strip())

    def _loop(self, span_start: int, repeats_start: int) -> Loop:
        # Let the repeats begin with a word or number: a copy keeps its closing punctuation.
        ahead = self._units[repeats_start : repeats_start + repeats_start - span_start]
        shift = next((k for k, unit in enumerate(ahead) if unit[0].isalnum()), 0)
        span_start, repeats_start = span_start + shift, repeats_start + shift
        cut = self._starts[repeats_start]
        span = self.text[self._starts[span_start] : cut]
        line_end = self.text.find("\n", cut, self._read)  # only what was read: however split
        in_line = not self.text[:cut].rstrip(" \t").endswith("\n")
        if "\n" in span.strip() and in_line and line_end != -1:
            cut = line_end  # a span of lines: keep the line the repeats begin in whole
        return Loop(keep=self.text[:cut].rstrip(), span=span.strip())
