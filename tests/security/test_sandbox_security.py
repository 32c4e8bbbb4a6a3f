"""The sandbox behaves like a careful server: loopback only (bound address and ``Host``), key
hashes only, auth required, an admin token for the admin API, its database private to its owner."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from cleanlist_pipeline.testing import (
    ADMIN_TOKEN_HEADER,
    SandboxHandle,
    admin_headers,
    read_admin_token,
    start_sandbox_process,
)

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


# --- the admin API: token, loopback Host, JSON bodies (issue 11, case 2) ---------------------


def test_admin_api_needs_the_token_printed_at_startup_and_kept_in_the_database(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.sqlite"
    with start_sandbox_process(db=db) as proc:
        token = proc.admin_token
        assert token and token == read_admin_token(db), "the file's owner cannot find the token"
        admin = proc.origin + "/_sandbox"
        intruder_key = "clapi_INTRUDER" + "i" * 40
        for headers in ({}, {ADMIN_TOKEN_HEADER: "x" * len(token)}, {ADMIN_TOKEN_HEADER: ""}):
            for r in (
                httpx.get(admin + "/ledger", headers=headers, timeout=30),
                httpx.post(
                    admin + "/keys",
                    json={"key": intruder_key, "scopes": ["*"]},
                    headers=headers,
                    timeout=30,
                ),
                httpx.post(admin + "/reset", json={}, headers=headers, timeout=30),
            ):
                assert r.status_code == 401, (headers, r.status_code, r.text[:200])
                assert r.json()["error"]["code"] == "unauthorized"
                assert ADMIN_TOKEN_HEADER in r.json()["error"]["problem"]
                assert token not in r.text
        # The refused key registration did not happen.
        who = httpx.get(
            proc.origin + "/api/v2/whoami",
            headers={"Authorization": f"Bearer {intruder_key}"},
            timeout=30,
        )
        assert who.status_code == 401
        ok = httpx.get(admin + "/ledger", headers=admin_headers(token), timeout=30)
        assert ok.status_code == 200 and "csv_imports" in ok.json()
    # A restart over the same file keeps the token (a fixture's handle stays valid) …
    with start_sandbox_process(db=db) as again:
        assert again.admin_token == token
    # … and another database has another one.
    with start_sandbox_process(db=tmp_path / "other.sqlite") as other:
        assert other.admin_token != token


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:{port}",
        "127.0.0.1.nip.io:{port}",
        "localhost.evil.example",
        "127.0.0.2:{port}",
        "[::2]:{port}",
        "127.0.0.1:{port}x",
    ],
)
def test_every_route_refuses_a_host_header_that_is_not_loopback(
    cleanlist_sandbox: SandboxHandle, host: str
) -> None:
    """A page whose DNS name was rebound to 127.0.0.1 sends its own name as Host: refused."""
    port = cleanlist_sandbox.origin.rsplit(":", 1)[1]
    forged = {"Host": host.format(port=port)}
    api = {"Authorization": f"Bearer {cleanlist_sandbox.key}", **forged}
    admin = {**admin_headers(cleanlist_sandbox.admin_token), **forged}
    for r in (
        httpx.get(cleanlist_sandbox.v2 + "/whoami", headers=api, timeout=30),
        httpx.get(cleanlist_sandbox.v1 + "/lead-lists", headers=api, timeout=30),
        httpx.get(cleanlist_sandbox.origin + "/_sandbox/ledger", headers=admin, timeout=30),
        httpx.post(
            cleanlist_sandbox.origin + "/_sandbox/settings",
            json={"credits": 1},
            headers=admin,
            timeout=30,
        ),
    ):
        assert r.status_code == 421, (host, r.status_code, r.text[:200])
        error = r.json()["error"]
        assert error["code"] == "misdirected_request"
        assert "loopback" in error["problem"]
    assert cleanlist_sandbox.settings()["credits"] != 1


def test_loopback_host_names_with_any_port_are_served(cleanlist_sandbox: SandboxHandle) -> None:
    port = cleanlist_sandbox.origin.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"[::1]:{port}", "[::1]"):
        r = httpx.get(
            cleanlist_sandbox.v2 + "/whoami",
            headers={"Authorization": f"Bearer {cleanlist_sandbox.key}", "Host": host},
            timeout=30,
        )
        assert r.status_code == 200, (host, r.text[:200])
        r = cleanlist_sandbox.admin.get("/settings", headers={"Host": host})
        assert r.status_code == 200, (host, r.text[:200])


def test_admin_calls_with_a_body_must_send_json(cleanlist_sandbox: SandboxHandle) -> None:
    """A cross-site form or text/plain POST (no CORS preflight) changes nothing."""
    before = cleanlist_sandbox.settings()["credits"]
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        "multipart/form-data",
    ):
        headers = {"Content-Type": content_type} if content_type else {}
        r = cleanlist_sandbox.admin.post("/settings", content=b'{"credits": 7}', headers=headers)
        assert r.status_code == 415, (content_type, r.status_code, r.text[:200])
        assert r.json()["error"]["code"] == "unsupported_media_type"
        assert "application/json" in r.json()["error"]["problem"]
    assert cleanlist_sandbox.settings()["credits"] == before
    r = cleanlist_sandbox.admin.post(
        "/settings",
        content=b'{"credits": 7}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200 and r.json()["credits"] == 7
    # No body: nothing to type (DELETE /faults, POST /reset without one).
    assert cleanlist_sandbox.admin.delete("/faults").status_code == 200
    assert cleanlist_sandbox.admin.post("/reset").status_code == 200


def test_the_fixture_handle_needs_a_known_token() -> None:
    with pytest.raises(ValueError, match="admin token"):
        SandboxHandle("http://127.0.0.1:9", "clapi_x")


# --- the database at rest (issue 11, case 3) ---------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sandbox_database_and_its_wal_are_private_to_the_owner(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    with start_sandbox_process(db=db) as proc:
        handle = SandboxHandle(proc.origin, proc.key)
        try:
            handle.seed_list("at rest", 50)  # leads written: the WAL and its index exist
            files = {p.name: _mode(p) for p in tmp_path.iterdir() if p.name.startswith("s.sqlite")}
        finally:
            handle.close()
    assert {"s.sqlite", "s.sqlite-wal", "s.sqlite-shm"} <= set(files), files
    assert set(files.values()) == {0o600}, {k: oct(v) for k, v in files.items()}


def test_a_database_made_world_readable_before_is_narrowed(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with start_sandbox_process(db=db):
        pass
    db.chmod(0o644)
    with start_sandbox_process(db=db):
        assert _mode(db) == 0o600


def test_embedded_sandbox_defaults_to_a_private_per_user_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No DAGSTER_HOME: a per-user state folder (never a shared /tmp path), created 0700."""
    from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
    from cleanlist_pipeline.sandbox.embedded import DB_NAME, ensure_embedded_sandbox
    from cleanlist_pipeline.settings import settings_from_env

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_STATE_HOME", "DAGSTER_HOME", "CLEANLIST_STATE_DIR", "CLEANLIST_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    settings = settings_from_env()
    state = Path(str(settings.state_dir))
    assert state.is_relative_to(home), state
    assert not state.exists()
    resource = CleanlistResource.from_settings(settings)
    with resource.get_client() as client:
        assert client.whoami().user_id  # the embedded sandbox answers
    try:
        assert _mode(state) == 0o700
        assert _mode(state / DB_NAME) == 0o600
        assert "cleanlist-embedded-sandbox" not in str(state)
    finally:
        ensure_embedded_sandbox(state).stop()
