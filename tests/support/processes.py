"""Start real processes for tests and wait for the line that says they are ready (no sleeps)."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment without the app's settings, plus the overrides."""
    app_variables = {
        "MODEL", "BASE_URL", "API_KEY", "SYSTEM_PROMPT", "FOUNDRY_LOCAL", "FOUNDRY_ENDPOINT_URL",
        "FOUNDRY_OFFLINE", "FOUNDRY_CATALOG_URLS", "FOUNDRY_CATALOG_REGION", "APP_DATA_DIR",
        "MAX_TOKENS", "TEMPERATURE", "TOP_P",
        "DATABASE_URL", "USERS_FILE", "AUTH_HEADER", "CHAINLIT_AUTH_SECRET",
        "ENDPOINT_API_KEY", "ENDPOINT_ALLOW_NO_KEY", "ENDPOINT_CORS_ORIGINS", "ALLOWED_ORIGINS",
        "ENDPOINT_CONCURRENCY", "ENDPOINT_MAX_QUEUE", "ENDPOINT_MAX_BODY_BYTES",
        "ABANDONED_ANSWER_GRACE_SECONDS", "LOOP_GUARD", "DOCUMENT_MAX_FILES", "DOCUMENT_MAX_MB",
        "DOCUMENT_READ_SECONDS", "DOCUMENT_READ_MEMORY_MB", "DOCUMENT_MAX_DECOMPRESSED_MB",
        "DOCUMENT_READERS", "DOCUMENT_READERS_PER_USER",
        "LOG_FORMAT", "READINESS_TIMEOUT_SECONDS", "READINESS_CACHE_SECONDS", "METRICS_TOKEN",
        "CHAT_TITLES",
    }  # fmt: skip
    # CI=true puts `chainlit run` in its CI mode (a fake OPENAI_API_KEY, a log line in its own
    # format before the app loads): the apps under test run as a user runs them.
    env = {k: v for k, v in os.environ.items() if k not in app_variables | {"CI"}}
    env["PYTHONUNBUFFERED"] = "1"
    env["CHAINLIT_ENV_FILE"] = ".env.tests-read-no-env-file"  # a developer's .env must not leak in
    # A new chat's title is one more request to the model after its first answer: tests that
    # count what the model is sent, or find a chat in the sidebar by its first message, get none
    # unless they ask for it (tests/test_chat_titles*.py do).
    env["CHAT_TITLES"] = "0"
    env.update(overrides)
    return env


@dataclass
class RunningProcess:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list, repr=False)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue, repr=False)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def find_line(self, pattern: str, timeout: float) -> re.Match[str]:
        """A line printed so far that matches, else wait_for_line."""
        compiled = re.compile(pattern)
        for line in list(self.lines):
            if match := compiled.search(line):
                return match
        return self.wait_for_line(pattern, timeout)

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        """Block until a new line of output matches; fail with the output if the process exits
        first. Lines an earlier wait already read are not looked at again (see find_line)."""
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line matched {pattern!r} in {timeout}s:\n{self.output}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"process exited before {pattern!r}:\n{self.output}")
            if match := compiled.search(line):
                return match

    def wait_for_exit(self, timeout: float) -> int:
        """Block until the process ends and all its output has been read; its exit code."""
        deadline = time.monotonic() + timeout
        while self._queue.get(timeout=max(0.0, deadline - time.monotonic())) is not None:
            pass  # lines are kept in self.lines by the reader
        self._queue.put(None)  # later waiters must still learn that it has ended
        return self.process.wait(max(0.0, deadline - time.monotonic()))

    def skip_output_so_far(self) -> None:
        """The next wait_for_line only looks at lines printed from now on."""
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is None:  # the process has exited: waiters must still learn that
                self._queue.put(None)
                return

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def name(self) -> str:
        """The command, shortened to what tells processes apart (e.g. `chainlit run … --port N`)."""
        args = [str(a) for a in self.process.args]  # type: ignore[union-attr]
        return " ".join(Path(args[0]).name if i == 0 else a for i, a in enumerate(args))

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def with_sigint_ignored(command: list[str], ignored: bool) -> list[str]:
    """`command` started with SIGINT ignored (as a background job of a shell without job control
    starts) or at its default action (as from a terminal), whatever this test process inherited.
    The wrapper sets the disposition and execs the command, which keeps its process id."""
    wrapper = (
        "import os, signal, sys; "
        "signal.signal(signal.SIGINT, signal.SIG_IGN if sys.argv[1] == 'ignored' else "
        "signal.SIG_DFL); os.execvp(sys.argv[2], sys.argv[2:])"
    )
    return [sys.executable, "-c", wrapper, "ignored" if ignored else "default", *command]


