"""Hostile files through the real app (`chainlit run`, sign-in on, the bundled model behind the
recording proxy), uploaded through /project/file as the attach button does: files are read in
worker processes of the app, killed at their limits, and nobody else waits for them.

- While one user's eight PDFs of 40 slow pages each are taken in (two read at once, five waiting
  for a place, the eighth refused: seven per user), another user signs in and gets an answer;
  none of her files has been read when that answer arrives. Her stop buttons end the reading
  processes.
- A PDF of 32 compressed streams (2.2 GB once decompressed; 2.3 MB of file) is refused by the
  cap on decompressed bytes per file, and the app's own memory does not grow by it; a PDF that
  is slow to read is refused at the time limit (the line in Korean for a Korean browser).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundry_local_chat.documents.reader import MODULE
from foundry_local_chat.ui.texts import ENGLISH, KOREAN, WORDS
from tests.support.apps import PASSWORD, launch_chainlit
from tests.support.chainlit_client import ChainlitApi, ChainlitSession, Reply
from tests.support.pdf_maker import operator_flood_pdf, stream_bomb_pdf
from tests.support.processes import RunningProcess, add_user
from tests.support.recording_proxy import RecordingProxy

pytestmark = pytest.mark.e2e
SAID, KO = WORDS[ENGLISH], WORDS[KOREAN]
MB = 1024**2


@pytest.fixture
def apps(bundled_model_dir: Path) -> Iterator[list[RunningProcess]]:
    running: list[RunningProcess] = []
    yield running
    for process in running:
        process.stop()


def start_app(
    apps: list[RunningProcess], proxy: RecordingProxy, tmp_path: Path, **settings: str
) -> str:
    users = tmp_path / "users"
    for name in ("alice", "bob"):
        add_user(users, name, PASSWORD)
    return launch_chainlit(
        tmp_path, apps, FOUNDRY_LOCAL="0", BASE_URL=proxy.url, USERS_FILE=str(users),
        LOOP_GUARD="0", MAX_TOKENS="16", **settings,
    )  # fmt: skip


def reading_processes(app: RunningProcess) -> list[int]:
    """The app's worker processes that read files (its children running document_reader)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # it ended meanwhile
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == app.process.pid and MODULE.encode() in command:
            found.append(int(entry.name))
    return found


async def ended(pid: int) -> None:
    """Until the process `pid` has ended (a pidfd becomes readable then): no polling."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(descriptor, done.set)
    try:
        await done.wait()
    finally:
        loop.remove_reader(descriptor)
        os.close(descriptor)


def memory_kb(app: RunningProcess, field: str) -> int:
    status = Path(f"/proc/{app.process.pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match[1])


def notices(reply: Reply) -> list[str]:
    deleted = {m["id"] for m in reply.of("delete_message")}
    return [
        m["output"] for m in reply.of("new_message")
        if m.get("name") == "Foundry Local Chat" and m["id"] not in deleted
    ]  # fmt: skip


async def test_others_sign_in_and_get_answers_while_a_users_slow_files_are_read(
    apps: list[RunningProcess], proxy: RecordingProxy, tmp_path: Path
) -> None:
    # Two files read at once over all users (60 s each at most); seven at once for one user.
    url = start_app(apps, proxy, tmp_path, DOCUMENT_READERS="2", DOCUMENT_READERS_PER_USER="7")
    [app] = apps
    alice = ChainlitApi(url)
    await alice.sign_in("alice", PASSWORD)
    assert alice.token
    slow = operator_flood_pdf(1, pages=40)  # 7 KB; a minute of CPU or more for pypdf

    async with contextlib.AsyncExitStack() as chats:
        # Eight of her files, each in a chat of its own: seven are taken (two read, five wait
        # for a place), the eighth is refused at once.
        reading: list[tuple[ChainlitSession, int]] = []
        for number in range(8):
            chat = await chats.enter_async_context(ChainlitSession(url, alice.token))
            assert await chat.ready() is None
            file = await chat.upload(f"slow{number}.pdf", slow, "application/pdf")
            if number == 7:
                assert notices(await chat.ask("", files=(file,))) == [
                    SAID.document_busy_user.format(file="slow7.pdf", limit=7)
                ]
                break
            await chat.send("", [file])
            await chat.wait_for("new_message", lambda m: m["output"].startswith("Reading"))
            reading.append((chat, len(chat.history)))

        # Bob signs in and is answered while her files are still being read.
        bob = ChainlitApi(url)
        await bob.sign_in("bob", PASSWORD)
        async with ChainlitSession(url, bob.token) as bobs:
            assert await bobs.ready() is None
            answer = await bobs.ask("What is the capital of France?")
            assert answer.answer()["output"].strip()
        workers = await asyncio.to_thread(reading_processes, app)
        assert len(workers) == 2
        for chat, seen in reading:
            assert "task_end" not in [event for event, _ in chat.history[seen:]], "read already"

        # Her stop buttons end the readings (and the waits), and their processes with them.
        for chat, _ in reading:
            await chat.stop()
        await asyncio.wait_for(asyncio.gather(*map(ended, workers)), 30)
        assert await asyncio.to_thread(reading_processes, app) == []


async def test_a_decompression_bomb_and_a_slow_pdf_are_refused_at_their_limits(
    apps: list[RunningProcess], proxy: RecordingProxy, tmp_path: Path
) -> None:
    url = start_app(
        apps, proxy, tmp_path, DOCUMENT_READ_SECONDS="8", DOCUMENT_MAX_DECOMPRESSED_MB="100"
    )
    [app] = apps
    alice = ChainlitApi(url)
    await alice.sign_in("alice", PASSWORD)
    bomb = stream_bomb_pdf(32, 70)
    assert len(bomb) < 3 * MB

    async with ChainlitSession(url, alice.token) as chat:
        assert await chat.ready() is None
        before = memory_kb(app, "VmRSS")
        file = await chat.upload("bomb.pdf", bomb, "application/pdf")
        assert notices(await chat.ask("", files=(file,))) == [
            SAID.document_too_much_data.format(file="bomb.pdf", limit="100")
        ]
        # The peak of the app's own memory, since it started: not the 2.2 GB the file unpacks to
        # (reading it in the app grew it by 2.3 GB).
        assert memory_kb(app, "VmHWM") - before < 300 * 1024

    async with ChainlitSession(url, alice.token, language="ko-KR") as chat:
        assert await chat.ready() is None
        file = await chat.upload("slow.pdf", operator_flood_pdf(1, pages=40), "application/pdf")
        assert notices(await chat.ask("", files=(file,))) == [
            KO.document_too_slow.format(file="slow.pdf", limit="8")
        ]
    assert await asyncio.to_thread(reading_processes, app) == []
