"""pytest fixtures that start a real Cleanlist sandbox process (registered as a pytest11 plugin).

``cleanlist_sandbox_process`` (session): one ``python -m cleanlist_pipeline.sandbox.cli serve``
process in its own process group, rate limits off, enrichment taking 2 s; stopped by PID at the
end of the session. ``cleanlist_sandbox`` (function): the same process with fresh state (faults
cleared, default settings, ``POST /_sandbox/reset``), as a :class:`SandboxHandle`.

Tests that need another configuration start their own process::

    with start_sandbox_process(rpm_key=2, rpm_org=0) as proc:
        handle = SandboxHandle(proc.origin, proc.key)

Admin calls (``/_sandbox/…``) need the sandbox's admin token in ``X-Sandbox-Admin-Token``.
``SandboxHandle`` sends it: pass ``admin_token=`` or let it find the token of a sandbox process
this process started (:func:`start_sandbox_process` remembers each one's). The token is also in
the sandbox's 0600 database file: :func:`read_admin_token` gives it to the file's owner.
"""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cleanlist_pipeline.contract import V1_PREFIX
from cleanlist_pipeline.sandbox.admin import ADMIN_TOKEN_HEADER
from cleanlist_pipeline.sandbox.db import read_admin_token

__all__ = [
    "ADMIN_TOKEN_HEADER",
    "FIXTURE_SETTINGS",
    "SandboxHandle",
    "SandboxProcess",
    "admin_headers",
    "read_admin_token",
    "start_sandbox_process",
    "stop_process_group",
]

FIXTURE_SETTINGS: dict[str, Any] = {
    "rpm_key": 0,
    "rpm_org": 0,
    "enrich_seconds": 2.0,
    "credits": 100_000,
    "cohort_ttl_seconds": 3600,
    "fail_next_workflow": False,
    "list_cap": None,
}


