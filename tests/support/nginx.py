"""nginx (Debian's package) as a foreground process in front of app instances, loopback only.

It runs the project's own deploy/nginx-chat.conf with the test's ports substituted, inside a
main context of its own (pid file, logs and temp files in a temp dir).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from tests.support.processes import REPO, RunningProcess, free_port, start, wait_for_port

SNIPPET = REPO / "deploy" / "nginx-chat.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        raise RuntimeError(
            "nginx is not installed: run `bash scripts/install-system-deps.sh` (package `nginx`)."
        )
    return found


def render(upstream_ports: list[int], listen_port: int, prefix: Path) -> str:
    snippet = SNIPPET.read_text()
    servers = "".join(
        f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=30s;\n" for port in upstream_ports
    )
    snippet, count = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+ [^\n]*\n", "", snippet)
    assert count >= 1, "the snippet's upstream servers were not found"
    snippet = snippet.replace("    ip_hash;\n", "    ip_hash;\n" + servers, 1)
    snippet, count = re.subn(
        r"listen 127\.0\.0\.1:\d+;", f"listen 127.0.0.1:{listen_port};", snippet
    )
    assert count == 1, "the snippet's listen line was not found"
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


def start_nginx(upstream_ports: list[int]) -> tuple[RunningProcess, int, Path]:
    """nginx in the foreground; returns it, its port and its prefix dir (remove when done)."""
    prefix = Path(tempfile.mkdtemp(prefix="flc-nginx-"))
    (prefix / "temp").mkdir()
    os.chmod(prefix / "temp", 0o777)  # workers run as an unprivileged user when nginx is root
    port = free_port()
    config = prefix / "nginx.conf"
    config.write_text(render(upstream_ports, port, prefix))
    process = start([nginx_binary(), "-e", "stderr", "-p", str(prefix), "-c", str(config)], {})
    wait_for_port(port, timeout=30, process=process)
    return process, port, prefix
