"""Who may use the chat server: the origin decision (pure), the ASGI guard around it, and how it is
installed on an app. The real server and a real browser: e2e/test_origin_guard_server.py and
browser/test_origins.py."""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware

from foundry_local_chat.origins import (
    Origin,
    OriginPolicy,
    addressed_origin,
    cors_allowed,
    names_an_address,
    parse_origin,
)
from foundry_local_chat.server.origin_guard import OriginGuard, install_origin_guard

NOBODY_ELSE = OriginPolicy()
OPEN_WEBUI = Origin("http", "localhost", 3000)
WITH_OPEN_WEBUI = OriginPolicy(frozenset({OPEN_WEBUI}))


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8000", "localhost:8000", "192.0.2.10:8443", "[::1]:8000"]
)
def test_a_page_is_allowed_on_the_address_it_was_loaded_from(host: str) -> None:
    assert NOBODY_ELSE.allows(f"http://{host}", "http", host)
    assert NOBODY_ELSE.allows(f"http://{host}", "ws", host)  # its socket.io WebSocket


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:3000", "127.0.0.1:8000"),  # another port of the same host: the finding
        ("http://localhost:8000", "127.0.0.1:8000"),  # another name for the same address
        ("https://127.0.0.1:8000", "127.0.0.1:8000"),  # another scheme
        ("http://evil.example", "127.0.0.1:8000"),
        ("null", "127.0.0.1:8000"),  # sandboxed frames, file:// pages, some redirects
        ("", "127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "127.0.0.1:8000"),  # not how a browser writes an origin
        ("http://a@127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://127.0.0.1:8000", None),  # no Host header: the app's own origin is unknown
        ("http://127.0.0.1:8000", "127.0.0.1:8000, evil.example"),
    ],
)
def test_any_other_origin_is_refused(origin: str, host: str | None) -> None:
    assert not NOBODY_ELSE.allows(origin, "http", host)
    assert not NOBODY_ELSE.allows(origin, "ws", host)


def test_a_page_under_a_host_name_is_the_apps_own_only_when_configured() -> None:
    """DNS rebinding: evil.example's page, its name now resolving to 127.0.0.1, sends requests
    addressed to evil.example, so Origin and Host agree; only a configured name is trusted."""
    assert not NOBODY_ELSE.allows("http://evil.example:8000", "http", "evil.example:8000")
    assert not NOBODY_ELSE.allows("http://evil.example:8000", "ws", "evil.example:8000")
    chat = OriginPolicy(frozenset({Origin("https", "chat.example.org", 443)}))
    assert chat.allows("https://chat.example.org", "wss", "chat.example.org")


def test_a_request_without_origin_goes_on() -> None:
    """curl, navigations and same-origin GETs send none; a browser never omits it cross-origin
    on anything but a GET or HEAD, which cannot read the answer without CORS."""
    assert NOBODY_ELSE.allows(None, "http", "127.0.0.1:8000")
    assert NOBODY_ELSE.allows(None, "http", None)


def test_the_scheme_is_the_one_the_request_came_in_with() -> None:
    # Behind a TLS proxy uvicorn takes the scheme from X-Forwarded-Proto (FORWARDED_ALLOW_IPS).
    assert NOBODY_ELSE.allows("https://192.0.2.10", "https", "192.0.2.10")
    assert NOBODY_ELSE.allows("https://192.0.2.10", "wss", "192.0.2.10:443")
    assert not NOBODY_ELSE.allows("https://192.0.2.10", "http", "192.0.2.10")
    assert not NOBODY_ELSE.allows("http://192.0.2.10", "https", "192.0.2.10")
    assert not NOBODY_ELSE.allows("http://192.0.2.10", "ftp", "192.0.2.10")


def test_default_ports_and_case_do_not_matter() -> None:
    assert NOBODY_ELSE.allows("http://192.0.2.10", "http", "192.0.2.10:80")
    assert NOBODY_ELSE.allows("http://192.0.2.10:80", "http", "192.0.2.10")
    assert not NOBODY_ELSE.allows("http://192.0.2.10:8080", "http", "192.0.2.10")


def test_configured_origins_are_allowed_wherever_the_request_went() -> None:
    assert WITH_OPEN_WEBUI.allows("http://localhost:3000", "http", "127.0.0.1:8000")
    assert WITH_OPEN_WEBUI.allows("http://localhost:3000", "ws", None)
    assert not WITH_OPEN_WEBUI.allows("http://127.0.0.1:3000", "http", "127.0.0.1:8000")
    assert not WITH_OPEN_WEBUI.allows("https://localhost:3000", "http", "127.0.0.1:8000")


def test_parsed_origins_are_written_as_a_browser_writes_them() -> None:
    assert str(parse_origin("HTTP://LocalHost:3000")) == "http://localhost:3000"
    assert str(parse_origin("https://chat.example.org:443")) == "https://chat.example.org"
    assert parse_origin("http://[::1]:8000") == Origin("http", "[::1]", 8000)
    not_origins = ["*", "localhost:3000", "ws://localhost:3000", "http://x:0", "http://x:65536",
                   "http://x/chat", "http://x?a", "http://ü.example", "http://\u212a"]  # fmt: skip
    for not_an_origin in not_origins:
        assert parse_origin(not_an_origin) is None, not_an_origin
    assert addressed_origin("wss", "chat.example.org") == Origin("https", "chat.example.org", 443)
    assert addressed_origin("http", "evil.example@127.0.0.1:8000") is None


