"""What the Python loop guard's tests and its JavaScript port's tests share: the guard's verdict
on a stream of deltas, a text cut into deltas anywhere, and the rules that cannot work."""

from __future__ import annotations

from hypothesis import strategies as st

from foundry_local_chat.chat.loop_guard import Loop, LoopGuard


def guarded(deltas: list[str]) -> tuple[Loop | None, int]:
    """The guard's verdict, and how many deltas it read before it."""
    guard = LoopGuard()
    for read, delta in enumerate(deltas, start=1):
        if guard.feed(delta) is not None:
            return guard.loop, read
    return None, len(deltas)


def splits(text: str) -> st.SearchStrategy[list[str]]:
    """The text cut into deltas at arbitrary places (as a server may send it)."""
    cuts = st.lists(st.integers(0, len(text)), max_size=60).map(sorted)
    return cuts.map(lambda at: [text[i:j] for i, j in zip([0, *at], [*at, len(text)], strict=True)])


IMPOSSIBLE_RULES: list[dict[str, float]] = [
    {"n": 0},
    {"n": 48, "window": 48},
    {"repeat_share": 0},
    {"max_distinct_share": 1.5},
    {"min_repeat_units": 1},
    {"min_repeats": 0},
    {"line_copies": 1},
    {"line_copies": 6, "line_window": 5},
    {"max_new_lines": -1},
]
