"""Authentication, scopes, rate limits and injected faults (503, 429 bursts, commit-then-drop)."""

from __future__ import annotations

import httpx
import pytest
from cleanlist_ai.models.csv_import_response import CsvImportResponse

from cleanlist_pipeline.testing import SandboxHandle, start_sandbox_process

from .helpers import check_error, check_model, post_csv

MAPPING = {"email": "Email"}


def test_missing_or_unknown_key_is_401(cleanlist_sandbox: SandboxHandle) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer clapi_nope"},
        {"X-API-Key": cleanlist_sandbox.key},
    ):
        r = httpx.get(cleanlist_sandbox.v2 + "/lead-lists", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_scope_is_enforced_with_details(cleanlist_sandbox: SandboxHandle) -> None:
    key = cleanlist_sandbox.add_key(["lists:read"])
    with cleanlist_sandbox.client("v1", key=key) as c:
        assert c.get("/lead-lists").status_code == 200
        r = c.post("/lead-lists", json={"name": "nope"})
        err = r.json()["error"]
        assert r.status_code == 403 and err["code"] == "insufficient_scope"
        assert err["details"] == {"required": ["lists:write"], "granted": ["lists:read"]}
        assert c.get("/credits/balance").status_code == 403
        valid = c.get("/auth/validate-key").json()
        assert valid == {
            "valid": True,
            "user_id": "u_sandbox_owner",
            "organization_id": "org_sandbox",
        }
    with cleanlist_sandbox.client("v2", key=key) as c:
        assert c.get("/auth/validate-key").status_code == 404


def test_injected_503_and_429_burst_are_retryable(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    cleanlist_sandbox.set_faults(
        [{"method": "GET", "path": "/lead-lists", "p_503": 1.0, "retry_after_s": 0.4}]
    )
    r = api.get("/lead-lists")
    err = r.json()["error"]
    assert r.status_code == 503 and err["code"] == "service_unavailable" and err["retryable"]
    assert r.headers["Retry-After"] == "1" and err["retry_after_ms"] == 400
    cleanlist_sandbox.set_faults([{"path": "whoami", "burst_429": 2, "latency_ms": 20}])
    responses = [api.get("/whoami") for _ in range(3)]
    assert [r.status_code for r in responses] == [429, 429, 200]
    assert responses[0].json()["error"]["code"] == "rate_limited"
    faults = cleanlist_sandbox.ledger()["faults"]
    assert faults["GET /lead-lists"]["503"] == 1
    assert faults["GET /whoami"] == {"latency": 3, "503": 0, "429": 2, "drop": 0}


def test_commit_then_drop_is_a_transport_error_after_commit(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    list_id = api.post("/lead-lists", json={"name": "Dropped"}).json()["list_id"]
    cleanlist_sandbox.set_faults([{"path": "csv-import", "drop_next": 1}])
    rows = "Email\na@x.com\nb@x.com\n"
    fields = {"column_mapping": MAPPING, "dispatch_enrichment": False, "idempotency_key": "drop-1"}
    with pytest.raises(httpx.TransportError):
        post_csv(api, list_id, rows, **fields)
    ledger = cleanlist_sandbox.ledger()
    assert ledger["lists"][list_id]["lead_count"] == 2
    assert ledger["csv_imports"]["executed"] == 1
    assert ledger["faults"]["POST /lead-lists/{list_id}/csv-import"]["drop"] == 1
    retry = check_model(CsvImportResponse, post_csv(api, list_id, rows, **fields).json())
    assert retry.idempotency_replayed is True and retry.rows_imported == 2
    assert api.get(f"/lead-lists/{list_id}").json()["lead_count"] == 2


def test_seeded_faults_repeat_the_same_sequence(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    def run() -> list[int]:
        cleanlist_sandbox.set_faults([{"path": "whoami", "p_503": 0.5}], seed=7)
        return [api.get("/whoami").status_code for _ in range(12)]

    first = run()
    assert first == run() and {200, 503} == set(first)


def test_rate_limits_per_key_and_org_on_the_movable_clock() -> None:
    with start_sandbox_process(rpm_key=3, rpm_org=5) as proc:
        handle = SandboxHandle(proc.origin, proc.key)
        try:
            second = handle.add_key(["*"])
            # Start at the beginning of a fresh window so wall time cannot roll it over mid-test.
            now = handle.ledger()["now"]
            handle.advance_clock(60 - now % 60 + 0.5)
            # The second key calls the v1 prefix: both prefixes share the same windows.
            with handle.client() as a, handle.client("v1", key=second) as b:
                assert [a.get("/whoami").status_code for _ in range(3)] == [200] * 3
                r = a.get("/whoami")
                err = r.json()["error"]
                assert r.status_code == 429 and err["code"] == "rate_limited" and err["retryable"]
                assert 1 <= int(r.headers["Retry-After"]) <= 60
                assert err["retry_after_ms"] <= int(r.headers["Retry-After"]) * 1000
                assert [b.get("/whoami").status_code for _ in range(2)] == [200, 200]
                org_err = check_error(b.get("/lead-lists"), 429, "rate_limited")
                assert org_err["retry_after_ms"] > 0
                assert handle.admin.get("/ledger").status_code == 200
                handle.advance_clock(60)
                assert a.get("/whoami").status_code == 200
            ledger = handle.ledger()
            assert ledger["rate_limited"] == {"GET /whoami": 1, "GET /lead-lists": 1}
            assert sum(sum(m.values()) for m in ledger["requests_per_minute"].values()) == 6
        finally:
            handle.close()