# Property-based: the decision against an independent oracle ------------------------------------

LABEL = r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?"
hosts = st.one_of(
    st.just("localhost"),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
    st.from_regex(rf"{LABEL}(\.{LABEL}){{0,3}}", fullmatch=True),
)
ports = st.one_of(st.none(), st.integers(1, 65535))
PAGE_SCHEME = {"http": "http", "ws": "http", "https": "https", "wss": "https"}
DEFAULT_PORT = {"http": 80, "https": 443}


def with_port(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


@given(st.data())
def test_only_the_address_the_request_was_sent_to_counts_as_own(data: st.DataObject) -> None:
    page_scheme = data.draw(st.sampled_from(["http", "https"]))
    page_host = data.draw(hosts)
    page_port = data.draw(ports)
    request_scheme = data.draw(st.sampled_from(["http", "https", "ws", "wss"]))
    # Often the very address of the page, or its default port spelled out; sometimes another.
    request_host = data.draw(st.one_of(st.just(page_host), hosts))
    request_port = data.draw(st.one_of(st.just(page_port), st.just(80), st.just(443), ports))
    shouting = data.draw(st.booleans())  # a Host header in capitals names the same host
    origin = f"{page_scheme}://{with_port(page_host, page_port)}"
    host_header = with_port(request_host.upper() if shouting else request_host, request_port)

    same = (
        names_an_address(page_host)
        and page_scheme == PAGE_SCHEME[request_scheme]
        and page_host == request_host
        and (page_port or DEFAULT_PORT[page_scheme])
        == (request_port or DEFAULT_PORT[PAGE_SCHEME[request_scheme]])
    )
    assert NOBODY_ELSE.allows(origin, request_scheme, host_header) is same


# Few names and ports, so that origin and Host often share one and differ in the other.
near_hosts = st.sampled_from(["localhost", "127.0.0.1", "[::1]", "chat.example.org"])
near_ports = st.sampled_from([None, 80, 443, 3000, 8000])
host_headers = st.builds(with_port, near_hosts, near_ports)
origin_headers = st.builds(
    lambda scheme, host: f"{scheme}://{host}", st.sampled_from(["http", "https"]), host_headers
)


@given(
    st.one_of(st.none(), st.text(), origin_headers),
    st.one_of(st.sampled_from(["http", "https", "ws", "wss"]), st.text()),
    st.one_of(st.none(), st.text(), host_headers),
    st.frozensets(st.builds(Origin, st.sampled_from(["http", "https"]), hosts, ports.map(
        lambda port: port or 80))),
)  # fmt: skip
def test_nothing_else_is_ever_allowed_and_nothing_raises(
    origin: str | None, scheme: str, host: str | None, configured: frozenset[Origin]
) -> None:
    allowed = OriginPolicy(configured).allows(origin, scheme, host)
    assert isinstance(allowed, bool)
    if not allowed or origin is None or parse_origin(origin) in configured:
        return
    # Allowed and not configured: the origin is exactly scheme://host[:port] of the Host header,
    # and that host an IP address or localhost.
    page = urlsplit(origin.strip().lower())
    assert page.path == "" and not page.query and not page.fragment and "@" not in origin
    assert host is not None
    addressed = urlsplit(f"//{host.strip().lower()}")
    assert page.hostname == addressed.hostname
    assert page.hostname == "localhost" or ipaddress.ip_address(page.hostname or "")
    assert (page.port or DEFAULT_PORT[page.scheme]) == (
        addressed.port or DEFAULT_PORT[PAGE_SCHEME[scheme.lower()]]
    )
    assert page.scheme == PAGE_SCHEME[scheme.lower()]


@given(st.frozensets(st.builds(Origin, st.just("http"), hosts, st.integers(1, 65535)), min_size=1),
       st.text(), st.one_of(st.none(), st.text()))  # fmt: skip
def test_a_configured_origin_is_allowed_on_any_request(
    configured: frozenset[Origin], scheme: str, host: str | None
) -> None:
    policy = OriginPolicy(configured)
    assert all(policy.allows(str(origin), scheme, host) for origin in configured)


# The endpoint's CORS origins (ENDPOINT_CORS_ORIGINS), parsed by the same parser -----------------


def test_the_endpoint_allows_an_origin_however_it_is_spelled() -> None:
    allowed = (OPEN_WEBUI, Origin("https", "chat.example.org", 443))
    for header in ["http://localhost:3000", "http://LOCALHOST:3000", "HTTP://LocalHost:3000/"]:
        assert cors_allowed(header, allowed) == header  # echoed as the browser sent it
    assert cors_allowed("https://chat.example.org:443", allowed) == "https://chat.example.org:443"
    assert (
        cors_allowed("http://localhost", (Origin("http", "localhost", 80),)) == "http://localhost"
    )
    for other in ["http://localhost:3001", "https://localhost:3000", "null", "", "http://x/p"]:
        assert cors_allowed(other, allowed) is None, other
    assert cors_allowed(None, allowed) is None
    assert cors_allowed("http://localhost:3000", ()) is None  # no CORS at all
    assert cors_allowed("null", "*") == cors_allowed("http://anyone.example", "*") == "*"


origins = st.builds(
    Origin, st.sampled_from(["http", "https"]), hosts, st.integers(1, 65535)
) | st.builds(lambda scheme, host: Origin(scheme, host, DEFAULT_PORT[scheme]),
              st.sampled_from(["http", "https"]), hosts)  # fmt: skip


@st.composite
def spellings(draw: st.DrawFn, origin: Origin) -> str:
    """`origin` as a person may write it: any case, its default port spelled out or not, a
    trailing slash."""
    default = origin.port == DEFAULT_PORT[origin.scheme]
    port = "" if default and draw(st.booleans()) else f":{origin.port}"
    text = f"{origin.scheme}://{origin.host}{port}" + draw(st.sampled_from(["", "/"]))
    upper = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if up else c for c, up in zip(text, upper, strict=True))


