"""The /browser page's routes in-process: what they serve, with which headers, and what they refuse.

The page itself (the model in the tab) is tested in real Chromium in
tests/browser/test_browser_page.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from foundry_local_chat.config import Settings
from foundry_local_chat.ui import browser_page
from foundry_local_chat.ui.browser_page import ISOLATION_HEADERS, LIBRARIES, mount_browser_page
from foundry_local_chat.ui.texts import BROWSER_TEXTS, ENGLISH, KOREAN
from tests.support.processes import REPO


def page_data(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert found is not None, "the page carries its data"
    data: dict[str, object] = json.loads(found.group(1))
    return data


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    """The routes on a bare app whose bundled model (and so its browser copy) is not built."""
    app = Starlette()
    mount_browser_page(app, Settings.from_env({"MODEL_CACHE_DIR": str(tmp_path)}))
    return TestClient(app)


def test_page_without_its_model_says_how_to_build_it(client: TestClient) -> None:
    response = client.get("/browser")
    assert response.status_code == 200
    assert "browser_model" in page_data(response.text)["missing"]  # type: ignore[operator]
    assert client.get("/browser/config.json").status_code == 404


def test_page_without_npm_libraries_says_what_to_install(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browser_page, "NODE_MODULES", tmp_path / "no-node-modules")
    data = page_data(client.get("/browser").text)
    assert data["missing"] == ["libraries", "browser_model"]
    assert "npm" in BROWSER_TEXTS[ENGLISH]["missing_libraries"]
    assert client.get("/browser/lib/ort.wasm.min.mjs").status_code == 404


def test_page_carries_both_languages_with_the_same_words(client: TestClient) -> None:
    texts = page_data(client.get("/browser").text)["texts"]
    assert texts == BROWSER_TEXTS
    assert set(BROWSER_TEXTS[ENGLISH]) == set(BROWSER_TEXTS[KOREAN])
    for english, korean in zip(
        BROWSER_TEXTS[ENGLISH].values(), BROWSER_TEXTS[KOREAN].values(), strict=True
    ):
        assert set(re.findall(r"\{\w+\}", english)) == set(re.findall(r"\{\w+\}", korean))


def test_every_module_the_page_imports_is_served(client: TestClient) -> None:
    """The page's scripts import each other and the npm libraries by relative address: each one
    is on the list of files served (web/node_modules installed: `make web`)."""
    imported = re.compile(r"""^\s*import\b[^"']*["']([^"']+)["']""", re.M)
    for script in browser_page.PAGE_FILES:
        if not script.endswith(".js"):
            continue
        source = (browser_page.SOURCE_DIR / script).read_text()
        for address in imported.findall(source):
            path = f"/browser/src/{address}".replace("/src/../", "/").replace("/src/./", "/src/")
            response = client.get(path)
            assert response.status_code == 200, (script, address)
            assert response.headers["content-type"].startswith("text/javascript"), path


def test_the_page_has_the_chats_colours() -> None:
    """page.css copies the chat's theme (public/theme.json), light and dark, value for value."""
    css = (browser_page.SOURCE_DIR / "page.css").read_text()
    theme = json.loads((REPO / "public" / "theme.json").read_text())["variables"]
    for name, selector in (
        ("light", r':root\[data-theme="light"\]'),
        ("dark", r':root\[data-theme="dark"\]'),
    ):
        block = re.search(selector + r"\s*\{(.*?)\}", css, re.S)
        assert block is not None, name
        colours = dict(re.findall(r"(--[\w-]+):\s*([^;]+);", block.group(1)))
        assert colours, name
        assert colours == {key: theme[name][key] for key in colours}, name


def test_every_route_of_the_page_is_cross_origin_isolated(client: TestClient) -> None:
    for path in ("/browser", "/browser/src/page.js", "/browser/config.json", "/browser/x"):
        headers = client.get(path, follow_redirects=False).headers
        for name, value in ISOLATION_HEADERS.items():
            assert headers[name] == value, (path, name)


def test_scripts_are_javascript_and_revalidated_with_an_etag(client: TestClient) -> None:
    response = client.get("/browser/src/worker.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    again = client.get(
        "/browser/src/worker.js", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/browser/src/index.html",  # the template, not a served file
        "/browser/src/..%2F..%2Fpyproject.toml",
        "/browser/lib/..%2Fpackage.json",
        "/browser/lib/ort.all.min.mjs",  # in node_modules, but not on the list
        "/browser/model/int8/../../../build.json",
        "/browser/model/genai_config.json",
        "/browser/digits/held_out.json",
    ],
)
def test_only_listed_files_are_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_library_list_names_files_of_the_pinned_packages() -> None:
    lock = json.loads((browser_page.WEB_DIR / "package-lock.json").read_text())
    versions = {
        name.removeprefix("node_modules/"): entry["version"]
        for name, entry in lock["packages"].items()
        if name.startswith("node_modules/")
    }
    assert versions["onnxruntime-web"] == "1.30.0"
    for path in LIBRARIES.values():
        package = "/".join(path.split("/")[:2]) if path.startswith("@") else path.split("/")[0]
        assert package in versions, path


def test_mounting_twice_adds_the_routes_once(tmp_path: Path) -> None:
    app = Starlette()
    settings = Settings.from_env({"MODEL_CACHE_DIR": str(tmp_path)})
    mount_browser_page(app, settings)
    count = len(app.router.routes)
    mount_browser_page(app, settings)  # `chainlit run -w` imports app.py again
    assert len(app.router.routes) == count


def test_make_web_without_npm_leaves_the_chat_runnable(tmp_path: Path) -> None:
    """`make run` depends on `make web`: on a machine without npm it says what to install and
    succeeds, so the chat still starts (and /browser explains the same)."""
    make = shutil.which("make")
    assert make is not None
    result = subprocess.run(
        [make, "--no-print-directory", "-C", str(REPO), "web"],
        env={"PATH": str(tmp_path)},  # no npm on it
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "npm not found" in result.stdout and "Node.js" in result.stdout
