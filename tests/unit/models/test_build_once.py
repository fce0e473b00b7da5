"""The builds' install sequence, written once (models/bundled.py build_once): a lock, a partial
folder beside the target, a rename into place only when the work finished."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundry_local_chat.models.bundled import build_once


def make_into(partial: Path) -> Path:
    finished = partial / "out"
    finished.mkdir()
    (finished / "model.onnx").write_text("weights")
    return finished


def test_the_first_call_builds_and_the_next_finds_it_built(tmp_path: Path) -> None:
    target = tmp_path / "models" / "m"
    built = lambda: (target / "model.onnx").exists()  # noqa: E731
    assert build_once(target, ".lock", ".partial-m-", built, make_into) is True
    assert (target / "model.onnx").read_text() == "weights"
    assert build_once(target, ".lock", ".partial-m-", built, make_into) is False
    assert sorted(p.name for p in target.parent.iterdir()) == [".lock", "m"]


def test_a_failing_build_installs_nothing_and_leaves_no_partial_folder(tmp_path: Path) -> None:
    target = tmp_path / "m"

    def fail(partial: Path) -> Path:
        make_into(partial)
        raise RuntimeError("step failed")

    with pytest.raises(RuntimeError, match="step failed"):
        build_once(target, ".lock", ".partial-m-", lambda: target.exists(), fail)
    assert [p.name for p in tmp_path.iterdir()] == [".lock"]


def test_an_interrupted_builds_leftovers_go_and_another_builds_are_left_alone(
    tmp_path: Path,
) -> None:
    (tmp_path / ".partial-m-killed").mkdir()  # kill -9 during an earlier build of m
    (tmp_path / ".partial-other-running").mkdir()  # another model's build, going on
    (tmp_path / "m").mkdir()  # a folder without the built files: not taken for built
    target = tmp_path / "m"
    assert build_once(target, ".lock", ".partial-m-", lambda: False, make_into) is True
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".lock", ".partial-other-running", "m"]
    assert (target / "model.onnx").exists()