@given(st.data(), origins, origins)
def test_any_spelling_of_a_configured_origin_is_allowed_and_no_other_origin(
    data: st.DataObject, origin: Origin, other: Origin
) -> None:
    configured = parse_origin(data.draw(spellings(origin)).rstrip("/"))  # as config.py reads it
    assert configured == origin
    header = data.draw(spellings(origin))
    assert cors_allowed(header, (configured,)) == header
    other_header = data.draw(spellings(other))
    assert (cors_allowed(other_header, (configured,)) is None) is (other != origin)


# The ASGI guard, called the way uvicorn calls it ------------------------------------------------


class Recorder:
    """An ASGI app behind the guard: records whether a request reached it."""

    def __init__(self) -> None:
        self.reached: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.reached.append(scope)


async def run_guard(scope: dict[str, Any]) -> tuple[Recorder, list[dict[str, Any]]]:
    inner = Recorder()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await OriginGuard(inner, NOBODY_ELSE)(scope, receive, send)
    return inner, sent


def request(kind: str, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    scheme = "http" if kind == "http" else "ws"
    return {"type": kind, "scheme": scheme, "path": "/project/threads", "method": "POST",
            "headers": [(b"host", b"127.0.0.1:8000"), *headers]}  # fmt: skip


async def test_the_guard_answers_403_and_never_calls_the_app() -> None:
    inner, sent = await run_guard(request("http", (b"origin", b"http://127.0.0.1:3000")))
    assert inner.reached == []
    assert sent[0]["status"] == 403
    assert b"access-control-allow-origin" not in dict(sent[0]["headers"])
    assert "ALLOWED_ORIGINS" in json.loads(sent[1]["body"])["detail"]


async def test_the_guard_closes_a_foreign_websocket_before_accepting_it() -> None:
    inner, sent = await run_guard(request("websocket", (b"origin", b"http://127.0.0.1:3000")))
    assert inner.reached == []
    assert sent == [{"type": "websocket.close", "code": 1008}]


async def test_two_origin_headers_are_no_origin_of_the_app() -> None:
    own = (b"origin", b"http://127.0.0.1:8000")
    inner, sent = await run_guard(request("http", own, (b"origin", b"http://127.0.0.1:3000")))
    assert inner.reached == [] and sent[0]["status"] == 403


async def test_the_guard_lets_the_own_origin_and_lifespan_through() -> None:
    inner, sent = await run_guard(request("http", (b"origin", b"http://127.0.0.1:8000")))
    assert len(inner.reached) == 1 and sent == []
    inner, sent = await run_guard({"type": "lifespan"})
    assert len(inner.reached) == 1 and sent == []


# Installing it on Chainlit's app ---------------------------------------------------------------


def chainlit_like_app() -> Starlette:
    """Like chainlit.server.app: CORS for `*` with credentials."""
    app = Starlette()
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)
    return app


def test_the_guard_goes_in_front_and_cors_gets_only_the_configured_origins() -> None:
    app = chainlit_like_app()
    install_origin_guard(app, WITH_OPEN_WEBUI)
    assert [entry.cls for entry in app.user_middleware] == [OriginGuard, CORSMiddleware]
    assert app.user_middleware[1].kwargs["allow_origins"] == ["http://localhost:3000"]


def test_installing_again_in_a_running_app_changes_nothing() -> None:
    """`chainlit run -w` imports app.py again into the running server."""
    app = chainlit_like_app()
    install_origin_guard(app, NOBODY_ELSE)
    app.middleware_stack = app.build_middleware_stack()  # what the first request does
    install_origin_guard(app, WITH_OPEN_WEBUI)
    assert [entry.cls for entry in app.user_middleware] == [OriginGuard, CORSMiddleware]
    assert app.user_middleware[1].kwargs["allow_origins"] == []


def test_an_app_without_chainlits_cors_middleware_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="CORSMiddleware"):
        install_origin_guard(Starlette(), NOBODY_ELSE)
