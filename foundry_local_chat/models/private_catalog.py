"""A model catalog on loopback that names the bundled model, so Foundry Local will serve it.

Foundry Local's web service only serves models that some catalog lists; a model merely registered
in the LOCAL catalog loads in-process but is never served over HTTP. The runtime fetches every
catalog URL with `POST …/asset-gallery/v1.0/models`; this server answers with one summary.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CATALOG_PATH = "/asset-gallery/v1.0/models"


@dataclass(frozen=True)
class CatalogEntry:
    publisher: str
    name: str
    version: str
    alias: str
    display_name: str
    file_size_bytes: int

    @property
    def model_id(self) -> str:
        return f"{self.name}:{self.version}"

    def summary(self) -> dict[str, object]:
        return {
            "assetId": f"azureml://registries/{self.publisher}/models/{self.name}/versions/{self.version}",
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "publisher": self.publisher,
            "displayName": self.display_name,
            "inferenceTasks": ["chat-completion"],
            "variantInformation": {
                "variantMetadata": {
                    "modelType": "ONNX",
                    "device": "cpu",
                    "executionProvider": "CPUExecutionProvider",
                    "fileSizeBytes": self.file_size_bytes,
                }
            },
        }


class PrivateCatalog:
    """Serves the entries on http://127.0.0.1:<port> from a daemon thread."""

    def __init__(self, entries: list[CatalogEntry], host: str = "127.0.0.1", port: int = 0) -> None:
        body = json.dumps(
            {"continuationToken": "", "summaries": [entry.summary() for entry in entries]}
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if self.path.split("?")[0].rstrip("/") != CATALOG_PATH:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # the runtime polls this; its requests are not worth a log line each

        self._host = host
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="private-catalog", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._server.server_port}{CATALOG_PATH}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
