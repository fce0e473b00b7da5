"""Signing out ends the session on the server, and failed sign-ins slow down, through a real
`chainlit run` with sign-in on (signing out on SQLite and on PostgreSQL)."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import pytest
import socketio

from foundry_local_chat.server.sign_in_throttle import FREE_FAILURES, FREE_FAILURES_PER_ADDRESS
from tests.support.apps import PASSWORD, AppFactory, signed_in_app
from tests.support.chainlit_client import ChainlitApi, ChainlitSession, HttpError
from tests.support.postgres import PostgresServer
from tests.support.recording_proxy import RecordingProxy


async def status_of(api: ChainlitApi, method: str, path: str, **kwargs: object) -> int:
    try:
        await api.request(method, path, **kwargs)
    except HttpError as error:
        return error.status
    return 200


async def test_a_signed_out_token_is_refused_everywhere_from_then_on(
    chainlit_app: AppFactory,
    proxy: RecordingProxy,
    history_database: dict[str, str],
    tmp_path: Path,
) -> None:
    url = signed_in_app(chainlit_app, proxy, tmp_path, "alice", **history_database)
    laptop, phone = ChainlitApi(url), ChainlitApi(url)
    token = await laptop.sign_in("alice", PASSWORD)
    await phone.sign_in("alice", PASSWORD)
    async with ChainlitSession(url, token) as chat:
        await chat.ready()

    await laptop.request("POST", "/logout")

    stale = ChainlitApi(url, token)  # a copy of the token kept after signing out
    assert await status_of(stale, "GET", "/user") == 401
    assert await status_of(stale, "POST", "/project/threads",
                           json={"pagination": {"first": 5}, "filter": {}}) == 401  # fmt: skip
    bearer = {"headers": {"Authorization": f"Bearer {token}"}}
    assert await status_of(ChainlitApi(url), "GET", "/user", **bearer) == 401
    # Nor can it be exchanged for a new token.
    assert await status_of(ChainlitApi(url), "POST", "/auth/jwt", **bearer) == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with ChainlitSession(url, token):
            pass
    # Only that session ended: her other one goes on, and she can sign in again.
    assert (await phone.user())["identifier"] == "alice"
    again = ChainlitApi(url)
    await again.sign_in("alice", PASSWORD)
    assert (await again.user())["identifier"] == "alice"


async def test_failed_sign_ins_slow_down_per_user_and_per_address_but_not_for_long(
    chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path
) -> None:
    url = signed_in_app(chainlit_app, proxy, tmp_path, "alice", "bob")
    api = ChainlitApi(url)
    form = {"username": "alice", "password": "wrong password"}
    for _ in range(FREE_FAILURES):
        assert await status_of(api, "POST", "/login", data=form) == 401
    # Now every attempt for alice waits: the right password too, until Retry-After.
    assert await status_of(api, "POST", "/login", data=form) == 429
    right = {"username": "alice", "password": PASSWORD}
    assert await status_of(api, "POST", "/login", data=right) == 429
    retry_after = int(api.last_headers["Retry-After"])
    assert 1 <= retry_after <= 60
    # Another user from the same address is not held up by alice's count.
    assert await status_of(ChainlitApi(url), "POST", "/login",
                           data={"username": "bob", "password": PASSWORD}) == 200  # fmt: skip
    # The real alice is let in once the delay has passed (a deadline, not synchronisation).
    await asyncio.sleep(retry_after)
    assert await status_of(api, "POST", "/login", data=right) == 200

    # One address trying many names is slowed down too, whatever the name.
    started = time.monotonic()
    for number in range(FREE_FAILURES_PER_ADDRESS - FREE_FAILURES):
        spray = {"username": f"guess{number}", "password": "123456"}
        assert await status_of(api, "POST", "/login", data=spray) == 401
    assert await status_of(api, "POST", "/login",
                           data={"username": "bob", "password": PASSWORD}) == 429  # fmt: skip
    assert time.monotonic() - started < 60  # the refusals were quick: no Argon2 behind them


async def test_signing_out_on_one_instance_ends_the_session_on_another(
    chainlit_app: AppFactory, proxy: RecordingProxy, postgres: PostgresServer, tmp_path: Path
) -> None:
    shared = {"DATABASE_URL": await postgres.create_database(),
              "CHAINLIT_AUTH_SECRET": secrets.token_urlsafe(48)}  # fmt: skip
    first = signed_in_app(chainlit_app, proxy, tmp_path, "alice", **shared)
    second = signed_in_app(chainlit_app, proxy, tmp_path, "alice", **shared)
    token = await ChainlitApi(first).sign_in("alice", PASSWORD)
    another = await ChainlitApi(first).sign_in("alice", PASSWORD)
    assert (await ChainlitApi(second, another).user())["identifier"] == "alice"  # one secret
    await ChainlitApi(first, token).request("POST", "/logout")
    # The second instance never saw the token: it asks the database, which knows. (One it saw
    # valid a moment before is refused within LIVE_ANSWER_SECONDS:
    # tests/unit/history/test_sessions.py.)
    assert await status_of(ChainlitApi(second, token), "GET", "/user") == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with ChainlitSession(second, token):
            pass
    assert (await ChainlitApi(second, another).user())["identifier"] == "alice"
