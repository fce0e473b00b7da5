"""nginx (Debian's package) as a foreground process in front of app instances or model
endpoints, loopback only.

It runs one of the project's own deploy/ configs (nginx-chat.conf by default) with the test's
ports substituted, inside a main context of its own (pid file, logs and temp files in a temp dir).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import REPO, RunningProcess, free_port, start, wait_for_port

SNIPPET = REPO / "deploy" / "nginx-chat.conf"
MODEL_TIER_SNIPPET = REPO / "deploy" / "nginx-model-tier.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        raise RuntimeError(
            "nginx is not installed: run `bash scripts/install-system-deps.sh` (package `nginx`)."
        )
    return found


def render(
    upstream_ports: list[int], listen_port: int, prefix: Path, snippet_path: Path = SNIPPET
) -> str:
    """A whole nginx.conf around the snippet: one upstream server per port (each with the
    parameters of the snippet's first one), the listen port, and its access log (if it has one)
    on stderr, which the test reads as nginx's output: a line there is a request that ended."""
    snippet = snippet_path.read_text()
    server_line = re.compile(r"(?m)^    server 127\.0\.0\.1:\d+(?P<parameters>[^;\n]*);\n")
    first = server_line.search(snippet)
    assert first is not None, "the snippet's upstream servers were not found"
    servers = "".join(
        f"    server 127.0.0.1:{port}{first['parameters']};\n" for port in upstream_ports
    )
    rest = server_line.sub("", snippet[first.start() :])
    snippet = snippet[: first.start()] + servers + rest
    snippet, count = re.subn(
        r"listen 127\.0\.0\.1:\d+;", f"listen 127.0.0.1:{listen_port};", snippet
    )
    assert count == 1, "the snippet's listen line was not found"
    snippet = re.sub(r"access_log /\S+", "access_log /dev/stderr", snippet)
    temp = prefix / "temp"
    return f"""
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{snippet}
}}
"""


def start_nginx(
    upstream_ports: list[int], snippet_path: Path = SNIPPET
) -> tuple[RunningProcess, int, Path]:
    """nginx in the foreground; returns it, its port and its prefix dir (remove when done)."""
    prefix = Path(tempfile.mkdtemp(prefix="flc-nginx-"))
    (prefix / "temp").mkdir()
    os.chmod(prefix / "temp", 0o777)  # workers run as an unprivileged user when nginx is root
    port = free_port()
    config = prefix / "nginx.conf"
    config.write_text(render(upstream_ports, port, prefix, snippet_path))
    process = start([nginx_binary(), "-e", "stderr", "-p", str(prefix), "-c", str(config)], {})
    wait_for_port(port, timeout=30, process=process)
    return process, port, prefix


@dataclass(frozen=True)
class ProxiedRequest:
    """One line of the model tier's access log (its `model_tier` log_format)."""

    request: str  # e.g. "POST /v1/chat/completions HTTP/1.1"
    status: int  # what the client got
    upstreams: tuple[int, ...]  # the port of every endpoint tried, in order
    upstream_statuses: tuple[str, ...]  # what each answered ("502" when it could not)

    @property
    def served_by(self) -> int:
        return self.upstreams[-1]


LOG_LINE = re.compile(
    r'"(?P<request>[^"]*)" (?P<status>\d+) \d+ upstream=(?P<upstreams>.*?) '
    r"upstream_status=(?P<statuses>.*?) header_time="
)


def proxied_requests(nginx: RunningProcess) -> list[ProxiedRequest]:
    """The requests nginx has logged so far, in order (it logs each one when it ends)."""
    found = []
    for line in list(nginx.lines):
        if (match := LOG_LINE.search(line)) is None:
            continue  # one of nginx's own error or warning lines
        addresses = [a.strip() for a in match["upstreams"].split(",")]
        found.append(
            ProxiedRequest(
                request=match["request"],
                status=int(match["status"]),
                upstreams=tuple(int(a.rsplit(":", 1)[1]) for a in addresses if ":" in a),
                upstream_statuses=tuple(s.strip() for s in match["statuses"].split(",")),
            )
        )
    return found


def wait_for_requests(
    nginx: RunningProcess, count: int, timeout: float, request: str | None = None
) -> list[ProxiedRequest]:
    """The requests logged (only those of this request line, if given), once there are at least
    `count`: a client may see the end of its answer just before nginx writes the line."""

    def logged() -> list[ProxiedRequest]:
        return [r for r in proxied_requests(nginx) if request in (None, r.request)]

    while len(found := logged()) < count:
        # Each line is kept before it is queued: a line that arrives after the count above is
        # still in the queue, so this wakes up for it.
        nginx.wait_for_line(LOG_LINE.pattern, timeout)
    return found
