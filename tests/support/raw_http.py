"""HTTP/1.1 over a plain socket: the request target goes out byte for byte, so no client library
normalizes a path (`%2e%2e`, `..%2F`, backslashes) before the server sees it."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RawReply:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def raw_request(
    base_url: str,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 30,
) -> RawReply:
    """Send `method target HTTP/1.1` to base_url's host and port; the whole reply.

    The connection is closed after the reply (`Connection: close`), so reading to the end of the
    stream reads exactly one reply. `timeout` bounds the whole exchange."""
    address = urlsplit(base_url)
    assert address.hostname and address.port
    return await asyncio.wait_for(
        _exchange(address.hostname, address.port, method, target, headers or {}, body), timeout
    )


async def _exchange(
    host: str, port: int, method: str, target: str, headers: dict[str, str], body: bytes
) -> RawReply:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        reply = await reader.read()
    finally:
        writer.close()
    head, _, content = reply.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding") == "chunked":
        content = _unchunked(content)
    return RawReply(int(status_line.split()[1]), parsed, content)


def _unchunked(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out
