"""Users file, password hashing, the session secret, and the `users` command."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundry_local_chat.config import Settings
from foundry_local_chat.history import auth
from tests.support.apps import PASSWORD


def test_passwords_are_stored_as_argon2_hashes_only(tmp_path: Path) -> None:
    users = tmp_path / "data" / "users"
    assert auth.set_password(users, "alice", PASSWORD) is True
    text = users.read_text()
    assert PASSWORD not in text
    assert auth.read_users(users)["alice"].startswith("$argon2id$")
    assert users.stat().st_mode & 0o777 == 0o600

    assert auth.verify_password(users, "alice", PASSWORD)
    assert not auth.verify_password(users, "alice", PASSWORD + "!")
    assert not auth.verify_password(users, "bob", PASSWORD)

    assert auth.set_password(users, "alice", "a new password") is False  # changed, not added
    assert not auth.verify_password(users, "alice", PASSWORD)
    assert auth.remove_user(users, "alice") and not auth.remove_user(users, "alice")
    assert auth.read_users(users) == {}


def test_a_plain_password_in_the_users_file_is_refused(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("# users\nalice:hunter22\n")
    with pytest.raises(auth.AuthError, match=r"users, line 2: expected `name:\$argon2"):
        auth.read_users(users)


@pytest.mark.parametrize("name", ["", "has space", "colon:name", "-dash-first", "x" * 65])
def test_user_names_that_would_break_the_file_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(auth.AuthError, match="is not a valid user name"):
        auth.set_password(tmp_path / "users", name, PASSWORD)


def test_short_passwords_are_refused(tmp_path: Path) -> None:
    with pytest.raises(auth.AuthError, match="at least 8 characters"):
        auth.set_password(tmp_path / "users", "alice", "short")


def test_the_session_secret_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    secret = auth.ensure_auth_secret(tmp_path, environ)
    assert len(secret) >= 48 and environ[auth.SECRET_VARIABLE] == secret
    assert (tmp_path / "auth-secret").stat().st_mode & 0o777 == 0o600
    assert auth.ensure_auth_secret(tmp_path, {}) == secret  # the next start reuses it
    given = {auth.SECRET_VARIABLE: "from-the-environment"}
    assert auth.ensure_auth_secret(tmp_path / "other", given) == "from-the-environment"
    assert not (tmp_path / "other").exists()


def test_sign_in_is_on_with_users_or_a_proxy_header(tmp_path: Path) -> None:
    settings = Settings.from_env({"APP_DATA_DIR": str(tmp_path)})
    assert not auth.Access.from_settings(settings).enabled
    auth.set_password(tmp_path / "users", "alice", PASSWORD)
    access = auth.Access.from_settings(settings)
    assert access.enabled and access.password_login and not access.header
    assert access.check_password("alice", PASSWORD) == "alice"
    assert access.check_password("alice", "nope") is None

    proxied = auth.Access.from_settings(
        Settings.from_env({"APP_DATA_DIR": str(tmp_path / "x"), "AUTH_HEADER": "X-Remote-User"})
    )
    assert proxied.enabled and not proxied.password_login
    assert proxied.user_from_headers({"x-remote-user": "carol"}) == "carol"
    assert proxied.user_from_headers({"x-remote-user": "  "}) is None
    assert proxied.user_from_headers({"x-remote-user": "bad name"}) is None
    assert proxied.user_from_headers({}) is None
