"""The embeddable server, the embedded per-process sandbox and the CLI's output contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cleanlist_pipeline.sandbox import EMBEDDED_API_KEY, SandboxServer
from cleanlist_pipeline.sandbox.cli import parse_key
from cleanlist_pipeline.sandbox.embedded import ensure_embedded_sandbox
from cleanlist_pipeline.testing import start_sandbox_process


def test_sandbox_server_thread_serves_given_key(tmp_path: Path) -> None:
    srv = SandboxServer(
        db_path=tmp_path / "s.sqlite",
        keys=[("clapi_given", ["lists:read"], None)],
        rpm_key=0,
        rpm_org=0,
    )
    srv.start()
    try:
        assert srv.api_key == "clapi_given" and srv.origin.startswith("http://127.0.0.1:")
        headers = {"Authorization": "Bearer clapi_given"}
        assert httpx.get(srv.origin + "/api/v2/lead-lists", headers=headers).status_code == 200
        r = httpx.post(srv.origin + "/api/v2/lead-lists", headers=headers, json={"name": "x"})
        assert r.status_code == 403
    finally:
        srv.stop()
    assert not srv.running


def test_sandbox_server_refuses_non_loopback_hosts(tmp_path: Path) -> None:
    srv = SandboxServer(db_path=tmp_path / "s.sqlite", host="0.0.0.0")
    with pytest.raises(ValueError, match="loopback only"):
        srv.start()
    assert not srv.running


def test_sandbox_server_serves_on_ipv6_loopback(tmp_path: Path) -> None:
    with SandboxServer(db_path=tmp_path / "s.sqlite", host="::1", rpm_key=0, rpm_org=0) as srv:
        assert srv.origin.startswith("http://[::1]:")
        headers = {"Authorization": f"Bearer {srv.api_key}"}
        assert httpx.get(srv.origin + "/api/v2/whoami", headers=headers).status_code == 200


def test_embedded_sandbox_is_one_thread_per_process_and_file(tmp_path: Path) -> None:
    srv = ensure_embedded_sandbox(tmp_path)
    try:
        assert ensure_embedded_sandbox(tmp_path) is srv
        assert (tmp_path / "cleanlist-sandbox.sqlite").exists()
        headers = {"Authorization": f"Bearer {EMBEDDED_API_KEY}"}
        assert httpx.get(srv.origin + "/api/v2/whoami", headers=headers).status_code == 200
        settings = httpx.get(srv.origin + "/_sandbox/settings", headers=srv.admin_headers).json()
        assert (settings["rpm_key"], settings["rpm_org"], settings["enrich_seconds"]) == (0, 0, 3)
    finally:
        srv.stop()


def test_embedded_sandbox_takes_its_enrichment_time_from_the_caller_not_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEANLIST_SANDBOX_ENRICH_SECONDS", "99")
    srv = ensure_embedded_sandbox(tmp_path, enrich_seconds=0.25)
    try:
        settings = httpx.get(srv.origin + "/_sandbox/settings", headers=srv.admin_headers).json()
        assert settings["enrich_seconds"] == 0.25
    finally:
        srv.stop()


def test_key_option_parsing() -> None:
    assert parse_key("clapi_x:lists:read,lists:write@u_1") == (
        "clapi_x",
        ["lists:read", "lists:write"],
        "u_1",
    )
    assert parse_key("k:*") == ("k", ["*"], None)


def test_cli_prints_origin_then_generated_key(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cleanlist_pipeline.sandbox.cli",
            "serve",
            "--port",
            "0",
            "--db",
            str(tmp_path / "c.sqlite"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        origin = proc.stdout.readline().decode().strip()
        key = proc.stdout.readline().decode().strip()
        assert origin.startswith("http://127.0.0.1:") and origin.split(":")[-1] != "0"
        assert key.startswith("clapi_") and len(key) > 60
        r = httpx.get(
            origin + "/api/v1/public/auth/validate-key", headers={"Authorization": f"Bearer {key}"}
        )
        assert r.json()["valid"] is True
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_key_for_another_user_sees_that_users_lists() -> None:
    with start_sandbox_process(keys=["clapi_terry:lists:read@u_sandbox_teammate"]) as proc:
        headers = {"Authorization": "Bearer clapi_terry"}
        who = httpx.get(proc.origin + "/api/v2/whoami", headers=headers).json()
        assert who["user_id"] == "u_sandbox_teammate" and who["scopes"] == ["lists:read"]
        names = {
            x["name"]
            for x in httpx.get(proc.origin + "/api/v2/lead-lists", headers=headers).json()["lists"]
        }
        assert "Teammate Private" in names and "Extension Leads" not in names