def start(
    command: list[str], env: Mapping[str, str], cwd: Path = REPO, user: str | None = None
) -> RunningProcess:
    """Start `command` (as `user`, when given and this is root) with its output captured."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=dict(env),
        user=user,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    running = RunningProcess(process)
    threading.Thread(target=running._pump, daemon=True).start()
    _STARTED.append(running)
    return running


# Every process the tests started, so that a failing test's report can show what the apps and
# endpoints running at the time printed (CI shows only the report).
_STARTED: list[RunningProcess] = []


def live_processes() -> list[RunningProcess]:
    """The started processes that are still running."""
    _STARTED[:] = [p for p in _STARTED if p.process.poll() is None]
    return list(_STARTED)


@dataclass
class Endpoint:
    """A running `serve` command: what its ready line says, and the process."""

    url: str  # …/v1
    model: str  # the served variant id
    alias: str
    api_key: str
    process: RunningProcess


def start_bundled_endpoint(data_dir: Path, **settings: str) -> Endpoint:
    """`serve` on a free loopback port with the bundled model, offline, with these settings."""
    env = clean_env({
        "FOUNDRY_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "FOUNDRY_OFFLINE": "1",
        "APP_DATA_DIR": str(data_dir),
        **settings,
    })  # fmt: skip
    return start_endpoint(env)


def start_endpoint(
    env: Mapping[str, str], timeout: float = 120, pinned_to: int | None = None
) -> Endpoint:
    """`python -m foundry_local_chat serve`, once it says it is ready; with `pinned_to`, it runs
    on that CPU core only (`taskset`), as if it had a machine of one core to itself."""
    command = [sys.executable, "-m", "foundry_local_chat", "serve"]
    if pinned_to is not None:
        command = ["taskset", "--cpu-list", str(pinned_to), *command]
    running = start(command, env)
    ready = r"Foundry Local endpoint: (\S+)\s+model: (\S+) \(alias (\S+)\)"
    match = running.wait_for_line(ready, timeout)
    api_key = env.get("ENDPOINT_API_KEY", "")
    return Endpoint(match[1], match[2], match[3], api_key, running)


def start_chainlit(env: Mapping[str, str], port: int, timeout: float = 120) -> RunningProcess:
    command = [
        str(VENV_BIN / "chainlit"), "run", "app.py", "--headless",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    running = start(command, env)
    # Chainlit logs this line during its lifespan start-up, just before uvicorn binds the port.
    running.wait_for_line(r"Your app is available at", timeout)
    wait_for_port(port, timeout=30, process=running)
    return running


def wait_for_port(port: int, timeout: float, process: RunningProcess) -> None:
    """Readiness probe: connect until the port accepts (each failure is a refused connection)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(f"process exited before listening on {port}:\n{process.output}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open in {timeout}s:\n{process.output}")


def add_user(users_file: Path, name: str, password: str) -> None:
    """`python -m foundry_local_chat users add NAME --password-stdin`, as an operator would."""
    subprocess.run(
        [sys.executable, "-m", "foundry_local_chat", "users", "add", name, "--password-stdin"],
        input=password + "\n",
        env=clean_env({"USERS_FILE": str(users_file)}),
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
