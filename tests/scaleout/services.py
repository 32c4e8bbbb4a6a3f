"""Throwaway PostgreSQL and S3 (moto) servers for the scale-out tests.

PostgreSQL comes from Debian's packages (``apt-get install postgresql``; ``.ci/run`` installs it
on a fresh machine). The server refuses to run as root, so when the tests run as root ``initdb``
and the server run as the ``postgres`` user, in a private folder under ``/tmp`` (pytest's own
temporary folders are ``0700`` root and the ``postgres`` user could not enter them).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "find_pg_bin", "free_port", "start_moto", "start_postgres"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_pg_bin() -> Path:
    """Folder holding ``initdb``/``pg_ctl`` (newest Debian cluster version first)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError(
        "PostgreSQL server binaries not found: install them with "
        "`apt-get install -y postgresql` (.ci/run does this on a fresh machine)"
    )


@dataclass
class PostgresServer:
    """A running throwaway PostgreSQL cluster (trust auth, loopback only)."""

    bin_dir: Path
    data_dir: Path
    port: int
    as_postgres_user: bool
    user: str = "postgres"
    host: str = "127.0.0.1"

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self.as_postgres_user else list(args)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy/psycopg2 URL for ``database``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its URL."""
        import psycopg2

        conn = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        subprocess.run(
            self._cmd(
                str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"
            ),
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """initdb a fresh cluster in a temp folder and start it on a free loopback port."""
    bin_dir = find_pg_bin()
    as_postgres = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="clp-pg-"))
    data_dir = base / "data"
    data_dir.mkdir()
    if as_postgres:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(data_dir, "postgres", "postgres")
    server = PostgresServer(bin_dir, data_dir, free_port(), as_postgres)
    init = subprocess.run(
        server._cmd(
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {init.stderr[-2000:]}")
    # fsync off: a test cluster need not survive a power cut, and it saves seconds per run.
    options = (
        f"-k {base} -p {server.port} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    start = subprocess.run(
        server._cmd(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-o",
            options,
            "-l",
            str(base / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        ),
        capture_output=True,
        text=True,
        timeout=90,
    )
    if start.returncode != 0:
        log_file = base / "server.log"
        log = log_file.read_text(errors="replace") if log_file.exists() else ""
        server.stop()
        raise RuntimeError(f"pg_ctl start failed: {start.stderr[-1000:]} {log[-2000:]}")
    return server


def start_moto() -> tuple[object, str]:
    """A moto S3 server thread on a free loopback port: ``(server, endpoint_url)``."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server, endpoint
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("moto server did not start")
