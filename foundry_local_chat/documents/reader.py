"""Reading an uploaded file, bounded: each file is read (documents.extract) and split
(chunking.chunk) in a process of its own, started for it and killed at its limits, so that no
file can cost the chat server's own process time, memory or a thread.

The limits (DocumentLimits; each refusal says which one in the chat):
- time: the parent kills the process after `read_seconds` of wall clock; RLIMIT_CPU stops it
  after as many seconds of CPU;
- memory: RLIMIT_AS, the whole address space of the reading process;
- decompressed bytes: all of one PDF's streams together (pypdf's own caps are per stream);
- text: a file's text may be no longer than the upload size limit in characters (what comes
  back to the server is bounded by it);
- places: `readers` files are read at once over all users (more wait up to `read_seconds` for
  a place), and `readers_per_user` per user (more are refused at once).

The process runs at a lower CPU priority (nice) than the server, may not write files nor open
more than a few, gets none of the server's environment (its keys), and is killed when the
chat's task is cancelled (the stop button, a browser that left). What it sends
back is JSON on its stdout, never pickle: its input is hostile.

The process is `python -m foundry_local_chat.documents.reader`; it gets its request as JSON on
stdin. Starting one costs 0.2-0.4 s per file (bench/bench_document_reader.py, docs/benchmarks).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pypdf.filters

from foundry_local_chat.config import DocumentLimits
from foundry_local_chat.documents.chunking import Chunk, chunk
from foundry_local_chat.documents.extract import (
    DocumentRefused,
    ExtractedDocument,
    Kind,
    Problem,
    extract,
)
from foundry_local_chat.errors import one_line

log = logging.getLogger(__name__)
MODULE = "foundry_local_chat.documents.reader"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the package
NICENESS = 10  # the server (niceness 0) gets about nine tenths of a core the readers compete for
CPU_GRACE_SECONDS = 2  # SIGXCPU at the limit, SIGKILL this much later
JSON_BYTES_PER_CHAR = 12  # at most, as json.dumps writes a character (two \\uXXXX)
MEMORY_EXIT = 3  # the process ran out of memory and could not say so on stdout
# None of the server's environment (API keys, DATABASE_URL, the session secret): a file that
# took over its reader would find nothing there.
WORKER_ENVIRONMENT = {"LC_ALL": "C.UTF-8"}


def _mb(limit: float) -> str:
    return f"{limit:g}"


class DocumentReader:
    """Reads files in worker processes, within the limits; one per chat server."""

    def __init__(self, limits: DocumentLimits, wait_seconds: float | None = None) -> None:
        self.limits = limits
        # How long a file may wait for a place before it is refused (default: read_seconds).
        self.wait_seconds = limits.read_seconds if wait_seconds is None else wait_seconds
        self.processes: set[int] = set()  # ids of the reading processes running now
        self._changed = asyncio.Condition()  # a process started or ended
        self._places = asyncio.Semaphore(limits.readers)
        self._reading: Counter[str] = Counter()  # files being read (or waiting), by user
        # JSON of a long document takes a moment to parse: not on the event loop, and not in
        # asyncio's default pool (sign-in's password checks and token counting run there).
        self._parser = ThreadPoolExecutor(1, thread_name_prefix="document-reader")

    @property
    def reading(self) -> int:
        """Files being read or waiting for a place, over all users."""
        return sum(self._reading.values())

    async def wait_for_processes(self, count: int) -> None:
        """Until exactly `count` reading processes run (for tests and benchmarks)."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.processes) == count)

    async def _note(self, started: int | None = None, ended: int | None = None) -> None:
        async with self._changed:
            if started is not None:
                self.processes.add(started)
            if ended is not None:
                self.processes.discard(ended)
            self._changed.notify_all()

    async def read(
        self, user: str, name: str, path: Path | None
    ) -> tuple[ExtractedDocument, list[Chunk]]:
        """The document's text and passages; raises DocumentRefused (a limit's, or the file's
        own problem). `user` is whom the per-user limit counts."""
        if path is None:
            raise DocumentRefused(name, Problem.UNREADABLE, "the upload was not saved")
        if self._reading[user] >= self.limits.readers_per_user:
            raise DocumentRefused(name, Problem.BUSY_USER, str(self.limits.readers_per_user))
        self._reading[user] += 1
        try:
            try:
                async with asyncio.timeout(self.wait_seconds):
                    await self._places.acquire()
            except TimeoutError:
                raise DocumentRefused(name, Problem.BUSY) from None
            try:
                return await self._read_in_process(name, path)
            finally:
                self._places.release()
        finally:
            self._reading[user] -= 1
            if not self._reading[user]:
                del self._reading[user]

    async def _read_in_process(
        self, name: str, path: Path
    ) -> tuple[ExtractedDocument, list[Chunk]]:
        limits = self.limits
        request = json.dumps({
            "name": name, "path": str(path), "max_bytes": limits.max_bytes,
            "max_mb": limits.max_mb, "max_decompressed_bytes": limits.max_decompressed_bytes,
            "max_decompressed_mb": limits.max_decompressed_mb,
            "memory_bytes": limits.read_memory_mb * 1024**2,
            "cpu_seconds": max(1, int(limits.read_seconds + 0.999)),
        }).encode()  # fmt: skip
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-E", "-s", "-m", MODULE,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL, cwd=PACKAGE_ROOT, env=WORKER_ENVIRONMENT,
            )  # fmt: skip
        except OSError as error:  # no process to be had (too many, no memory)
            log.error("cannot start a process to read %s: %s", name, error)
            raise DocumentRefused(name, Problem.BUSY) from error
        await self._note(started=process.pid)
        try:
            async with asyncio.timeout(limits.read_seconds):
                output = await _bounded_output(process, request, _output_limit(limits))
                returncode = await process.wait()
        except TimeoutError:
            raise DocumentRefused(name, Problem.TOO_SLOW, _mb(limits.read_seconds)) from None
        except OutputTooLong:
            raise DocumentRefused(name, Problem.TOO_MUCH_DATA, _mb(limits.max_mb)) from None
        finally:  # also when the chat's task is cancelled: the reading stops with it
            if process.returncode is None:
                process.kill()
                await process.wait()
            await self._note(ended=process.pid)
        if returncode in (-signal.SIGXCPU, -signal.SIGKILL):  # RLIMIT_CPU's soft, hard limit
            raise DocumentRefused(name, Problem.TOO_SLOW, _mb(limits.read_seconds))
        if returncode == MEMORY_EXIT:
            raise DocumentRefused(name, Problem.TOO_MUCH_MEMORY, str(limits.read_memory_mb))
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(self._parser, json.loads, output)
        except ValueError:
            answer = None
        if returncode != 0 or not isinstance(answer, dict):
            detail = f"the reader stopped with exit status {returncode}"
            raise DocumentRefused(name, Problem.UNREADABLE, detail)
        try:
            return _result(name, answer)
        except DocumentRefused:  # (a ValueError too)
            raise
        except (KeyError, TypeError, ValueError) as error:  # not what a reader answers
            raise DocumentRefused(name, Problem.UNREADABLE, "the reader's answer") from error


