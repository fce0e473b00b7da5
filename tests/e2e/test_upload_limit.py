"""Uploads over the size limit are refused before the chat server holds them, through the real
app (`chainlit run`, sign-in on, DOCUMENT_MAX_MB=1): a file within the limit is taken; a body
that claims 300 MB gets its 413 before it sends a byte more; a chunked body that keeps growing
gets its 413 once it passes the limit, and the server's memory does not grow by what it sent."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.apps import PASSWORD, launch_chainlit
from tests.support.chainlit_client import AUTH_COOKIE, ChainlitApi, ChainlitSession, HttpError
from tests.support.processes import RunningProcess, add_user
from tests.support.recording_proxy import RecordingProxy

MB = 1024**2
BOUNDARY = "upload-boundary"


def peak_memory_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert match
    return int(match[1])


async def post_growing_body(
    url: str, token: str, session_id: str, claimed: int | None, total: int
) -> tuple[int | None, int]:
    """POST /project/file with a multipart body of `total` bytes sent in 1 MB pieces (chunked
    when `claimed` is None, else with that Content-Length); stops sending once the server has
    answered or closed. Returns the status (None: the server reset the connection before its
    answer could be read, which a server closing on an unread body may) and the bytes sent."""
    address = urlsplit(url)
    assert address.hostname and address.port
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    head = [
        f"POST /project/file?session_id={session_id} HTTP/1.1",
        f"Host: {address.hostname}:{address.port}",
        f"Cookie: {AUTH_COOKIE}={token}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        "Connection: close",
        f"Content-Length: {claimed}" if claimed is not None else "Transfer-Encoding: chunked",
    ]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    sent = 0

    async def send_body() -> None:
        nonlocal sent
        part = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"'
            "\r\nContent-Type: text/plain\r\n\r\n"
        ).encode()
        piece = b"x" * MB
        while sent < total:
            data = part + piece if sent == 0 else piece
            writer.write(b"%x\r\n%s\r\n" % (len(data), data) if claimed is None else data)
            await writer.drain()
            sent += len(data)

    sending = asyncio.create_task(send_body())
    try:
        status_line: bytes | None = await asyncio.wait_for(reader.readline(), 120)
    except ConnectionResetError:
        status_line = None
    finally:
        sending.cancel()
        writer.close()
    with contextlib.suppress(asyncio.CancelledError, ConnectionError):
        await sending
    return (int(status_line.split()[1]) if status_line else None), sent


@pytest.fixture
def apps(bundled_model_dir: Path) -> Iterator[list[RunningProcess]]:
    running: list[RunningProcess] = []
    yield running
    for process in running:
        process.stop()


async def test_uploads_over_the_limit_are_refused_before_they_are_held(
    apps: list[RunningProcess], proxy: RecordingProxy, tmp_path: Path
) -> None:
    users = tmp_path / "users"
    add_user(users, "alice", PASSWORD)
    app_url = launch_chainlit(
        tmp_path, apps, FOUNDRY_LOCAL="0", BASE_URL=proxy.url, USERS_FILE=str(users),
        DOCUMENT_MAX_MB="1",
    )  # fmt: skip
    [app] = apps
    pid = app.process.pid
    alice = ChainlitApi(app_url)
    await alice.sign_in("alice", PASSWORD)
    assert alice.token
    async with ChainlitSession(app_url, alice.token) as chat:
        assert await chat.ready() is None
        assert await chat.upload("small.txt", b"x" * (MB // 2), "text/plain")
        with pytest.raises(HttpError) as refused:
            await chat.upload("over.txt", b"x" * (2 * MB), "text/plain")
        assert refused.value.status == 413
        before = peak_memory_kb(pid)

        # 300 MB claimed: refused at once, while the client has sent a few MB at most (the 413
        # may be lost to the reset of a connection closed with the body unread; the log says).
        app.skip_output_so_far()
        status, sent = await post_growing_body(
            app_url, alice.token, chat.session_id, 300 * MB, 300 * MB
        )
        assert status in {413, None} and sent < 300 * MB
        app.find_line(r"refused POST /project/file: its body declares 314572800 bytes", 10)
        # A chunked body that keeps growing: refused once past the limit (the 413 may be lost
        # to the reset of a connection closed with the rest of the body unread; the log says).
        app.skip_output_so_far()
        status, sent = await post_growing_body(
            app_url, alice.token, chat.session_id, None, 300 * MB
        )
        assert status in {413, None} and sent < 300 * MB
        app.find_line(r"refused POST /project/file: its body passed the limit", 10)
        # Neither body was held: the server's peak memory grew by far less than one of them.
        assert peak_memory_kb(pid) - before < 100 * 1024
