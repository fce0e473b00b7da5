"""The model tier's rendered nginx configuration passes nginx's own check (`nginx -t`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.nginx import MODEL_TIER_SNIPPET, nginx_binary, render


@pytest.mark.e2e
def test_the_rendered_config_passes_nginx_own_check(tmp_path: Path) -> None:
    (tmp_path / "temp").mkdir()
    config = tmp_path / "nginx.conf"
    config.write_text(render([5001, 5002, 5003], 5000, tmp_path, MODEL_TIER_SNIPPET))
    checked = subprocess.run(
        [nginx_binary(), "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    assert config.read_text().count("max_fails=") == 3
