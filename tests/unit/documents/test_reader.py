"""Reading files in worker processes (document_reader), with real processes and hostile PDFs:
what comes back is what reading in place gives (property-based); each limit refuses a file with
its own reason; a cancelled read leaves no process behind; the per-user limit refuses at once
and the overall one makes others wait (then refuses). Each refusal has its line in both of the
chat's languages."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_local_chat.config import DocumentLimits
from foundry_local_chat.documents.chunking import chunk
from foundry_local_chat.documents.extract import DocumentRefused, Problem, extract
from foundry_local_chat.documents.reader import MODULE, DocumentReader
from foundry_local_chat.ui.chat_view import why_refused
from foundry_local_chat.ui.texts import WORDS
from tests.support.pdf_maker import operator_flood_pdf, stream_bomb_pdf, text_pdf


def saved(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


async def refusal(reader: DocumentReader, name: str, path: Path, user: str = "u") -> Problem:
    with pytest.raises(DocumentRefused) as refused:
        await reader.read(user, name, path)
    return refused.value.problem


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    suffix=st.sampled_from([".txt", ".md", ".html", ".pdf", ".png"]),
    text=st.text(max_size=3000),
    raw=st.binary(max_size=64),
)
def test_a_file_read_in_its_own_process_gives_what_reading_it_in_place_gives(
    tmp_path: Path, suffix: str, text: str, raw: bytes
) -> None:
    data = raw + text.encode("utf-8", "surrogatepass")
    name = f"upload{suffix}"
    path = saved(tmp_path, name, data)
    try:
        document = extract(name, data)
        expected: object = (document.kind, document.pages, document.chars, chunk(document))
    except DocumentRefused as refused:
        expected = (refused.problem, refused.detail)
    try:
        read, chunks = asyncio.run(DocumentReader(DocumentLimits()).read("u", name, path))
        got: object = (read.kind, read.pages, read.chars, chunks)
    except DocumentRefused as refused:
        got = (refused.problem, refused.detail)
    assert got == expected


async def test_a_pdf_comes_back_as_its_passages_with_their_pages(tmp_path: Path) -> None:
    path = saved(tmp_path, "r.pdf", text_pdf([["first page"], ["second page"]]))
    document, chunks = await DocumentReader(DocumentLimits()).read("u", "r.pdf", path)
    assert (document.pages, [(c.page, c.text) for c in chunks]) == (
        2, [(1, "first page"), (2, "second page")])  # fmt: skip


@pytest.mark.parametrize(
    ("limits", "data", "problem"),
    [
        # 40 pages of text operators: minutes of pypdf's time.
        (DocumentLimits(read_seconds=1), operator_flood_pdf(1, pages=40), Problem.TOO_SLOW),
        # 32 streams of 70 MB each (2.3 MB of file): 2.2 GB, under pypdf's per-stream cap.
        (DocumentLimits(), stream_bomb_pdf(32, 70), Problem.TOO_MUCH_DATA),
        # The same with no cap on decompression: the process runs out of its memory.
        (
            DocumentLimits(max_decompressed_mb=60000, read_memory_mb=400),
            stream_bomb_pdf(32, 70),
            Problem.TOO_MUCH_MEMORY,
        ),
        (DocumentLimits(max_mb=0.001), b"x" * 2000, Problem.TOO_LARGE),
        # Text longer than a file may be: 1 KB of upload whose text is 15,000 characters.
        (DocumentLimits(max_mb=0.01), operator_flood_pdf(0.2), Problem.TOO_MUCH_DATA),
    ],
    ids=["time", "decompressed", "memory", "size", "text"],
)
async def test_each_limit_refuses_the_file_with_its_own_reason(
    tmp_path: Path, limits: DocumentLimits, data: bytes, problem: Problem
) -> None:
    name = "f.pdf" if data.startswith(b"%PDF") else "f.txt"
    reader = DocumentReader(limits)
    assert await refusal(reader, name, saved(tmp_path, name, data)) == problem
    assert not reader.processes and not reader.reading


async def test_a_cancelled_read_leaves_no_process_behind(tmp_path: Path) -> None:
    reader = DocumentReader(DocumentLimits(read_seconds=600))
    path = saved(tmp_path, "slow.pdf", operator_flood_pdf(1, pages=40))
    reading = asyncio.create_task(reader.read("u", "slow.pdf", path))
    await reader.wait_for_processes(1)
    [pid] = reader.processes
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert not reader.processes
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_one_user_reads_one_file_at_a_time_and_others_wait_for_a_place(
    tmp_path: Path,
) -> None:
    reader = DocumentReader(DocumentLimits(read_seconds=600, readers=1, readers_per_user=1))
    slow = saved(tmp_path, "slow.pdf", operator_flood_pdf(1, pages=40))
    small = saved(tmp_path, "small.txt", b"a small file")
    alice = asyncio.create_task(reader.read("alice", "slow.pdf", slow))
    await reader.wait_for_processes(1)
    # Alice's second file is refused at once; Bob's waits for the one place, and is read once
    # Alice's reading ends (here: her chat's stop button).
    assert await refusal(reader, "small.txt", small, "alice") == Problem.BUSY_USER
    bob = asyncio.create_task(reader.read("bob", "small.txt", small))
    alice.cancel()
    document, _ = await bob
    assert document.chars == len("a small file")

    impatient = DocumentReader(DocumentLimits(read_seconds=600, readers=1), wait_seconds=0.1)
    alice = asyncio.create_task(impatient.read("alice", "slow.pdf", slow))
    await impatient.wait_for_processes(1)
    assert await refusal(impatient, "small.txt", small, "bob") == Problem.BUSY
    alice.cancel()


@pytest.mark.parametrize("language", sorted(WORDS))
def test_each_refusal_has_its_own_line_in_each_language(language: str) -> None:
    lines = {
        why_refused(DocumentRefused("f.pdf", problem, "7"), WORDS[language]) for problem in Problem
    }
    assert len(lines) == len(Problem) and all("f.pdf" in line for line in lines)


def test_the_cpu_limit_kills_a_reader_whatever_the_wall_clock(tmp_path: Path) -> None:
    """The reading process on its own (no parent to kill it on time): RLIMIT_CPU stops it."""
    path = saved(tmp_path, "slow.pdf", operator_flood_pdf(1, pages=40))
    limits = DocumentLimits()
    request = {
        "name": "slow.pdf", "path": str(path), "max_bytes": limits.max_bytes, "max_mb": 20,
        "max_decompressed_bytes": limits.max_decompressed_bytes, "max_decompressed_mb": 256,
        "memory_bytes": limits.read_memory_mb * 1024**2, "cpu_seconds": 1,
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", MODULE], input=json.dumps(request).encode(),
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode in (-signal.SIGXCPU, -signal.SIGKILL) and done.stdout == b""
