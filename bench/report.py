"""The dated Markdown reports the benches write into docs/benchmarks/ (committed; the README links
to them instead of quoting figures that every run changes). Standard library only: the tuning
bench runs in the build virtual environment."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

REPORTS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"


def machine() -> str:
    """The CPU, its cores, how busy they were and the Python that ran the bench."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass  # not Linux: platform's answer stays
    busy = ""
    if hasattr(os, "getloadavg"):  # other work on the machine slows every path alike
        busy = f", load average {os.getloadavg()[1]:.1f} over the last 5 minutes"
    return f"{os.cpu_count()} cores ({model}){busy}, Python {platform.python_version()}"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_report(name: str, title: str, body: str) -> Path:
    """docs/benchmarks/<name>.md: `body` under a title and a line saying when, where and how."""
    script = Path(sys.argv[0]).resolve().relative_to(REPORTS.parents[1])
    today = datetime.date.today().isoformat()
    path = REPORTS / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# {title}\n\nMeasured on {today}, {machine()}, by `{script}`, which rewrites this "
        f"file.\n\n{body.strip()}\n",
        encoding="utf-8",
    )
    return path


def marked_part(name: str, marker: str) -> str:
    """The part of docs/benchmarks/<name>.md between `<!-- marker -->` and `<!-- /marker -->`
    (the README copies a report's table from there with cog, `make docs`)."""
    text = (REPORTS / f"{name}.md").read_text(encoding="utf-8")
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    if start not in text or end not in text:
        raise ValueError(f"docs/benchmarks/{name}.md has no {start} … {end} part")
    return text[text.index(start) + len(start) : text.index(end)].strip()
