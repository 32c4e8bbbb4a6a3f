"""Embeddable sandbox: uvicorn in a daemon thread over a given database file."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from cleanlist_pipeline.sandbox.admin import ADMIN_TOKEN_HEADER, LOOPBACK, register_key
from cleanlist_pipeline.sandbox.app import create_app
from cleanlist_pipeline.sandbox.db import Database
from cleanlist_pipeline.sandbox.faults import quiet_uvicorn_drop_logs

KeySpec = tuple[str, Sequence[str], str | None]


def new_api_key() -> str:
    """A fresh key in the documented format: ``clapi_`` + 48 random URL-safe bytes."""
    return "clapi_" + secrets.token_urlsafe(48)


def prepare_database(
    db_path: str | Path,
    keys: Sequence[KeySpec] | None,
    *,
    rpm_key: int,
    rpm_org: int,
    credits: int,
    enrich_seconds: float,
) -> tuple[Database, str]:
    """Initialise the file, apply settings, register keys; returns (db, first key).

    With ``keys`` None a new all-scope key is generated (and returned).
    """
    db = Database(db_path)
    db.init(
        {
            "rpm_key": rpm_key,
            "rpm_org": rpm_org,
            "credits": credits,
            "enrich_seconds": enrich_seconds,
        }
    )
    specs: list[KeySpec] = list(keys) if keys else [(new_api_key(), ["*"], None)]
    with db.tx() as c:
        for key, scopes, user in specs:
            register_key(c, key, list(scopes), user)
    return db, specs[0][0]


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening loopback socket (port 0 → a free port, known before serving starts)."""
    if host not in LOOPBACK:
        raise ValueError(f"the sandbox binds loopback only ({', '.join(sorted(LOOPBACK))})")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


def origin_of(host: str, port: int) -> str:
    """``http://host:port`` (an IPv6 literal in brackets).

    >>> origin_of("::1", 8765)
    'http://[::1]:8765'
    """
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(db: Database) -> uvicorn.Server:
    """A uvicorn server for the sandbox app (quiet; lifespan off: there is nothing to start)."""
    quiet_uvicorn_drop_logs()
    config = uvicorn.Config(create_app(db), log_level="warning", lifespan="off", access_log=False)
    return uvicorn.Server(config)


class SandboxServer:
    """A sandbox serving ``db_path`` from a background thread.

    >>> srv = SandboxServer(db_path=state_dir / "s.sqlite"); srv.start()
    >>> srv.origin, srv.api_key
    >>> httpx.get(srv.origin + "/_sandbox/ledger", headers=srv.admin_headers)
    >>> srv.stop()

    ``admin_token`` is the database file's (every server over one file shares it).
    """

    def __init__(
        self,
        db_path: str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        keys: Sequence[KeySpec] | None = None,
        rpm_key: int = 30,
        rpm_org: int = 60,
        credits: int = 100_000,
        enrich_seconds: float = 5.0,
    ) -> None:
        self.db_path = str(db_path)
        self.host = host
        self.port = port
        self.keys = keys
        self.rpm_key = rpm_key
        self.rpm_org = rpm_org
        self.credits = credits
        self.enrich_seconds = enrich_seconds
        self.api_key = ""
        self.admin_token = ""
        self.origin = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def start(self, timeout: float = 30.0) -> SandboxServer:
        """Initialise the database and serve; returns once connections are accepted."""
        db, self.api_key = prepare_database(
            self.db_path,
            self.keys,
            rpm_key=self.rpm_key,
            rpm_org=self.rpm_org,
            credits=self.credits,
            enrich_seconds=self.enrich_seconds,
        )
        self.admin_token = db.admin_token()
        self._sock = bind_socket(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        self.origin = origin_of(self.host, self.port)
        self._server = make_server(db)
        sock = self._sock
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.run(sockets=[sock]),
            name=f"cleanlist-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox server on {self.origin} did not start")
            time.sleep(0.01)
        return self

    @property
    def admin_headers(self) -> dict[str, str]:
        """Headers an admin call needs (``X-Sandbox-Admin-Token``)."""
        return {ADMIN_TOKEN_HEADER: self.admin_token}

    @property
    def running(self) -> bool:
        """True while the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
