"""Benchmark: what reading a file in a worker process of its own costs (document_reader), and
what hostile files cost the server now.

- per-file overhead: a small text file and a 20-page PDF read through DocumentReader (a new
  process each: interpreter, pypdf's import, the limits, JSON back) against documents.extract
  plus chunking.chunk in this process; median over rounds;
- hostile PDFs (tests/support/pdf_maker.py), with the default limits: 40 slow pages, 32
  compressed streams of 70 MB each, one 8 MB text layer of operators; how long until each is
  refused and why, and this process's peak memory (it never grows by what the workers use).

    .venv/bin/python -m bench.bench_document_reader [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.report import table, write_report
from foundry_local_chat.config import DocumentLimits
from foundry_local_chat.documents.chunking import chunk
from foundry_local_chat.documents.extract import DocumentRefused, extract
from foundry_local_chat.documents.reader import DocumentReader
from tests.support.pdf_maker import operator_flood_pdf, stream_bomb_pdf, text_pdf


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(rounds: int) -> None:
    reader = DocumentReader(DocumentLimits())
    rows = []
    with TemporaryDirectory() as folder:
        pages = [[f"Line {n} of page {p}." for n in range(40)] for p in range(20)]
        files = {"note.txt": b"A short note.\n\nTwo paragraphs.", "report.pdf": text_pdf(pages)}
        for name, data in files.items():
            path = Path(folder) / name
            path.write_bytes(data)
            here, there = [], []
            for _ in range(rounds):
                start = time.perf_counter()
                chunk(extract(name, data))
                here.append(time.perf_counter() - start)
                start = time.perf_counter()
                await reader.read("bench", name, path)
                there.append(time.perf_counter() - start)
            rows.append([name, f"{statistics.median(here) * 1000:.0f}",
                         f"{statistics.median(there) * 1000:.0f}"])  # fmt: skip
        overhead = table(["file", "in this process, ms", "in a worker process, ms"], rows)
        print(overhead)

        hostile = {
            "40 slow pages": operator_flood_pdf(1, pages=40),
            "32 streams of 70 MB": stream_bomb_pdf(32, 70),
            "8 MB of text operators": operator_flood_pdf(8),
        }
        before = peak_mb()
        rows = []
        for label, data in hostile.items():
            path = Path(folder) / "hostile.pdf"
            path.write_bytes(data)
            start = time.perf_counter()
            try:
                await reader.read("bench", "hostile.pdf", path)
                outcome = "read"
            except DocumentRefused as refused:
                outcome = refused.problem.value
            rows.append([label, f"{len(data) / 1024:.0f}", f"{time.perf_counter() - start:.1f}",
                         outcome])  # fmt: skip
        hostile_table = table(["PDF", "KB", "until refused, s", "outcome"], rows)
        growth = peak_mb() - before
        print(hostile_table, f"\nthis process's peak memory grew by {growth:.0f} MB")
    path = write_report(
        "document_reader",
        "Reading files in worker processes",
        f"Per-file cost of a process of its own (median of {rounds}):\n\n{overhead}\n\n"
        f"Hostile PDFs with the default limits:\n\n{hostile_table}\n\n"
        f"The server's (here: the benchmark's) peak memory grew by {growth:.0f} MB meanwhile.",
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    asyncio.run(main(parser.parse_args().rounds))
