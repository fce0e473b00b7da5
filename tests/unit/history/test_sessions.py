"""The sign-in throttle's arithmetic and the ended-sessions table, without a server."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import jwt
from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_local_chat.history.sessions import LIVE_ANSWER_SECONDS, RevokedSessions
from foundry_local_chat.server.sign_in_throttle import Throttle
from foundry_local_chat.storage import database

events = st.lists(
    st.tuples(st.sampled_from(["fail", "succeed"]), st.floats(0, 400, allow_nan=False)),
    max_size=40,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@given(events=events)
def test_the_wait_is_bounded_and_ends(events: list[tuple[str, float]]) -> None:
    clock = Clock()
    throttle = Throttle(clock=clock)
    recent: list[float] = []
    for kind, pause in events:
        clock.now += pause
        wait = throttle.wait("alice")
        assert 0 <= wait <= throttle.max_delay
        recent = [t for t in recent if t > clock.now - throttle.window]
        if len(recent) < throttle.free_failures:
            assert wait == 0  # the first failures cost nothing
        if kind == "fail":
            throttle.failed("alice")
            recent.append(clock.now)
        else:
            throttle.succeeded("alice")
            recent = []
            assert throttle.wait("alice") == 0
    clock.now += throttle.max_delay
    assert throttle.wait("alice") == 0  # never locked out for longer than the longest delay
    clock.now += throttle.window
    throttle.failed("alice")
    assert throttle.wait("alice") == 0  # a quiet window starts the count again


def test_each_failure_past_the_free_ones_doubles_the_wait() -> None:
    clock = Clock()
    throttle = Throttle(clock=clock)
    waits = []
    for _ in range(throttle.free_failures + 8):
        throttle.failed("alice")
        waits.append(throttle.wait("alice"))
    free = throttle.free_failures
    assert waits[: free - 1] == [0.0] * (free - 1)
    assert waits[free - 1 :] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert throttle.wait("bob") == 0


def token(claims: dict[str, object]) -> str:
    """A session token as the app signs them: its own jti, so none is another's."""
    claims = {"exp": int(time.time()) + 3600, **claims, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, "a secret of at least thirty-two bytes", algorithm="HS256")


tokens = st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=10), max_size=3).map(
    token
)


def test_ended_sessions_are_refused_and_only_they(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    asyncio.run(database.upgrade(url))

    async def check(ended: list[str], kept: list[str]) -> None:
        engine = database.create_engine(url)
        try:
            for ending in ended:
                await RevokedSessions(engine).revoke(ending)
            fresh = RevokedSessions(engine)  # another instance: only the database knows
            for ending in ended:
                assert await fresh.is_revoked(ending)
            for keeping in kept:
                assert not await fresh.is_revoked(keeping)
        finally:
            await engine.dispose()

    @settings(max_examples=30, deadline=None, database=None)
    @given(ended=st.lists(tokens, max_size=4), kept=st.lists(tokens, max_size=4))
    def one(ended: list[str], kept: list[str]) -> None:
        asyncio.run(check(ended, [token for token in kept if token not in ended]))

    one()


def test_another_instances_sign_out_is_seen_within_the_live_answers_time(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    asyncio.run(database.upgrade(url))
    clock = Clock()

    async def check() -> None:
        engine = database.create_engine(url)
        try:
            here, there = RevokedSessions(engine, clock), RevokedSessions(engine, clock)
            session = token({"identifier": "alice"})
            assert not await here.is_revoked(session)
            await there.revoke(session)
            assert await there.is_revoked(session)  # at once where it was ended
            assert not await here.is_revoked(session)  # the live answer, reused for a while
            clock.now += LIVE_ANSWER_SECONDS
            assert await here.is_revoked(session)
        finally:
            await engine.dispose()

    asyncio.run(check())
