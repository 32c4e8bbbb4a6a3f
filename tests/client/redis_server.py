"""A throwaway redis-server for the Redis rate-limiter tests (not a test module).

The server comes from Debian's ``redis-server`` package (``scripts/ensure-redis.sh`` installs it;
``make test`` runs that script). It listens on a free loopback port, persists nothing, runs in a
process group of its own and is stopped by its PID — never by name, since other Redis servers
may run on the machine.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cleanlist_pipeline.testing import stop_process_group

__all__ = ["RedisServer", "RedisServerMissingError", "start_redis_server"]

MISSING_MESSAGE = (
    "redis-server is not installed: run `scripts/ensure-redis.sh` (`make test` runs it) to "
    "install it from Debian's packages, then re-run the tests"
)


class RedisServerMissingError(RuntimeError):
    """``redis-server`` is not on PATH."""


@dataclass
class RedisServer:
    """A running redis-server subprocess on 127.0.0.1."""

    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        """Process id (also its process-group id)."""
        return self.proc.pid

    def log_tail(self) -> str:
        """The end of the server's log (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server's process group, SIGKILL if it lingers."""
        stop_process_group(self.proc, timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int) -> bool:
    """True when a Redis on ``port`` answers PING (raw RESP: no client library needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _launch(binary: str, workdir: Path, timeout: float) -> RedisServer:
    port = _free_port()
    log_path = workdir / f"redis-{port}.log"
    cmd = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--logfile",
        str(log_path),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    server = RedisServer(port, proc, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"redis-server exited with code {proc.returncode}: {server.log_tail()}"
            )
        if _ping(port):
            return server
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(
        f"redis-server did not answer PING within {timeout:.0f}s: {server.log_tail()}"
    )


@contextmanager
def start_redis_server(timeout: float = 20.0) -> Iterator[RedisServer]:
    """Run a redis-server on a free loopback port for the ``with`` block.

    Raises :class:`RedisServerMissingError` when ``redis-server`` is not on PATH. Example::

        with start_redis_server() as server:
            redis.Redis.from_url(server.url).ping()
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisServerMissingError(MISSING_MESSAGE)
    workdir = Path(tempfile.mkdtemp(prefix="clp-redis-"))
    server: RedisServer | None = None
    try:
        # The free port can be taken between probing and binding; a second port then does.
        for attempt in range(3):
            try:
                server = _launch(binary, workdir, timeout)
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        assert server is not None
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
