"""How repetitive an answer is, measured independently of the loop guard (which reads the stream
and cannot see the future): the benchmark's figures and the slow tier's check of the starters.

- Distinct word 3-grams: the share of an answer's word triples that are different. Of the
  bundled model's 125 benchmark answers (bench/bench_loop_guard.py, seeds 1-5), those it
  finished itself scored 0.90 or more; those that looped 0.07 to 0.76, except loops whose
  copies carry a counter ("7. Uranus, 8. Uranus") or no words at all (bullets), which this
  measure cannot see (1.0). Below NON_DEGENERATE, an answer is degenerate.
- Where a loop began: for an answer that ran to the token limit, the shortest span its last
  units keep repeating (at least 4 in 5 of them equal the unit one span earlier, a number
  counting up counts as equal; numbers without words are counting, no loop), followed back to
  where that stops holding (4 in 5); the loop begins where the span comes back the first time.
"""

from __future__ import annotations

import re

from foundry_local_chat.chat.loop_guard import units_at

NON_DEGENERATE = 0.8  # between the loops (at most 0.76) and the finished answers (0.90 or more)
BACK_TO = 0.8  # a loop goes back as far as 4 in 5 of its units still repeat


_WORD = re.compile(r"\w+")
_LETTER = re.compile(r"[^\W\d_]")


def word_trigrams(text: str) -> tuple[int, int]:
    """(distinct, all) word 3-grams of the text."""
    words = [word.lower() for word in _WORD.findall(text)]
    trigrams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return len(set(trigrams)), len(trigrams)


def distinct_trigram_share(text: str) -> float:
    distinct, count = word_trigrams(text)
    return distinct / count if count else 1.0


def degenerate(text: str) -> bool:
    return distinct_trigram_share(text) < NON_DEGENERATE


def loop_start(text: str, ran_to_the_limit: bool) -> int | None:
    """Where the text's loop begins (its second copy), as a character offset; None: no loop."""
    if not ran_to_the_limit:
        return None
    positions = units_at(text)
    units = [unit for _, unit in positions]

    def same(a: str, b: str) -> bool:  # a counter counts up: "7. Uranus, 8. Uranus"
        return a == b or (a.isdigit() and b.isdigit())

    sample = units[-160:]
    span = next(
        (
            p
            for p in range(1, len(sample) // 3 + 1)
            if sum(same(sample[i], sample[i + p]) for i in range(len(sample) - p))
            >= 0.8 * (len(sample) - p)
        ),
        None,
    )
    if span is None:
        return None
    last = sample[-span:]
    if any(unit.isdigit() for unit in last) and not any(_LETTER.search(unit) for unit in last):
        return None  # numbers without words: counting is no loop

    def agreement(start: int) -> float:
        pairs = range(start, start + 2 * span)
        return sum(same(units[k], units[k + span]) for k in pairs) / (2 * span)

    first = max(0, len(units) - 3 * span)
    while first > 0 and agreement(first - 1) >= BACK_TO:
        first -= 1
    second = first + span
    return positions[second][0] if second < len(positions) else None
