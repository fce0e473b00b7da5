"""The bundled model's context window, read from its own files."""

from __future__ import annotations

import pytest

from foundry_local_chat.chat.context_window import (
    read_window,
)
from foundry_local_chat.config import Settings


@pytest.mark.model
def test_the_bundled_models_window_comes_from_its_own_files() -> None:
    window = read_window(Settings.from_env().bundled_model_dir)
    assert window is not None and window.context_length == 8192
    # The template adds SmolLM2's default system prompt when a chat has none.
    assert window.count_tokens([{"role": "user", "content": "Hi"}]) > window.count_tokens(
        [{"role": "system", "content": "."}, {"role": "user", "content": "Hi"}]
    )
