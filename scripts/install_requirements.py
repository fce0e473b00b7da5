"""Install pinned requirements into a virtual environment with uv, as pip would have.

usage: python3 scripts/install_requirements.py VENV UV [UV_PIP_INSTALL_ARGS...]

uv installs the same pinned packages much faster than pip (Open WebUI's ~250 packages: 13 s and
9 CPU-seconds instead of 3 min 25 s and 177, measured here): it downloads and unpacks in
parallel, and compiles bytecode only when asked (`--compile-bytecode`). Where
PYTHONDONTWRITEBYTECODE is set (it is on these machines) nothing caches bytecode later, so a
venv whose modules many processes import should be compiled at install: the app's `.venv`, whose
`chainlit run` otherwise takes 7.7 CPU-seconds to start instead of 4.5 (compiling it costs 19).
The build and Open WebUI venvs are imported by a few processes only, for which compiling all of
torch or Open WebUI (52 and 50 CPU-seconds) costs more than it saves (about 3 s a process).

uv does not read pip's configuration, so the indexes, local wheel folders and constraints that
pip is configured with on this machine (pip.conf and PIP_* variables, e.g. a CPU build of torch
in a local folder) are passed on to it, and every index is searched for the best match, as pip
does.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

# pip's option → uv's, for the options that decide what gets installed from where.
OPTIONS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraints",
}


def pip_configuration() -> list[str]:
    """uv arguments for pip's configured sources, from `pip config list` (files and PIP_* env)."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    arguments: list[str] = []
    seen: set[tuple[str, str]] = set()
    for line in listed.splitlines():
        key, _, raw = line.partition("=")
        option = OPTIONS.get(key.rsplit(".", 1)[-1])
        if option is None:
            continue
        for value in shlex.split(raw)[0].split() if raw else []:
            if (option, value) not in seen:
                seen.add((option, value))
                arguments += [option, value]
    return arguments


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    venv, uv, requirements = Path(argv[0]), argv[1], argv[2:]
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    command = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    command += ["--native-tls", "--index-strategy", "unsafe-best-match"]  # as pip does
    command += [*pip_configuration(), *requirements]
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
