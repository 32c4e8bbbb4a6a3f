"""The sandbox behaves like a careful server: loopback only, key hashes only, auth required."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from cleanlist_pipeline.testing import SandboxHandle, start_sandbox_process

from .scan import forms_of, scan_files


def test_sandbox_binds_loopback_by_default(tmp_path: Path) -> None:
    with start_sandbox_process(db=tmp_path / "s.sqlite") as proc:
        assert proc.origin.startswith("http://127.0.0.1:")
        port = int(proc.origin.rsplit(":", 1)[1])
        listening = [
            c.laddr
            for c in psutil.Process(proc.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert listening, "the sandbox process listens on nothing"
        assert all(addr.ip in ("127.0.0.1", "::1") for addr in listening), listening
        assert any(addr.port == port for addr in listening)


def test_sandbox_refuses_to_bind_a_public_address(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cleanlist_pipeline.sandbox.cli",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--db",
            str(tmp_path / "s.sqlite"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "loopback" in done.stderr.lower()


def test_sandbox_stores_key_hashes_only(tmp_path: Path) -> None:
    key = "clapi_HASHCANARY" + "k" * 40
    db = tmp_path / "sandbox.sqlite"
    with start_sandbox_process(db=db, keys=[f"{key}:*"]) as proc:
        with httpx.Client(
            base_url=proc.origin + "/api/v2", headers={"Authorization": f"Bearer {key}"}
        ) as http:
            assert http.get("/whoami").status_code == 200
            assert http.get("/lead-lists").status_code == 200
        added = SandboxHandle(proc.origin, key)
        try:
            second = added.add_key(scopes=["lists:read"])
        finally:
            added.close()
    needles = {**forms_of(key, "startup key"), **forms_of(second, "admin-added key")}
    needles["canary marker"] = b"HASHCANARY"
    files = [p for p in tmp_path.iterdir() if p.name.startswith("sandbox.sqlite")]
    hits, scanned, _ = scan_files(files, needles)
    assert scanned >= 1
    assert not hits, "the sandbox stored a key:\n" + "\n".join(map(str, hits))


@pytest.mark.parametrize("prefix", ["/api/v2", "/api/v1/public"])
def test_sandbox_refuses_requests_without_a_valid_key(
    cleanlist_sandbox: SandboxHandle, prefix: str
) -> None:
    base = cleanlist_sandbox.origin + prefix
    attempts = {
        "no header": {},
        "unknown key": {"Authorization": "Bearer clapi_" + "x" * 64},
        "malformed": {"Authorization": "Bearer"},
        "X-API-Key header": {"X-API-Key": cleanlist_sandbox.key},
        "basic auth": {"Authorization": "Basic " + "Y2xhcGk6eA=="},
        "key without Bearer": {"Authorization": cleanlist_sandbox.key},
    }
    for label, headers in attempts.items():
        for path in ("/lead-lists", "/whoami", "/credits/balance"):
            r = httpx.get(base + path, headers=headers, timeout=30)
            assert r.status_code == 401, (label, path, r.status_code, r.text[:200])
            assert r.json()["error"]["code"] == "unauthorized", (label, r.text[:200])
            assert cleanlist_sandbox.key not in r.text
    r = httpx.post(base + "/lead-lists", json={"name": "no auth"}, timeout=30)
    assert r.status_code == 401
    ok = httpx.get(
        base + "/lead-lists",
        timeout=30,
        headers={"Authorization": f"Bearer {cleanlist_sandbox.key}"},
    )
    assert ok.status_code == 200
