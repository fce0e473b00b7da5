"""In real Chromium: a page on another port of 127.0.0.1 (same site, so the browser sends it the
signed-in user's cookie) can neither read the user's chats nor act for them nor open the chat's
socket; the app's own page chats on, directly and through nginx."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, Response, expect

from tests.support.apps import PASSWORD, AppFactory, signed_in_app
from tests.support.browser import (
    USER_MESSAGE,
    last_answer,
    new_chat,
    new_page,
    send_prompt,
    sign_in,
    wait_for_answer,
)
from tests.support.chainlit_client import AUTH_COOKIE
from tests.support.nginx import start_nginx
from tests.support.processes import free_port
from tests.support.recording_proxy import RecordingProxy

FOREIGN_PAGE = Path(__file__).parents[1] / "support" / "foreign_page.html"


@pytest.fixture
def app_url(chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path) -> str:
    return signed_in_app(
        chainlit_app, proxy, tmp_path, "alice", "mallory", TEMPERATURE="0", MAX_TOKENS="32"
    )


@pytest.fixture
async def other_origin() -> AsyncIterator[str]:
    """A tiny web server on another port of 127.0.0.1 serving the attacking page."""
    site = web.Application()
    page = FOREIGN_PAGE.read_text(encoding="utf-8")

    async def serve(_: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    site.router.add_get("/", serve)
    runner = web.AppRunner(site)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def session_cookie(page: Page, app_url: str) -> str:
    [cookie] = [c for c in await page.context.cookies(app_url) if c["name"] == AUTH_COOKIE]
    return cookie["value"]


async def test_another_origin_can_neither_read_nor_act_nor_open_the_socket(
    page: Page, app_url: str, other_origin: str
) -> None:
    await sign_in(page)
    await send_prompt(page, "What is the capital of France?")
    await wait_for_answer(page)
    alices_cookie = await session_cookie(page, app_url)

    attacker = await page.context.new_page()
    answered: list[Response] = []
    attacker.on("response", lambda r: answered.append(r) if r.url.startswith(app_url) else None)
    await attacker.goto(other_origin)
    results: dict[str, Any] = await attacker.evaluate(
        "([app, password]) => attack(app, password)", [app_url, PASSWORD]
    )

    assert results["threads"]["read"] is False, results["threads"]  # no chat list
    assert results["simpleThreads"]["read"] is False, results["simpleThreads"]
    assert results["polling"]["read"] is False, results["polling"]
    assert results["socket"] == {"opened": False, "joined": False, "messages": []}
    # Whatever reached the server was refused by it, not only hidden by the browser.
    statuses = {(r.request.method, r.url.removeprefix(app_url)): r.status for r in answered}
    assert statuses[("POST", "/login")] == 403, statuses  # the frame got the refusal
    assert statuses[("POST", "/logout")] == 403, statuses  # no-cors: hidden from the page
    assert set(statuses.values()) == {403}, statuses
    # The blind writes did nothing: still alice's session, not signed out, not mallory's.
    assert await session_cookie(page, app_url) == alices_cookie
    await attacker.close()

    # The app's own page: still alice, her chat in the sidebar, and it chats normally.
    await new_chat(page)
    await expect(page.get_by_text("What is the capital of France?")).to_be_visible()
    await send_prompt(page, "What is the capital of Italy?")
    assert await wait_for_answer(page)
    await expect(page.locator(USER_MESSAGE)).to_have_text(["What is the capital of Italy?"])


async def test_the_apps_own_page_chats_through_nginx(browser: Browser, app_url: str) -> None:
    """nginx passes the browser's Host on (deploy/nginx-chat.conf): the page loaded from nginx's
    address is the app's own origin there, and another origin is still refused."""
    port = int(app_url.rsplit(":", 1)[1])
    balancer, nginx_port, prefix = start_nginx([port])
    front = f"http://127.0.0.1:{nginx_port}"
    context, page, _ = await new_page(browser, front)
    try:
        await sign_in(page)
        await send_prompt(page, "What is the capital of France?")
        assert await wait_for_answer(page)
        assert (await last_answer(page).inner_text()).strip()

        async with aiohttp.ClientSession() as http:
            headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": f"{AUTH_COOKIE}=x"}
            async with http.post(f"{front}/project/threads", headers=headers) as response:
                assert response.status == 403
    finally:
        await context.close()
        balancer.stop()
        shutil.rmtree(prefix, ignore_errors=True)
