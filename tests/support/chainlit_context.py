"""Chainlit's request context outside a chat, for tests that call the data layer directly."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from chainlit.context import ChainlitContext, context_var
from chainlit.session import HTTPSession


@contextlib.contextmanager
def outside_a_chat() -> Iterator[None]:
    """Chainlit context of an HTTP request (as its REST API and tests use)."""
    session = HTTPSession(id=str(uuid.uuid4()), client_type="webapp")
    token = context_var.set(ChainlitContext(session))
    try:
        yield
    finally:
        context_var.reset(token)