class OutputTooLong(Exception):
    pass


def _output_limit(limits: DocumentLimits) -> int:
    return limits.max_bytes * JSON_BYTES_PER_CHAR + 64 * 1024


async def _bounded_output(process: asyncio.subprocess.Process, request: bytes, limit: int) -> bytes:
    """What the process writes to stdout, until it closes it; OutputTooLong past `limit`."""
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(request)
        await process.stdin.drain()
        process.stdin.close()
    except (BrokenPipeError, ConnectionResetError):  # it died before reading: its exit says why
        pass
    parts, size = [], 0
    while part := await process.stdout.read(1024**2):
        size += len(part)
        if size > limit:
            raise OutputTooLong
        parts.append(part)
    return b"".join(parts)


def _result(name: str, answer: dict[str, Any]) -> tuple[ExtractedDocument, list[Chunk]]:
    if "refused" in answer:
        raise DocumentRefused(name, Problem(answer["refused"]), str(answer.get("detail", "")))
    chunks = [
        Chunk(int(position), str(text), _number(page), None if section is None else str(section))
        for position, text, page, section in answer["chunks"]
    ]
    document = ExtractedDocument(
        name, Kind(answer["kind"]), (), _number(answer["pages"]), text_chars=int(answer["chars"])
    )
    return document, chunks


