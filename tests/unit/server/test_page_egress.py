"""What keeps the chat page from fetching elsewhere, in-process (the browser test,
browser/test_egress.py, shows it in Chromium): no image survives in streamed Markdown however
it is cut into tokens (property-based), source labels show no image and no bidirectional
control, the app's handlers send no image in an answer (cut "!" | "[" between tokens), its
sources or their side panels, and a page served through the policy middleware (around a real
Starlette app) loses its links to other origins and gets a policy that allows its own inline
scripts by hash."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from foundry_local_chat.documents.store import Passage
from foundry_local_chat.server.page_policy import PagePolicy
from foundry_local_chat.ui.chat_view import source_label
from foundry_local_chat.ui.markdown_safety import IMAGE_START, ImageBreaker, inert_images
from foundry_local_chat.ui.texts import BIDI_CONTROLS, ENGLISH, WORDS, shown_name
from tests.support.fake_chat import FakeChat, chat_app
from tests.support.scripted_model import ScriptedModel

markdownish = st.text(alphabet=st.sampled_from("![]()x: /\\\n`\u202e"), max_size=60)


@given(pieces=st.lists(markdownish, max_size=12))
def test_no_image_starts_in_streamed_text_however_it_is_cut(pieces: list[str]) -> None:
    breaker = ImageBreaker()
    streamed = "".join(breaker.feed(piece) for piece in pieces)
    assert streamed == inert_images("".join(pieces))
    assert IMAGE_START not in streamed
    assert streamed.replace("\u200b", "") == "".join(pieces)  # nothing else changes


@given(name=st.text(max_size=80), section=st.text(max_size=80))
def test_source_labels_and_file_names_show_no_image_and_no_bidi_control(
    name: str, section: str
) -> None:
    said = WORDS[ENGLISH]
    passages = [(True, Passage(name, 0, "t")), (False, Passage(name, 1, "t", None, section))]
    for whole, passage in passages:
        label = source_label(passage, whole, said)
        assert IMAGE_START not in label and not BIDI_CONTROLS.search(label)
    assert IMAGE_START not in shown_name(name) and not BIDI_CONTROLS.search(shown_name(name))


PAGE = """<html><head>
<link rel="preconnect" href="https://fonts.googleapis.com" />
<link
  href="https://fonts.googleapis.com/css2?family=Inter"
  rel="stylesheet"
/>
<link rel="stylesheet" href="//cdn.example/katex.css">
<link rel="icon" href="/favicon" />
<script>const global = globalThis;</script>
<script type="module" src="/assets/index.js"></script>
</head><body></body></html>"""


def served(path: str) -> tuple[dict[str, str], str]:
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    app = PagePolicy(Starlette(routes=[Route(path, page)]))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b"",
             "root_path": "", "scheme": "http", "server": ("127.0.0.1", 1)}  # fmt: skip
    asyncio.run(app(scope, receive, send))
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    assert int(headers["content-length"]) == len(body.encode())
    return headers, body


def test_a_page_loses_its_links_elsewhere_and_allows_its_inline_scripts_by_hash() -> None:
    headers, body = served("/")
    assert "googleapis" not in body and "cdn.example" not in body
    assert '<link rel="icon" href="/favicon" />' in body and "/assets/index.js" in body
    policy = headers["content-security-policy"]
    digest = base64.b64encode(hashlib.sha256(b"const global = globalThis;").digest()).decode()
    [scripts] = [d for d in policy.split("; ") if d.startswith("script-src ")]
    assert f"'sha256-{digest}'" in scripts and "'unsafe-inline'" not in scripts
    directives = ("default-src 'self'", "img-src 'self' data: blob:", "connect-src 'self'",
                  "font-src 'self' data:", "frame-src 'self'", "object-src 'none'")  # fmt: skip
    assert all(directive in policy for directive in directives)
    browser_policy = served("/browser")[0]["content-security-policy"]
    assert (
        "'wasm-unsafe-eval'" in browser_policy
        and "connect-src 'self' blob: data:" in browser_policy
    )


# ----- in the app's handlers (in-process, a scripted model) -----


async def test_the_app_sends_no_image_in_answers_sources_or_side_panels(tmp_path: Path) -> None:
    model = ScriptedModel("tiny:1")
    async with chat_app(model, tmp_path) as app:
        chat = FakeChat(app)
        await chat.start()
        note = (
            b"# Logo ![l](http://e.example/h.png)\n\nThe cat ![c](http://e.example/c.png) naps.\n"
        )
        model.enqueue("See ", "!", "[chart](http://e.example/a.png)", " and ![b](//e.example/b)")
        turn = await chat.say("cat?", files=[("n\u202etxt.md", note)])
        assert IMAGE_START not in "".join(turn.tokens) and IMAGE_START not in (turn.answer or "")
        assert "[chart](http://e.example/a.png)" in (turn.answer or "")
        sources = turn.sources
        assert sources is not None and IMAGE_START not in sources["output"]
        assert "\u202e" not in sources["output"]
        for element in [e for e in turn.of("element") if e.get("display") == "side"]:
            assert IMAGE_START not in element["name"] + chat.file_text(element)
        shown = " ".join(turn.notices)
        assert "\u202e" not in shown and "\ufffd" in shown
        await chat.close()
