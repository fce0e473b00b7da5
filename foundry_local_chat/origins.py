"""Which web origins may use the chat server (its own, and the ones ALLOWED_ORIGINS lists) and
the endpoint (the ones ENDPOINT_CORS_ORIGINS lists, or any).

A browser names the page behind a request in the `Origin` header (on every WebSocket handshake,
every POST, PUT or DELETE, and every cross-origin request a script makes). A page on another
origin must not use a signed-in user's session cookie, which the browser also sends to other
ports of the same host (SameSite=lax). Pure functions: server/origin_guard.py and
endpoint/gateway.py apply them to requests. Both settings are parsed by `parse_origin`, so any
spelling of an origin is the same
one (`http://LOCALHOST:80` is `http://localhost`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

DEFAULT_PORTS = {"http": 80, "https": 443}
ANY_ORIGIN: Literal["*"] = "*"  # ENDPOINT_CORS_ORIGINS only: the endpoint holds no session
# What a browser writes: a lower-case host (IDNs in their xn-- form), IPv6 in brackets, no default
# port, no path. Anything else in an Origin header is not a page's origin.
_ORIGIN = re.compile(r"(https?)://(\[[0-9a-f:.]+\]|[a-z0-9_~.-]+)(?::([0-9]{1,5}))?")
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9_~.-]+)(?::([0-9]{0,5}))?")
# The scheme a request came in with (uvicorn takes it from X-Forwarded-Proto only from the
# proxies FORWARDED_ALLOW_IPS trusts) → the scheme of the page that may call it.
_PAGE_SCHEMES = {"http": "http", "ws": "http", "https": "https", "wss": "https"}


@dataclass(frozen=True)
class Origin:
    """scheme://host:port of a web page, with the port always spelled out."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        port = "" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"


def _port(digits: str | None, scheme: str) -> int | None:
    if not digits:
        return DEFAULT_PORTS[scheme]
    port = int(digits)
    return port if 0 < port < 65536 else None


def parse_origin(text: str) -> Origin | None:
    """The origin an `Origin` header (or an ALLOWED_ORIGINS entry) names; None if it names none
    (e.g. `null`, a path, user info, an unknown scheme)."""
    text = text.strip()
    match = _ORIGIN.fullmatch(text.lower()) if text.isascii() else None
    if match is None:
        return None
    scheme, host, digits = match.groups()
    port = _port(digits, scheme)
    return None if port is None else Origin(scheme, host, port)


def addressed_origin(scheme: str, host_header: str | None) -> Origin | None:
    """The origin a request was addressed to: its scheme and its `Host` header."""
    page_scheme = _PAGE_SCHEMES.get(scheme.lower())
    if page_scheme is None or host_header is None or not host_header.isascii():
        return None
    match = _HOST.fullmatch(host_header.strip().lower())
    if match is None:
        return None
    host, digits = match.groups()
    port = _port(digits, page_scheme)
    return None if port is None else Origin(page_scheme, host, port)


def names_an_address(host: str) -> bool:
    """An IP address or `localhost`: a name no web site can make a browser resolve to this
    machine. Any other host name can be rebound to 127.0.0.1 by whoever owns it (DNS rebinding),
    so a page under it is the app's own only when ALLOWED_ORIGINS says so."""
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class OriginPolicy:
    """The app's own origin (the address the request was sent to, when that is an IP address or
    localhost) plus `allowed`."""

    allowed: frozenset[Origin] = frozenset()

    def allows(self, origin_header: str | None, scheme: str, host_header: str | None) -> bool:
        """Whether a request may go on. No `Origin` header: yes (curl, navigations, same-origin
        GETs); an origin that is not a page's (`null`, garbage): no."""
        if origin_header is None:
            return True
        origin = parse_origin(origin_header)
        if origin is None:
            return False
        if origin in self.allowed:
            return True
        return origin == addressed_origin(scheme, host_header) and names_an_address(origin.host)


# The browser origins that may call the endpoint: the listed ones, or any ("*").
CorsOrigins = tuple[Origin, ...] | Literal["*"]


def cors_allowed(origin_header: str | None, allowed: CorsOrigins) -> str | None:
    """The `Access-Control-Allow-Origin` a request from `origin_header` gets: `*` when any origin
    may call, the header itself when it names one of `allowed` (however either is spelled), else
    None."""
    if not origin_header or not allowed:
        return None
    if isinstance(allowed, str):
        return ANY_ORIGIN
    origin = parse_origin(origin_header.rstrip("/"))
    return origin_header if origin is not None and origin in allowed else None
