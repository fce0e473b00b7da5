"""A stand-in for where Foundry Local downloads catalog models from, on loopback.

Foundry Local 2.2.1 downloads a catalog model in three steps (read from its sdk_v2 source and
checked against the 2.2.1 runtime):

1. the catalog (`POST …/asset-gallery/v1.0/models`) names the model by an `azureml://` asset id;
2. the model registry, `GET https://<region>.api.azureml.ms/modelregistry/v1.0/registry/models/
   nonazureaccount?assetId=…`, answers `{"blobSasUri": <container URL>}`;
3. Azure Blob Storage: list the container (`?comp=list`), then for each file a HEAD and ranged
   GETs (`x-ms-range`, 206 with `Content-Range`).

The region is pasted into the registry URL as it is, so FOUNDRY_CATALOG_REGION=127.0.0.1:<port>/
sends step 2 here. Step 2 is HTTPS only: the registry uses a self-signed certificate, which the
app trusts through SSL_CERT_FILE. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from foundry_local_chat.models.private_catalog import CatalogEntry, PrivateCatalog

REGISTRY_PATH = "/.api.azureml.ms/modelregistry/v1.0/registry/models/nonazureaccount"
CONTAINER = "/models"
# Headers the Azure Storage SDK insists on in blob responses.
BLOB_HEADERS = {
    "x-ms-creation-time": "Mon, 01 Jan 2024 00:00:00 GMT",
    "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
    "x-ms-server-encrypted": "true",
    "x-ms-blob-type": "BlockBlob",
    "ETag": '"0x1"',
}


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with Debian's openssl."""
    cert, key = folder / "registry-cert.pem", folder / "registry-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _serve(handler: type[BaseHTTPRequestHandler], name: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


class ModelRegistry:
    """Serves one model's folder as a catalog model; records what the runtime asked for.

    `unavailable` entries are listed in the catalog too, but the registry does not know them (404),
    as for a model withdrawn after the catalog was read."""

    def __init__(
        self,
        entry: CatalogEntry,
        model_dir: Path,
        workdir: Path,
        unavailable: tuple[CatalogEntry, ...] = (),
    ) -> None:
        self.entry = entry
        files = sorted(path for path in model_dir.iterdir() if path.is_file())
        self.files = {path.name: path.read_bytes() for path in files}
        self.asset_ids: list[str] = []  # registry look-ups
        self.ranges: list[str] = []  # blob range requests
        self._held_after: int | None = None  # ranges served before the download stalls
        self._released = threading.Event()
        self.catalog = PrivateCatalog([entry, *unavailable])
        self.blobs = _serve(self._blob_handler(), "stand-in-blobs")
        self.certificate, key = self_signed_certificate(workdir)
        self.registry = _serve(self._registry_handler(), "stand-in-registry")
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(self.certificate, key)
        self.registry.socket = tls.wrap_socket(self.registry.socket, server_side=True)

    def hold_downloads_after(self, ranges: int) -> None:
        """Serve this many more ranges, then stall every download (a slow network) until
        release_downloads()."""
        self._released.clear()
        self._held_after = len(self.ranges) + ranges

    def release_downloads(self) -> None:
        self._held_after = None
        self._released.set()

    def _wait_if_held(self) -> None:
        if self._held_after is not None and len(self.ranges) > self._held_after:
            self._released.wait(timeout=300)

    def env(self) -> dict[str, str]:
        """The app's settings that make it take this model from here."""
        return {
            "FOUNDRY_CATALOG_URLS": self.catalog.url,
            "FOUNDRY_CATALOG_REGION": f"127.0.0.1:{self.registry.server_address[1]}/",
            "SSL_CERT_FILE": str(self.certificate),
        }

    def close(self) -> None:
        for server in (self.registry, self.blobs):
            server.shutdown()
            server.server_close()
        self.catalog.close()

    def _registry_handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                asset_id = parse_qs(url.query).get("assetId", [""])[0]
                registry.asset_ids.append(asset_id)
                if url.path != REGISTRY_PATH or asset_id != registry.entry.summary()["assetId"]:
                    self.send_error(404)
                    return
                port = registry.blobs.server_address[1]
                body = json.dumps(
                    {"blobSasUri": f"http://127.0.0.1:{port}{CONTAINER}?sig=stand-in"}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def _blob_handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the storage SDK keeps its connections open

            def _blob(self) -> bytes | None:
                path = urlsplit(self.path).path
                return registry.files.get(path.removeprefix(f"{CONTAINER}/"))

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                if "comp=list" in urlsplit(self.path).query:
                    blobs = "".join(
                        f"<Blob><Name>{name}</Name><Properties><Content-Length>{len(data)}"
                        "</Content-Length><BlobType>BlockBlob</BlobType></Properties></Blob>"
                        for name, data in registry.files.items()
                    )
                    listing = (
                        f'<?xml version="1.0" encoding="utf-8"?><EnumerationResults>'
                        f"<Blobs>{blobs}</Blobs><NextMarker/></EnumerationResults>"
                    )
                    self._reply(200, listing.encode(), {"Content-Type": "application/xml"})
                    return
                blob, wanted = self._blob(), self.headers.get("x-ms-range", "")
                if blob is None or not wanted.startswith("bytes="):
                    self._reply(404, b"", {})
                    return
                registry.ranges.append(wanted)
                registry._wait_if_held()
                first, last = (int(n) for n in wanted.removeprefix("bytes=").split("-"))
                last = min(last, len(blob) - 1)
                headers = {**BLOB_HEADERS, "Content-Type": "application/octet-stream",
                           "Content-Range": f"bytes {first}-{last}/{len(blob)}"}  # fmt: skip
                self._reply(206, blob[first : last + 1], headers)

            def do_HEAD(self) -> None:
                blob = self._blob()
                if blob is None:
                    self._reply(404, b"", {})
                    return
                self.send_response(200)
                for name, value in BLOB_HEADERS.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(blob)))
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
