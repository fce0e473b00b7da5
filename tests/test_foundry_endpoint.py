"""The real Foundry Local runtime serving the bundled model through its own web service."""

from __future__ import annotations

from openai import AsyncOpenAI

from foundry_local_chat.config import BUNDLED_MODEL_ID


def client(endpoint: dict[str, str]) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=endpoint["url"], api_key="any", max_retries=0)


async def test_models_lists_the_bundled_model(endpoint: dict[str, str]) -> None:
    models = [model.id async for model in client(endpoint).models.list()]
    assert models == [BUNDLED_MODEL_ID]
    assert endpoint["model"] == BUNDLED_MODEL_ID


async def test_streamed_completion_yields_chunks_and_a_finish_reason(
    endpoint: dict[str, str],
) -> None:
    stream = await client(endpoint).chat.completions.create(
        model=endpoint["model"],
        messages=[{"role": "user", "content": "Name three colours."}],
        max_tokens=40,
        stream=True,
    )
    contents, finish_reasons = [], []
    async for chunk in stream:
        if chunk.choices:
            if chunk.choices[0].delta.content:
                contents.append(chunk.choices[0].delta.content)
            if chunk.choices[0].finish_reason:
                finish_reasons.append(chunk.choices[0].finish_reason)
    assert len(contents) >= 5
    assert finish_reasons in (["stop"], ["length"])


async def test_endpoint_listens_on_the_configured_stable_address(endpoint: dict[str, str]) -> None:
    assert endpoint["url"].startswith("http://127.0.0.1:")
    assert endpoint["url"].endswith("/v1")
