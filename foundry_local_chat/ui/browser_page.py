"""The /browser page: the bundled model answers inside the visitor's browser tab.

Routes on Chainlit's own server (so the origin guard stays in front of them), placed before its
catch-all page route. Everything the page loads comes from this server: the page's own scripts
(web/src), onnxruntime-web, the tokenizer/template libraries and the Markdown renderer and
sanitizer that `make web` installs from npm (web/node_modules, an explicit list of files), and the
model files the build made. Only these routes send the cross-origin isolation headers
(COOP/COEP/CORP, which give the page's worker threads); the chat UI is left as it was. Files are
revalidated with ETag/Last-Modified, and the page keeps the model in Cache Storage, so a second
visit downloads nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from foundry_local_chat.config import BUNDLED_MODEL_ALIAS, Settings
from foundry_local_chat.models import browser as browser_model
from foundry_local_chat.models.facts import loop_guard_on
from foundry_local_chat.ui.texts import BROWSER_TEXTS

PAGE_PATH = "/browser"
WEB_DIR = Path(__file__).resolve().parents[2] / "web"
SOURCE_DIR = WEB_DIR / "src"
NODE_MODULES = WEB_DIR / "node_modules"
# The only files of node_modules the page may load (served flat under /browser/lib/).
LIBRARIES = {
    # WASM: the plain build (the WebGPU-only build lacks the CPU GatherBlockQuantized kernel).
    "ort.wasm.min.mjs": "onnxruntime-web/dist/ort.wasm.min.mjs",
    "ort-wasm-simd-threaded.mjs": "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
    "ort-wasm-simd-threaded.wasm": "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
    # WebGPU (JSEP): runs the int4 model's GPU kernels and its CPU embedding in one build.
    "ort.min.mjs": "onnxruntime-web/dist/ort.min.mjs",
    "ort-wasm-simd-threaded.jsep.mjs": "onnxruntime-web/dist/ort-wasm-simd-threaded.jsep.mjs",
    "ort-wasm-simd-threaded.jsep.wasm": "onnxruntime-web/dist/ort-wasm-simd-threaded.jsep.wasm",
    "tokenizers.min.mjs": "@huggingface/tokenizers/dist/tokenizers.min.mjs",
    "jinja.mjs": "@huggingface/jinja/dist/index.js",
    # The answer as Markdown, sanitized (web/src/markdown.js).
    "marked.esm.js": "marked/lib/marked.esm.js",
    "purify.min.js": "dompurify/dist/purify.min.js",
}
PAGE_FILES = ("page.js", "worker.js", "page.css", "theme.js", "markdown.js", "loop_guard.js")
MEDIA_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".wasm": "application/wasm",
    ".css": "text/css",
    ".json": "application/json",
}
# Only this page's responses: the chat UI must keep working with cross-origin images and embeds.
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Revalidate every time (a rebuilt model or `npm ci` changes the file): an unchanged file costs
# a 304. The page also keeps the model files in Cache Storage under their version.
REVALIDATE = "no-cache"


class MissingPart(Enum):
    LIBRARIES = "libraries"  # Node.js/npm or `make web` missing
    BROWSER_MODEL = "browser_model"  # `make model` not run since the browser build existed


@dataclass(frozen=True)
class ModelFile:
    url: str  # relative to the page
    path: Path

    def describe(self) -> dict[str, Any]:
        """Its address, size, and version (the page's cache key: a rebuilt file is new)."""
        return {"url": self.url, "bytes": self.path.stat().st_size, "version": _version(self.path)}


def _version(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_mtime_ns:x}-{stat.st_size:x}"


def missing_parts(settings: Settings) -> list[MissingPart]:
    missing = []
    if not all((NODE_MODULES / path).is_file() for path in LIBRARIES.values()):
        missing.append(MissingPart.LIBRARIES)
    if not browser_model.is_built(settings.bundled_model_dir):
        missing.append(MissingPart.BROWSER_MODEL)
    return missing


def model_files(settings: Settings) -> dict[str, ModelFile]:
    """Served path (under /browser/) → file, for every model file the page may fetch."""
    int4 = settings.bundled_model_dir
    int8 = browser_model.browser_dir(int4) / browser_model.INT8_DIR
    digits = browser_model.browser_dir(int4) / browser_model.DIGITS_DIR
    files = {
        "model/int8/model.onnx": int8 / "model.onnx",
        "model/int8/model.onnx.data": int8 / "model.onnx.data",
        "model/int4/model.onnx": int4 / "model.onnx",
        "model/int4/model.onnx.data": int4 / "model.onnx.data",
        "model/tokenizer.json": int4 / "tokenizer.json",
        "model/tokenizer_config.json": int4 / "tokenizer_config.json",
        "digits/digits.onnx": digits / browser_model.DIGITS_MODEL,
    }
    return {url: ModelFile(url, path) for url, path in files.items()}


def page_config(settings: Settings) -> dict[str, Any]:
    """What the page's worker needs: which files, the chat template, the system prompt and the
    generation settings of the server chat."""
    model_dir = settings.bundled_model_dir
    files = model_files(settings)
    genai = json.loads((model_dir / "genai_config.json").read_text())
    tokenizer_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    template = tokenizer_config.get("chat_template")
    if not isinstance(template, str):
        template = (model_dir / "chat_template.jinja").read_text()
    eos = genai["model"]["eos_token_id"]

    def described(*urls: str) -> list[dict[str, Any]]:
        return [files[url].describe() for url in urls]

    return {
        "model": model_dir.name,
        "system_prompt": settings.system_prompt,
        "chat_template": template,
        "special_tokens": {
            key: tokenizer_config[key]
            for key in ("bos_token", "eos_token", "pad_token", "unk_token")
            if isinstance(tokenizer_config.get(key), str)
        },
        "eos_token_ids": eos if isinstance(eos, list) else [eos],
        "context_length": genai["model"]["context_length"],
        "layers": genai["model"]["decoder"]["num_hidden_layers"],
        "kv_heads": genai["model"]["decoder"]["num_key_value_heads"],
        "head_size": genai["model"]["decoder"]["head_size"],
        "repetition_penalty": genai["search"].get("repetition_penalty", 1.0),
        "max_tokens": settings.generation.max_tokens,
        "loop_guard": loop_guard_on(settings.loop_guard, BUNDLED_MODEL_ALIAS),
        "tokenizer": described("model/tokenizer.json", "model/tokenizer_config.json"),
        "variants": {
            "wasm": {
                "library": "ort.wasm.min.mjs",
                "files": described("model/int8/model.onnx", "model/int8/model.onnx.data"),
            },
            "webgpu": {
                "library": "ort.min.mjs",
                "files": described("model/int4/model.onnx", "model/int4/model.onnx.data"),
            },
        },
        "digits": described("digits/digits.onnx")[0],
    }


def _isolated(response: Response) -> Response:
    response.headers.update(ISOLATION_HEADERS)
    return response


def _file(request: Request, path: Path, compress: bool = True) -> Response:
    """A file with validators; a request that already has this version gets a 304.

    `compress=False` keeps Chainlit's gzip middleware off the file (it passes on a response that
    names its encoding): gzipping 150 MB of weights on every download costs the server's CPU
    and gains little."""
    etag = f'"{_version(path)}"'
    headers = {"ETag": etag, "Cache-Control": REVALIDATE}
    if not compress:
        headers["Content-Encoding"] = "identity"
    if etag in request.headers.get("if-none-match", ""):
        return _isolated(Response(status_code=304, headers=headers))
    media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return _isolated(FileResponse(path, media_type=media_type, headers=headers))


def _not_found(what: str) -> Response:
    return _isolated(JSONResponse({"detail": f"{what} not found"}, status_code=404))


def render_page(missing: list[MissingPart]) -> str:
    """The page's HTML: its skeleton, with its words (both languages: the page picks one, as
    the chat UI does, from the browser's language or ?lang=) and what is missing, if anything."""
    data = {"texts": BROWSER_TEXTS, "missing": [part.value for part in missing]}
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    return (SOURCE_DIR / "index.html").read_text().replace("__PAGE_DATA__", payload)


class BrowserPage:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def page(self, request: Request) -> Response:
        html = render_page(missing_parts(self.settings))
        return _isolated(HTMLResponse(html, headers={"Cache-Control": REVALIDATE}))

    async def to_page(self, request: Request) -> Response:
        return _isolated(RedirectResponse(PAGE_PATH, status_code=308))

    async def config(self, request: Request) -> Response:
        if missing_parts(self.settings):
            return _not_found("the browser model or its libraries")
        config = page_config(self.settings)
        return _isolated(JSONResponse(config, headers={"Cache-Control": "no-store"}))

    async def source(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in PAGE_FILES:
            return _not_found(name)
        return _file(request, SOURCE_DIR / name)

    async def library(self, request: Request) -> Response:
        name = request.path_params["name"]
        path = LIBRARIES.get(name)
        if path is None or not (NODE_MODULES / path).is_file():
            return _not_found(name)
        return _file(request, NODE_MODULES / path)

    async def model_file(self, request: Request) -> Response:
        model_file = model_files(self.settings).get(request.path_params["path"])
        if model_file is None or not model_file.path.is_file():
            return _not_found(request.path_params["path"])
        return _file(request, model_file.path, compress=model_file.path.suffix == ".json")

    def routes(self) -> list[BaseRoute]:
        inner = [
            Route("/", self.to_page),
            Route("/config.json", self.config),
            Route("/lib/{name}", self.library),
            Route("/{path:path}", self.model_file),
        ]
        return [
            Route(PAGE_PATH, self.page, name="browser_page"),
            Route(f"{PAGE_PATH}/src/{{name}}", self.source),
            Mount(PAGE_PATH, routes=inner),
        ]


def mount_browser_page(app: Starlette, settings: Settings) -> None:
    """Put the page's routes in front of Chainlit's catch-all route (which would answer every
    path with the chat UI). Once: `chainlit run -w` imports app.py again into a running server."""
    if any(getattr(route, "name", None) == "browser_page" for route in app.router.routes):
        return
    app.router.routes[0:0] = BrowserPage(settings).routes()
