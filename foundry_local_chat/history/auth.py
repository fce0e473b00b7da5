"""Who may sign in: password users from a file of Argon2 hashes, or a header a trusted proxy sets.

The users file holds one `name:hash` line per user (comments start with #); passwords are never
stored, only their Argon2id hashes. `python -m foundry_local_chat users add NAME` writes it.
The file is read at each sign-in, so users added or removed take effect at once; whether
password sign-in is on at all is decided when the app starts.

Chainlit signs its session cookie with CHAINLIT_AUTH_SECRET; when it is not given, a secret is
generated once into the app's data dir (mode 0600) and reused on every start.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from foundry_local_chat.config import USERS_FILE_NAME, Settings
from foundry_local_chat.errors import FoundryLocalChatError

SECRET_VARIABLE = "CHAINLIT_AUTH_SECRET"
SECRET_FILE = "auth-secret"
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
HEADER = """\
# Foundry Local Chat users: one "name:argon2-hash" line each. Never put a password here;
# add users with `python -m foundry_local_chat users add NAME`.
"""

_hasher = PasswordHasher()
# Checked when the name is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


ADD_A_USER = "python -m foundry_local_chat users add NAME"
"""The command that adds a user (and so turns sign-in and history on)."""


class AuthError(FoundryLocalChatError, ValueError):
    """A user name, password or users file the app cannot use; the message says which."""


def check_name(name: str) -> str:
    if not USER_NAME.fullmatch(name):
        raise AuthError(
            f"{name!r} is not a valid user name: 1–64 letters, digits or . _ @ + -, "
            "starting with a letter or digit."
        )
    return name


def read_users(path: Path) -> dict[str, str]:
    """name → Argon2 hash; an absent file has no users."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        if not sep or not USER_NAME.fullmatch(name) or not hashed.startswith("$argon2"):
            raise AuthError(f"{path}, line {number}: expected `name:$argon2…` (a hashed password).")
        users[name] = hashed
    return users


def write_users(path: Path, users: Mapping[str, str]) -> None:
    """Replace the file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = HEADER + "".join(f"{name}:{hashed}\n" for name, hashed in sorted(users.items()))
    descriptor, staging = tempfile.mkstemp(prefix=".users-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(body)
        os.chmod(staging, 0o600)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def set_password(path: Path, name: str, password: str) -> bool:
    """Add the user, or change their password; returns True when the user is new."""
    check_name(name)
    if len(password) < 8:
        raise AuthError("the password must have at least 8 characters.")
    users = read_users(path)
    is_new = name not in users
    users[name] = _hasher.hash(password)
    write_users(path, users)
    return is_new


def remove_user(path: Path, name: str) -> bool:
    users = read_users(path)
    if users.pop(name, None) is None:
        return False
    write_users(path, users)
    return True


def verify_password(path: Path, name: str, password: str) -> bool:
    """True when `name` is a user whose password this is. Slow on purpose (Argon2): run it in a
    worker thread."""
    hashed = read_users(path).get(name)
    try:
        return _hasher.verify(hashed or _DUMMY_HASH, password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def ensure_auth_secret(data_dir: Path, environ: MutableMapping[str, str]) -> str:
    """CHAINLIT_AUTH_SECRET from the environment, else from (or first into) the data dir."""
    if given := environ.get(SECRET_VARIABLE, "").strip():
        return given
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made by an earlier start (or by another instance a moment ago)
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    secret = path.read_text().strip()
    if not secret:
        raise AuthError(f"{path} is empty: delete it to generate a new secret, then restart.")
    environ[SECRET_VARIABLE] = secret
    return secret


@dataclass(frozen=True)
class Access:
    """How people sign in, decided at start. Without any way in, the app runs for one person
    with history off (Chainlit keeps history only for signed-in users)."""

    users_file: Path
    password_login: bool
    header: str  # lower-case header name, or "" when header sign-in is off

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        users_file = settings.users_file or settings.app_data_dir / USERS_FILE_NAME
        return cls(
            users_file=users_file,
            password_login=bool(read_users(users_file)),
            header=settings.auth_header,
        )

    @property
    def enabled(self) -> bool:
        return self.password_login or bool(self.header)

    def check_password(self, name: str, password: str) -> str | None:
        """The signed-in user's name, or None."""
        return name if verify_password(self.users_file, name, password) else None

    def user_from_headers(self, headers: Mapping[str, str]) -> str | None:
        name = (headers.get(self.header) or "").strip() if self.header else ""
        return name if name and USER_NAME.fullmatch(name) else None