@dataclass
class SandboxProcess:
    """A running sandbox subprocess."""

    origin: str
    key: str
    db_path: str
    proc: subprocess.Popen[bytes]
    stderr_path: str
    options: dict[str, Any] = field(default_factory=dict)
    admin_token: str = ""

    @property
    def pid(self) -> int:
        """Process id (also its process-group id)."""
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL if it lingers."""
        stop_process_group(self.proc, timeout)


def stop_process_group(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM the process group ``proc`` leads (``start_new_session=True``), SIGKILL if it
    lingers. For servers a test starts: children they spawn go too."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


# origin → admin token of the sandbox processes this process started (for ``SandboxHandle``).
_ADMIN_TOKENS: dict[str, str] = {}


def admin_headers(token: str) -> dict[str, str]:
    """The headers an admin call needs: ``{"X-Sandbox-Admin-Token": token}``."""
    return {ADMIN_TOKEN_HEADER: token}


def _read_lines(stream: Any, n: int, timeout: float) -> list[str]:
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for _ in range(n):
            line = stream.readline()
            if not line:
                break
            out.put(line.decode().strip())

    threading.Thread(target=pump, daemon=True).start()
    lines = []
    for _ in range(n):
        try:
            lines.append(out.get(timeout=timeout))
        except queue.Empty:
            break
    return lines


@contextmanager
def start_sandbox_process(
    *,
    db: str | Path | None = None,
    rpm_key: int = 0,
    rpm_org: int = 0,
    enrich_seconds: float = 2.0,
    credits: int | None = None,
    keys: Sequence[str] | None = None,
    timeout: float = 30.0,
) -> Iterator[SandboxProcess]:
    """Run ``cleanlist-sandbox serve --port 0`` as a subprocess for the ``with`` block.

    ``keys`` are ``KEY:SCOPES[@USER]`` strings (``--key``); without them the generated all-scope
    key is used. ``db`` defaults to a fresh temp file.
    """
    tmpdir = tempfile.mkdtemp(prefix="cleanlist-sandbox-")
    db_path = str(db) if db is not None else os.path.join(tmpdir, "sandbox.sqlite")
    cmd = [
        sys.executable,
        "-m",
        "cleanlist_pipeline.sandbox.cli",
        "serve",
        "--port",
        "0",
        "--db",
        db_path,
        "--rpm-key",
        str(rpm_key),
        "--rpm-org",
        str(rpm_org),
        "--enrich-seconds",
        str(enrich_seconds),
    ]
    if credits is not None:
        cmd += ["--credits", str(credits)]
    for k in keys or ():
        cmd += ["--key", k]
    stderr_path = os.path.join(tmpdir, "stderr.log")
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, start_new_session=True)
    handle: SandboxProcess | None = None
    try:
        expected = 2 if keys else 3
        lines = _read_lines(proc.stdout, expected, timeout)
        if len(lines) < expected:
            raise RuntimeError(f"sandbox did not start: {Path(stderr_path).read_text()[-2000:]}")
        key = keys[0].partition(":")[0] if keys else lines[1]
        name, _, token = lines[-1].partition(": ")
        if name != ADMIN_TOKEN_HEADER or not token:
            raise RuntimeError("sandbox did not print its admin token")
        handle = SandboxProcess(
            origin=lines[0],
            key=key,
            db_path=db_path,
            proc=proc,
            stderr_path=stderr_path,
            options={"rpm_key": rpm_key, "rpm_org": rpm_org, "enrich_seconds": enrich_seconds},
            admin_token=token,
        )
        _ADMIN_TOKENS[handle.origin] = token
        yield handle
    finally:
        if handle is not None:
            _ADMIN_TOKENS.pop(handle.origin, None)
            handle.stop()
        elif proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        shutil.rmtree(tmpdir, ignore_errors=True)


class SandboxHandle:
    """What a test needs from a running sandbox: URLs, key, and admin calls.

    ``admin`` is an httpx client for ``/_sandbox`` that sends the admin token: ``admin_token``
    or, by default, the token of the sandbox process at ``origin`` that
    :func:`start_sandbox_process` started in this process.
    """

    def __init__(self, origin: str, key: str, admin_token: str | None = None) -> None:
        self.origin = origin
        self.v1 = origin + V1_PREFIX
        self.v2 = origin + "/api/v2"
        self.key = key
        token = admin_token if admin_token is not None else _ADMIN_TOKENS.get(origin)
        if not token:
            raise ValueError(
                f"no admin token known for the sandbox at {origin}: pass admin_token= "
                "(printed at startup; read_admin_token(db_path) reads it from the database)"
            )
        self.admin_token = token
        self.admin = httpx.Client(
            base_url=origin + "/_sandbox", timeout=120.0, headers=admin_headers(token)
        )

    def _ok(self, r: httpx.Response) -> Any:
        r.raise_for_status()
        return r.json()

    def client(self, prefix: str = "v2", key: str | None = None) -> httpx.Client:
        """An httpx client for ``v1`` or ``v2`` with a Bearer key (caller closes it)."""
        base = self.v1 if prefix == "v1" else self.v2
        return httpx.Client(
            base_url=base, timeout=60.0, headers={"Authorization": f"Bearer {key or self.key}"}
        )

    def ledger(self) -> dict[str, Any]:
        """``GET /_sandbox/ledger``."""
        return self._ok(self.admin.get("/ledger"))

    def imports(self, list_id: str | None = None) -> list[dict[str, Any]]:
        """``GET /_sandbox/imports`` (executed and replayed csv-imports in order)."""
        params = {"list_id": list_id} if list_id else None
        return self._ok(self.admin.get("/imports", params=params))["imports"]

    def seed_info(self) -> dict[str, Any]:
        """Ids of the seeded world: org, users, folder, lists by name."""
        return self._ok(self.admin.get("/seed-info"))

    def add_key(
        self, scopes: Sequence[str] = ("*",), user: str | None = None, org: str | None = None
    ) -> str:
        """Register a new random key with ``scopes``; returns the key."""
        key = "clapi_test_" + secrets.token_urlsafe(24)
        body: dict[str, Any] = {"key": key, "scopes": list(scopes)}
        if user:
            body["user"] = user
        if org:
            body["org"] = org
        self._ok(self.admin.post("/keys", json=body))
        return key

    def set_faults(self, rules: list[dict[str, Any]], seed: int = 1) -> None:
        """Install fault rules (see docs/internals.md §1)."""
        self._ok(self.admin.post("/faults", json={"seed": seed, "rules": rules}))

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._ok(self.admin.delete("/faults"))

    def advance_clock(self, seconds: float) -> float:
        """Move the sandbox clock forward; returns the new ``now``."""
        return float(self._ok(self.admin.post("/clock", json={"advance_seconds": seconds}))["now"])

    def settings(self, **kw: Any) -> dict[str, Any]:
        """Change settings (rpm_key, rpm_org, enrich_seconds, credits, cohort_ttl_seconds,
        fail_next_workflow, list_cap); returns the current ones."""
        return self._ok(self.admin.post("/settings", json=kw))

    def seed_list(self, name: str, leads: int, enriched_fraction: float = 0.0) -> str:
        """Create a list of ``leads`` synthetic leads owned by the default user."""
        body = {"name": name, "leads": leads, "enriched_fraction": enriched_fraction}
        return str(self._ok(self.admin.post("/seed-list", json=body))["list_id"])

    def reset(self) -> None:
        """Wipe and re-seed state (keys and settings stay)."""
        self._ok(self.admin.post("/reset", json={}))

    def close(self) -> None:
        """Close the admin client."""
        self.admin.close()


@pytest.fixture(scope="session")
def cleanlist_sandbox_process() -> Iterator[SandboxProcess]:
    """One sandbox process for the whole session (rate limits off, enrich 2 s)."""
    with start_sandbox_process(rpm_key=0, rpm_org=0, enrich_seconds=2.0) as proc:
        yield proc


@pytest.fixture
def cleanlist_sandbox(cleanlist_sandbox_process: SandboxProcess) -> Iterator[SandboxHandle]:
    """The session's sandbox with fresh state: faults cleared, default settings, reset."""
    handle = SandboxHandle(cleanlist_sandbox_process.origin, cleanlist_sandbox_process.key)
    try:
        handle.clear_faults()
        handle.settings(**FIXTURE_SETTINGS)
        handle.reset()
        yield handle
    finally:
        handle.close()
