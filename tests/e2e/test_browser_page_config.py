"""What the /browser page's worker is told (page_config), from the real bundled model's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundry_local_chat.config import Settings
from foundry_local_chat.ui import browser_page


@pytest.mark.parametrize(("setting", "on"), [(None, True), ("auto", True), ("0", False)])
def test_the_pages_loop_guard_is_the_chats(
    bundled_model_dir: Path, setting: str | None, on: bool
) -> None:
    """LOOP_GUARD, as in the chat: by default on for the bundled model (a small one)."""
    settings = Settings.from_env({} if setting is None else {"LOOP_GUARD": setting})
    assert settings.bundled_model_dir == bundled_model_dir
    assert browser_page.page_config(settings)["loop_guard"] is on
