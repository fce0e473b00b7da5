"""The `users` command, run as a person runs it: add, list and remove password users."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from foundry_local_chat.history import auth
from tests.support.apps import PASSWORD
from tests.support.processes import REPO, clean_env


def run_users(users: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "foundry_local_chat", "users", *args],
        input=stdin,
        env=clean_env({"USERS_FILE": str(users)}),
        cwd=REPO,
        capture_output=True,
        text=True,
    )


@pytest.mark.e2e  # runs the command in a subprocess
def test_users_command_adds_lists_and_removes(tmp_path: Path) -> None:
    users = tmp_path / "users"
    added = run_users(users, "add", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0 and "added alice" in added.stdout
    assert "restart the app" in added.stdout  # the first user turns sign-in on
    assert auth.verify_password(users, "alice", PASSWORD)
    run_users(users, "add", "bob", "--password-stdin", stdin=PASSWORD + "\n")
    assert run_users(users, "list").stdout.split() == ["alice", "bob"]
    assert run_users(users, "remove", "bob").returncode == 0
    missing = run_users(users, "remove", "bob")
    assert missing.returncode == 1 and "bob is not a user" in missing.stderr
    bad = run_users(users, "add", "x:y", "--password-stdin", stdin=PASSWORD + "\n")
    assert bad.returncode == 2 and "is not a valid user name" in bad.stderr
    assert run_users(users, "list").stdout.split() == ["alice"]
