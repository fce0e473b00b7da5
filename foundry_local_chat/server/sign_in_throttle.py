"""Password sign-in slows down after failures, per user name and per client address.

Chainlit's POST /login answers every wrong password with a plain 401, as fast as Argon2 allows,
forever. Here, after `FREE_FAILURES` failed sign-ins within `WINDOW_SECONDS` for a user name
(`FREE_FAILURES_PER_ADDRESS` for a client address, whatever names it tries), each further
attempt for it must wait twice as long as the one before
(1 s, 2 s, 4 s … at most `MAX_DELAY_SECONDS`) after the last failure; one sent earlier gets 429
with Retry-After and never reaches the password check (so it costs no Argon2 work either). The
real user is never locked out for long: at most `MAX_DELAY_SECONDS` after the last failure, and
once a window passes without failures, the count starts again; a successful sign-in clears the
user name's count.

The counts live in each app instance's memory (several instances each count their own), by the
address the connection comes from: behind a proxy, that is the proxy's, so the per-name limit is
what holds there.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foundry_local_chat.server.asgi_bodies import answer, read_body, replaying

FREE_FAILURES = 5
FREE_FAILURES_PER_ADDRESS = 20  # one address may be several people (a NAT, a proxy)
WINDOW_SECONDS = 15 * 60
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0
MAX_KEYS = 10_000  # names and addresses counted at once; the oldest are forgotten first
MAX_FORM_BYTES = 64 * 1024
TOO_MANY = "Too many failed sign-ins: try again in {seconds} s."


@dataclass
class Throttle:
    free_failures: int = FREE_FAILURES
    window: float = WINDOW_SECONDS
    first_delay: float = FIRST_DELAY_SECONDS
    max_delay: float = MAX_DELAY_SECONDS
    clock: Callable[[], float] = time.monotonic
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
        return failures

    def delay_after(self, failures: int) -> float:
        """How long after the last of `failures` failures the next attempt must wait."""
        over = failures - self.free_failures
        if over < 0:
            return 0.0
        return min(self.first_delay * 2.0 ** min(over, 64), self.max_delay)

    def wait(self, key: str) -> float:
        """Seconds until an attempt for this name or address may be made (0: now)."""
        now = self.clock()
        failures = self._recent(key, now)
        if not failures:
            return 0.0
        return max(0.0, failures[-1] + self.delay_after(len(failures)) - now)

    def failed(self, key: str) -> None:
        now = self.clock()
        failures = self._recent(key, now)
        failures.append(now)
        # Beyond the longest delay, more failures change nothing: keep the count bounded.
        while len(failures) > self.free_failures + 64:
            failures.popleft()
        self._failures[key] = failures
        self._failures.move_to_end(key)
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


def user_key(name: str) -> str:
    return name.strip().lower()


def address_key(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


class SignInThrottle:
    """An ASGI middleware in front of Chainlit's POST /login."""

    def __init__(self, app: ASGIApp, users: Throttle, addresses: Throttle) -> None:
        self.app = app
        self.users = users
        self.addresses = addresses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "")).removeprefix(str(scope.get("root_path", "")))
        if scope["type"] != "http" or scope.get("method") != "POST" or path != "/login":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive, MAX_FORM_BYTES)
        if body is None:
            await answer(send, 413, "The sign-in form is too large.")
            return
        replay = replaying(body, receive)
        form = await Request(scope, replay()).form()
        name = form.get("username")
        user = user_key(name) if isinstance(name, str) else None
        address = address_key(scope)
        wait = max(self.addresses.wait(address), self.users.wait(user) if user else 0.0)
        if wait > 0:
            seconds = math.ceil(wait)
            await answer(send, 429, TOO_MANY.format(seconds=seconds), retry_after=seconds)
            return

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] == 401:
                    self.addresses.failed(address)
                    if user:
                        self.users.failed(user)
                elif message["status"] < 300 and user:
                    self.users.succeeded(user)
            await send(message)

        await self.app(scope, replay(), observed)


def install_sign_in_throttle(app: FastAPI) -> None:
    """In front of Chainlit's app, before it starts."""
    if app.middleware_stack is not None:  # `chainlit run -w` re-import: installed at start
        return
    app.add_middleware(
        SignInThrottle, users=Throttle(), addresses=Throttle(FREE_FAILURES_PER_ADDRESS)
    )