def _number(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


# ----- the reading process -----


class DecompressionCapReached(Exception):
    pass


class DecompressionCap:
    """Counts every stream pypdf decodes, together; once over `limit` bytes, each decode raises
    (and `reached` stays True, whatever pypdf made of the exception)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.reached = False

    @contextmanager
    def counting(self) -> Iterator[None]:
        decode: Callable[[Any], bytes] = pypdf.filters.decode_stream_data

        def counted(stream: Any) -> bytes:
            if self.reached:
                raise DecompressionCapReached(self.total)
            data = decode(stream)
            self.total += len(data)
            if self.total > self.limit:
                self.reached = True
                raise DecompressionCapReached(self.total)
            return data

        # pypdf imports it from its module where it decodes, at that time.
        setattr(pypdf.filters, "decode_stream_data", counted)  # noqa: B010  # typed otherwise
        try:
            yield
        finally:
            setattr(pypdf.filters, "decode_stream_data", decode)  # noqa: B010


def _limit_this_process(memory_bytes: int, cpu_seconds: int) -> None:
    import resource  # POSIX only, and only the reading process needs it

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + CPU_GRACE_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # writes no file
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))  # stdio and the file; no sockets to spare
    os.nice(NICENESS)


def read_request(request: dict[str, Any]) -> dict[str, Any]:
    """The reading itself: what the process answers (the passages, or why not)."""
    name, path = str(request["name"]), Path(request["path"])
    try:
        if path.stat().st_size > request["max_bytes"]:
            raise DocumentRefused(name, Problem.TOO_LARGE, _mb(request["max_mb"]))
        data = path.read_bytes()
    except OSError as error:
        return {"refused": Problem.UNREADABLE.value, "detail": one_line(error)}
    except DocumentRefused as refused:
        return {"refused": refused.problem.value, "detail": refused.detail}
    cap = DecompressionCap(request["max_decompressed_bytes"])
    too_much_data = {"refused": Problem.TOO_MUCH_DATA.value,
                     "detail": _mb(request["max_decompressed_mb"])}  # fmt: skip
    try:
        with cap.counting():
            document = extract(name, data)
    except DocumentRefused as refused:  # extract reports pypdf's errors, ours among them
        if cap.reached:
            return too_much_data
        if isinstance(refused.__cause__, MemoryError):
            raise refused.__cause__ from None
        return {"refused": refused.problem.value, "detail": refused.detail}
    except DecompressionCapReached:
        return too_much_data
    if cap.reached:
        return too_much_data
    del data
    if document.chars > request["max_bytes"]:  # the text may be no longer than the file limit
        return {"refused": Problem.TOO_MUCH_DATA.value, "detail": _mb(request["max_mb"])}
    chunks = chunk(document)
    return {
        "kind": document.kind.value, "pages": document.pages, "chars": document.chars,
        "chunks": [[c.position, c.text, c.page, c.section] for c in chunks],
    }  # fmt: skip


def main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    _limit_this_process(request["memory_bytes"], request["cpu_seconds"])
    try:
        answer = read_request(request)
    except MemoryError:
        answer = {"refused": Problem.TOO_MUCH_MEMORY.value,
                  "detail": str(request["memory_bytes"] // 1024**2)}  # fmt: skip
    try:
        sys.stdout.buffer.write(json.dumps(answer).encode())
        sys.stdout.buffer.flush()
    except MemoryError:
        os._exit(MEMORY_EXIT)


if __name__ == "__main__":
    main()
