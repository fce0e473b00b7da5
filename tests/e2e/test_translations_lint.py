"""Chainlit's own translation check (`chainlit lint-translations`) finds no problem."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.support.processes import REPO, VENV_BIN


@pytest.mark.e2e  # runs `chainlit lint-translations`
def test_chainlit_lint_translations_finds_no_problem() -> None:
    """Every translation file has exactly the keys of the installed Chainlit's en-US.json."""
    result = subprocess.run(
        [str(VENV_BIN / "chainlit"), "lint-translations"],
        cwd=REPO,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    linted = re.findall(r"^Linting (\S+)\.\.\.$", result.stdout, re.MULTILINE)
    assert {"en-US.json", "ko-KR.json", "ko.json"} <= set(linted)
    problems = [line for line in result.stdout.splitlines() if line.startswith(("❌", "⚠️"))]
    assert problems == []
    assert result.stdout.count("✅ No errors found in") == len(linted)
