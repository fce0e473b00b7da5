"""A throwaway PostgreSQL server from Debian's packages: initdb into a temp dir, run in foreground.

As root, initdb and the server run as the `postgres` system user (PostgreSQL refuses to run as
root), started directly as that user so that signals reach the server itself; its data dir is a
fresh temp dir owned by that user. It listens on 127.0.0.1 only, with trust
authentication for the one superuser the URLs name.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import RunningProcess, free_port, start

SUPERUSER = "chat"


def postgres_bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: run `bash scripts/install-system-deps.sh` "
            "(Debian package `postgresql`)."
        )
    return Path(found[-1]).parent


def _server_user() -> str | None:
    return "postgres" if os.geteuid() == 0 else None


@dataclass
class PostgresServer:
    data_dir: Path
    port: int
    process: RunningProcess | None = None

    @classmethod
    def create(cls) -> PostgresServer:
        data_dir = Path(tempfile.mkdtemp(prefix="flc-postgres-"))
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(data_dir, account.pw_uid, account.pw_gid)
        initdb = str(postgres_bin_dir() / "initdb")
        command = [
            initdb, "-D", str(data_dir), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--no-sync",
        ]  # fmt: skip
        subprocess.run(
            command,
            check=True,
            capture_output=True,
            cwd=data_dir,
            user=_server_user(),
        )
        return cls(data_dir=data_dir, port=free_port())

    def start(self) -> PostgresServer:
        postgres = str(postgres_bin_dir() / "postgres")
        command = [
            postgres, "-D", str(self.data_dir), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.data_dir}",
            "-c", "fsync=off", "-c", "logging_collector=off",
        ]  # fmt: skip
        env = dict(os.environ, LC_ALL="C")
        self.process = start(command, env, cwd=self.data_dir, user=_server_user())
        self.process.wait_for_line(r"database system is ready to accept connections", 60)
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT): open connections are closed, the data stays."""
        if self.process is not None:
            self.process.stop(timeout=30)
            self.process = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    async def create_database(self, name: str | None = None) -> str:
        """An empty database; returns its SQLAlchemy URL."""
        import asyncpg

        name = name or f"chat_{uuid.uuid4().hex[:12]}"
        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, database="postgres"
        )
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.url(name)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
