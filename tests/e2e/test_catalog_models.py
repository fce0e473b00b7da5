"""Catalog models: downloaded with progress on first use, loaded, served, through the real runtime.

Offline there is no public catalog, so a stand-in on loopback (tests/support/model_registry.py)
plays Azure's catalog, model registry and blob storage, serving a copy of the bundled model as a
catalog model the runtime has never seen. Its cache starts empty: the runtime really downloads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import takewhile
from pathlib import Path

import pytest
from openai import OpenAI

from foundry_local_chat.config import BUNDLED_MODEL_ID
from foundry_local_chat.models.private_catalog import CatalogEntry
from tests.support.apps import AppFactory
from tests.support.chainlit_client import ChainlitSession
from tests.support.model_registry import ModelRegistry
from tests.support.processes import clean_env, free_port, start_endpoint

CATALOG_MODEL = CatalogEntry(
    publisher="stand-in-registry",
    name="smollm2-135m-catalog-copy-generic-cpu",
    version="1",
    alias="smollm2-catalog-copy",
    display_name="SmolLM2 135M, served as a catalog model",
    file_size_bytes=90_000_000,
)
WITHDRAWN_MODEL = CatalogEntry(
    publisher="stand-in-registry",
    name="withdrawn-model-generic-cpu",
    version="1",
    alias="withdrawn-model",
    display_name="Listed in the catalog, unknown to the registry",
    file_size_bytes=1_000_000,
)
DOWNLOADING = re.compile(r"download (\d+)%")
CAPITAL_QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def registry(
    bundled_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModelRegistry]:
    stand_in = ModelRegistry(
        CATALOG_MODEL, bundled_model_dir, tmp_path_factory.mktemp("registry"),
        unavailable=(WITHDRAWN_MODEL,),
    )  # fmt: skip
    yield stand_in
    stand_in.close()


@pytest.fixture
def app_with_the_catalog(
    registry: ModelRegistry, chainlit_app: AppFactory, bundled_model_dir: Path, tmp_path: Path
) -> str:
    """The app on the bundled model, with the stand-in's catalog too; its model cache (under
    tmp_path/cache) holds only the bundled model, so a catalog model must be downloaded."""
    cache = tmp_path / "cache"
    (cache / "bundled").mkdir(parents=True)
    (cache / "bundled" / bundled_model_dir.name).symlink_to(bundled_model_dir)
    return chainlit_app(MODEL_CACHE_DIR=str(cache), TEMPERATURE="0", **registry.env())


def downloaded_folder(model_cache_dir: Path) -> Path:
    entry = CATALOG_MODEL
    return model_cache_dir / "foundry" / entry.publisher / f"{entry.name}-{entry.version}"


def test_serve_downloads_a_catalog_model_with_progress_then_serves_it(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    env = clean_env({
        "MODEL": CATALOG_MODEL.alias, "FOUNDRY_OFFLINE": "1", "MODEL_CACHE_DIR": str(cache),
        "APP_DATA_DIR": str(tmp_path / "data"),
        "FOUNDRY_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", **registry.env(),
    })  # fmt: skip
    endpoint = start_endpoint(env)
    try:
        assert endpoint.model == CATALOG_MODEL.model_id
        assert "download: 100%" in endpoint.process.output  # the terminal's progress bar
        assert registry.asset_ids == [CATALOG_MODEL.summary()["assetId"]]
        assert len(registry.ranges) > len(registry.files)  # the large files came in pieces
        for name, data in registry.files.items():
            assert (downloaded_folder(cache) / name).read_bytes() == data, name

        with OpenAI(base_url=endpoint.url, api_key="any", max_retries=0) as client:
            assert CATALOG_MODEL.model_id in [model.id for model in client.models.list()]
            answer = client.chat.completions.create(
                model=CATALOG_MODEL.alias, messages=CAPITAL_QUESTION, temperature=0, max_tokens=20
            )
        assert "Paris" in (answer.choices[0].message.content or "")
    finally:
        endpoint.process.stop()


async def test_choosing_a_catalog_model_downloads_it_with_progress_in_the_chat(
    registry: ModelRegistry, app_with_the_catalog: str, tmp_path: Path
) -> None:
    url, cache = app_with_the_catalog, tmp_path / "cache"

    async with ChainlitSession(url) as chat:
        await chat.ready()
        panel = next(data for name, data in chat.history if name == "chat_settings")
        offered = [item["value"] for widget in panel if widget["id"] == "model"
                   for item in widget["items"]]  # fmt: skip
        registry.hold_downloads_after(5)  # so the chat is seen mid-download, however fast it is
        try:
            await chat.send_settings({"model": CATALOG_MODEL.model_id})
            await chat.wait_for("update_message", lambda m: bool(DOWNLOADING.search(m["output"])))
        finally:
            registry.release_downloads()
        await chat.wait_for("task_end")  # the settings are applied
        progress = [
            data["output"]
            for name, data in chat.history
            if name in {"new_message", "update_message"}
            and data["output"].startswith(f"Preparing {CATALOG_MODEL.model_id}")
        ]
        reply = await chat.ask("What is the capital of France?")

    assert CATALOG_MODEL.model_id in offered
    percents = [int(m[1]) for line in progress if (m := DOWNLOADING.search(line))]
    assert percents and percents[0] < 100, progress  # seen while downloading
    assert percents == sorted(percents), progress  # never going back
    before_download = list(takewhile(lambda line: "download" not in line, progress))
    assert not any("100%" in line for line in before_download), progress  # no stale "ready 100%"
    assert any(name == "delete_message" for name, _ in chat.history)  # progress gone when done
    assert (downloaded_folder(cache) / "model.onnx").is_file()
    assert reply.stats()["summary"].endswith(CATALOG_MODEL.model_id)
    assert "Paris" in reply.answer()["output"]


async def test_a_catalog_model_that_cannot_be_downloaded_is_explained_and_the_chat_goes_on(
    app_with_the_catalog: str,
) -> None:
    url = app_with_the_catalog

    async with ChainlitSession(url) as chat:
        await chat.ready()
        await chat.change_settings({"model": WITHDRAWN_MODEL.model_id})
        [refusal] = [
            data["output"]
            for name, data in chat.history
            if name == "new_message" and data["output"].startswith("**Settings not applied:**")
        ]
        reply = await chat.ask("What is the capital of France?")

    assert refusal.startswith(
        f"**Settings not applied:** Foundry Local could not prepare {WITHDRAWN_MODEL.model_id}: "
        "Model registry API request failed for asset_id azureml://"
    )
    assert ".cc:" not in refusal and "<" not in refusal  # no native source location, no HTML
    assert "The chat keeps its previous settings." in refusal
    assert "Traceback" not in refusal
    assert reply.stats()["summary"].endswith(BUNDLED_MODEL_ID)  # the chat goes on as before
    assert "Paris" in reply.answer()["output"]


async def test_a_catalog_model_downloading_at_start_shows_its_progress_in_the_chat(
    registry: ModelRegistry, chainlit_app: AppFactory, tmp_path: Path
) -> None:
    registry.hold_downloads_after(5)  # a slow network: the download outlasts the app's start
    try:
        url = chainlit_app(
            MODEL=CATALOG_MODEL.alias, MODEL_CACHE_DIR=str(tmp_path / "cache"), TEMPERATURE="0",
            **registry.env(),
        )  # fmt: skip
        async with ChainlitSession(url) as chat:
            stalled = await chat.wait_for(
                "update_message", lambda m: DOWNLOADING.search(m["output"]) is not None
            )
            registry.release_downloads()
            assert await chat.ready() is None  # then the chat is ready: its settings panel
            reply = await chat.ask("What is the capital of France?")
    finally:
        registry.release_downloads()

    assert stalled["output"].startswith("Starting Foundry Local: download ")
    assert reply.stats()["summary"].endswith(CATALOG_MODEL.model_id)
    assert "Paris" in reply.answer()["output"]
