"""Nothing the chat's pages show is fetched from another origin.

An ASGI middleware in front of Chainlit's server gives every HTML page it serves (the chat UI,
and /browser) a Content-Security-Policy that lets the page load and connect to its own origin
only (`data:` and `blob:` for images, fonts and workers): a remote image in an answer, a
document or a file name is never fetched, whatever the Markdown renderer makes of it
(markdown_safety shows such images as links in the first place).

Chainlit's page also links Google Fonts and KaTeX's stylesheet on a CDN: those `<link>`s to
other origins are taken out of the page (the theme's fonts fall back to the system's; `latex`
is off in .chainlit/config.toml). Its inline scripts are allowed by their SHA-256 hashes, not
by 'unsafe-inline'; its inline styles need 'unsafe-inline' (React sets style attributes), and
its custom elements 'unsafe-eval'.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"content-security-policy"
BROWSER_PAGE = "/browser"
REMOTE_LINK = re.compile(r"""<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//[^>]*>\s*""", re.I)
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.I | re.S)
COMMON = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; media-src 'self' data: blob:; frame-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)


def policy(path: str, html: str) -> str:
    """The page's policy; its inline scripts by hash. /browser runs WebAssembly in workers."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in INLINE_SCRIPT.findall(html)
    )
    # 'unsafe-eval': Chainlit compiles custom elements (public/elements/*.jsx, the answer's
    # stats) in the page and runs them with `new Function` (and test drivers evaluate theirs).
    # Scripts still come from this origin only.
    if path.startswith(BROWSER_PAGE):
        scripts = f"script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval' blob: {hashes}".rstrip()
        return f"{COMMON}; {scripts}; worker-src 'self' blob:; connect-src 'self' blob: data:"
    scripts = f"script-src 'self' 'unsafe-eval' {hashes}".rstrip()
    return f"{COMMON}; {scripts}; worker-src 'self' blob:; connect-src 'self'"


def without_remote_links(html: str) -> str:
    return REMOTE_LINK.sub("", html)


class PagePolicy:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        parts: list[bytes] = []

        async def rewriting(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                is_html = headers.get(b"content-type", b"").startswith(b"text/html")
                if is_html and b"content-encoding" not in headers:
                    start = message  # sent with the rewritten page, once it is whole
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            parts.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            html = without_remote_links(b"".join(parts).decode("utf-8", "replace"))
            body = html.encode()
            kept = [
                (key, value) for key, value in start.get("headers", [])
                if key not in {b"content-length", HEADER}
            ]  # fmt: skip
            kept += [
                (b"content-length", b"%d" % len(body)),
                (HEADER, policy(scope["path"], html).encode()),
            ]
            await send({**start, "headers": kept})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewriting)


def install_page_policy(app: Starlette) -> None:
    """In front of Chainlit's routes and /browser's, inside Chainlit's gzip middleware (which
    compresses the page this one rewrites). Call before the server starts."""
    if app.middleware_stack is not None:
        return
    gzip = [
        number for number, entry in enumerate(app.user_middleware)
        if isinstance(entry.cls, type) and issubclass(entry.cls, GZipMiddleware)
    ]  # fmt: skip
    if len(gzip) != 1:
        raise RuntimeError(
            f"expected Chainlit's one GZipMiddleware on its app, found {len(gzip)}: the page "
            "policy was written against Chainlit 2.12's server.py"
        )
    app.user_middleware.insert(gzip[0] + 1, Middleware(PagePolicy))  # first is outermost
