"""The README stays true: every setting is documented, and the Open WebUI recipe is the one the
Open WebUI test runs."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.open_webui import open_webui_env
from tests.support.processes import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_setting_the_app_reads_is_in_the_readmes_table() -> None:
    source = (REPO / "foundry_local_chat" / "config.py").read_text(encoding="utf-8")
    read = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', source)) - {"XDG_CACHE_HOME", "XDG_DATA_HOME"}
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", README, re.MULTILINE))
    assert read and read <= documented, sorted(read - documented)


def test_the_open_webui_recipe_is_what_the_open_webui_test_runs() -> None:
    recipe = README[README.index("## Use it from Open WebUI") :]
    command = recipe[: recipe.index("open-webui serve")]
    assignments = dict(re.findall(r"^([A-Z_]+)=(\S+) \\$", command, re.MULTILINE))
    tested = open_webui_env("http://127.0.0.1:5273/v1", "", Path("./open-webui-data"))
    assert assignments == {**tested, "DATA_DIR": "./open-webui-data"}
