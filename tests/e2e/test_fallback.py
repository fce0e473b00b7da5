"""Backend selection through real servers: Foundry Local failing, BASE_URL answering or not."""

from __future__ import annotations

from pathlib import Path

from foundry_local_chat.config import BUNDLED_MODEL_ID
from tests.support.apps import AppFactory
from tests.support.chainlit_client import ChainlitSession
from tests.support.processes import free_port
from tests.support.recording_proxy import RecordingProxy


async def test_foundry_failing_falls_back_to_base_url(
    chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path
) -> None:
    # An empty model cache: Foundry Local cannot serve the bundled model in this app.
    url = chainlit_app(MODEL_CACHE_DIR=str(tmp_path / "empty-cache"), BASE_URL=proxy.url)
    async with ChainlitSession(url) as chat:
        assert await chat.ready() is None
        welcome = await chat.welcome()
        reply = await chat.ask("What is the capital of France?")
    assert "**Foundry Local** is unavailable: The bundled model is not built" in welcome["Auto"]
    # The welcome screen names the model that answers: MODEL is unset, so BASE_URL's first.
    answering = reply.stats()["summary"].rsplit(" · ", 1)[1]
    assert answering == BUNDLED_MODEL_ID
    assert f"**BASE_URL** · `{proxy.url}` · `{answering}`" in welcome["Remote"]
    korean = (await ChainlitSession(url, language="ko-KR").welcome())["Auto"]
    assert "**Foundry Local**: 사용할 수 없습니다 (The bundled model" in korean
    assert f"`{proxy.url}` · `{answering}` 쪽에서 답합니다." in korean
    assert len(reply.tokens) >= 2
    assert reply.stats()["backend"] == "BASE_URL"
    assert [r.body["messages"][-1]["content"] for r in proxy.chat_requests() if r.body] == [
        "What is the capital of France?"
    ]


async def test_no_backend_gives_a_clear_message_in_the_chat(
    chainlit_app: AppFactory, tmp_path: Path
) -> None:
    dead_server = f"http://127.0.0.1:{free_port()}/v1"
    url = chainlit_app(MODEL_CACHE_DIR=str(tmp_path / "empty-cache"), BASE_URL=dead_server)
    async with ChainlitSession(url) as chat:
        notice = await chat.ready()
        reply = await chat.ask("Hello?")

    assert notice is not None and notice.startswith("**No model server is available.**")
    assert "bundled model is not built" in notice
    assert dead_server in notice and "did not answer" in notice
    assert "Traceback" not in notice
    assert reply.tokens == []
    assert "No model server is available" in reply.final_messages[-1]["output"]


async def test_foundry_switched_off_without_base_url_says_what_to_do(
    chainlit_app: AppFactory,
) -> None:
    url = chainlit_app(FOUNDRY_LOCAL="0")
    async with ChainlitSession(url) as chat:
        notice = await chat.ready()
    assert notice is not None and "FOUNDRY_LOCAL=0" in notice
    assert "BASE_URL is not set" in notice
