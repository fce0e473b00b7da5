"""The `serve` command: the real Foundry Local runtime behind the endpoint, and how it starts."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from openai import AsyncOpenAI

from foundry_local_chat.config import BUNDLED_MODEL_ALIAS, BUNDLED_MODEL_ID
from tests.support.processes import Endpoint, clean_env, free_port, start

pytestmark = [pytest.mark.e2e]  # runs `serve`


def client(endpoint: Endpoint) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=endpoint.url, api_key=endpoint.api_key, max_retries=0)


async def test_models_lists_the_bundled_model(endpoint: Endpoint) -> None:
    async with client(endpoint) as sdk:
        models = [model.id async for model in sdk.models.list()]
    assert models == [BUNDLED_MODEL_ID]
    assert (endpoint.model, endpoint.alias) == (BUNDLED_MODEL_ID, BUNDLED_MODEL_ALIAS)


async def test_streamed_completion_yields_chunks_and_a_finish_reason(endpoint: Endpoint) -> None:
    contents, finish_reasons = [], []
    async with client(endpoint) as sdk:
        stream = await sdk.chat.completions.create(
            model=endpoint.model,
            messages=[{"role": "user", "content": "Name three colours."}],
            max_tokens=40,
            stream=True,
        )
        async for chunk in stream:
            if chunk.choices:
                if chunk.choices[0].delta.content:
                    contents.append(chunk.choices[0].delta.content)
                if chunk.choices[0].finish_reason:
                    finish_reasons.append(chunk.choices[0].finish_reason)
    assert len(contents) >= 5
    assert finish_reasons in (["stop"], ["length"])


async def test_endpoint_listens_on_the_configured_stable_address(endpoint: Endpoint) -> None:
    assert endpoint.url.startswith("http://127.0.0.1:")
    assert endpoint.url.endswith("/v1")
    assert "reachable from this machine only; API key required" in endpoint.process.output


def run_serve(timeout: float = 60, **settings: str) -> tuple[int, str]:
    """Run `serve` with these settings until it exits (it must exit by itself)."""
    env = clean_env({"FOUNDRY_OFFLINE": "1", **settings})
    command = [sys.executable, "-m", "foundry_local_chat", "serve"]
    running = start(command, env)
    return running.wait_for_exit(timeout), running.output


def test_serve_refuses_a_network_address_without_an_api_key() -> None:
    code, output = run_serve(FOUNDRY_ENDPOINT_URL=f"http://0.0.0.0:{free_port()}")
    assert code == 2
    assert "listens on 0.0.0.0, which other machines can reach" in output
    assert "ENDPOINT_API_KEY" in output and "ENDPOINT_ALLOW_NO_KEY=1" in output


def test_serve_says_so_at_once_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = run_serve(
            FOUNDRY_ENDPOINT_URL=f"http://127.0.0.1:{port}", APP_DATA_DIR=str(tmp_path)
        )
    assert code == 1
    assert f"cannot listen on FOUNDRY_ENDPOINT_URL=http://127.0.0.1:{port}" in output
    assert "address already in use" in output
    assert "load…" not in output  # failed before any model work
