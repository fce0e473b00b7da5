"""The engine bench's verdicts and the part of its report that the README copies (`make docs`)."""

from __future__ import annotations

import pytest

from bench.bench_engine import TARGETS, meets, parse_variant
from bench.report import marked_part


def test_the_targets_are_met_at_their_bounds_and_missed_past_them() -> None:
    at_bounds = dict(TARGETS)
    assert meets(at_bounds) == {"short_ttft": True, "long_ttft": True, "decode": True}
    past = {"short_ttft": 1.01, "long_ttft": 0.76, "decode": 0.99}
    assert meets(past) == {"short_ttft": False, "long_ttft": False, "decode": False}


def test_a_variant_is_a_label_and_a_cache_folder() -> None:
    label, folder = parse_variant("prune=/tmp/cache")
    assert (label, str(folder)) == ("prune", "/tmp/cache")
    with pytest.raises(Exception, match="LABEL=MODEL_CACHE_DIR"):
        parse_variant("no-folder")


def test_the_lever_report_has_the_table_the_readme_copies() -> None:
    levers = marked_part("engine", "levers")
    assert levers.startswith("| build |")
    assert "`today`" in levers  # the build before the levers, the baseline of the others


def test_a_report_without_the_marked_part_is_an_error() -> None:
    with pytest.raises(ValueError, match="no <!-- nowhere -->"):
        marked_part("engine", "nowhere")
