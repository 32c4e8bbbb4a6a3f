"""CSV import exactly as contract section 9 reads it."""

from __future__ import annotations

import base64

import httpx
import pytest
from cleanlist_ai.models.csv_import_response import CsvImportResponse

from cleanlist_pipeline.testing import SandboxHandle

from .helpers import b64, check_422, check_error, check_model, post_csv

MAPPING = {
    "email": "Email",
    "first_name": "First",
    "last_name": "Last",
    "company_name": "Company",
    "linkedin_url": "LinkedIn",
}
HEADER = "First,Last,Email,Company,LinkedIn\n"


def _import(api: httpx.Client, list_id: str, csv_text: str | bytes, **kw: object) -> httpx.Response:
    kw = {"column_mapping": MAPPING, "dispatch_enrichment": False, **kw}
    return post_csv(api, list_id, csv_text, **kw)


@pytest.fixture
def list_id(api: httpx.Client) -> str:
    return str(api.post("/lead-lists", json={"name": "Imports"}).json()["list_id"])


def test_skip_reasons_row_numbers_and_dedupe_normalisation(api: httpx.Client, list_id: str) -> None:
    csv_text = (
        HEADER
        + "Ada,Adler,ada@x.com,Acme,\n"  # 2 ok
        + ",,,,\n"  # 3 missing
        + "Ben,Berg,  ADA@X.com ,Globex,\n"  # 4 dup email
        + "\n"  # 5 blank
        + "Cy,Chen,,,https://www.linkedin.com/in/cy/\n"  # 6 ok
        + "Cy,Chen,,,http://LinkedIn.com/in/CY\n"  # 7 dup link
        + "Di,Dumas,,Initech,\n"  # 8 ok (name+co)
        + "Ed,,,Initech,\n"
    )  # 9 missing
    r = _import(api, list_id, "\ufeff" + csv_text)
    assert r.status_code == 201, r.text
    res = check_model(CsvImportResponse, r.json())
    assert (res.rows_parsed, res.rows_imported, res.rows_skipped) == (7, 3, 4)
    assert res.skip_reasons == {
        "missing_required": 2,
        "duplicate_email": 1,
        "duplicate_linkedin": 1,
    }
    assert res.sample_skip_rows == [3, 4, 7, 9]
    assert res.workflow_id is None and res.enrichment_status_url is None
    assert res.idempotency_replayed is False
    assert api.get(f"/lead-lists/{list_id}").json()["lead_count"] == 3
    leads = api.get(f"/lead-lists/{list_id}/leads").json()["leads"]
    assert [x["full_name"] for x in leads] == ["Ada Adler", "Cy Chen", "Di Dumas"]


def test_payload_caps_are_413(api: httpx.Client, list_id: str) -> None:
    rows = "".join(f"P{i},Q,p{i}@x.com,Co,\n" for i in range(601))
    err = check_error(_import(api, list_id, HEADER + rows), 413, "payload_too_large")
    assert err["details"] == {"rows": 601, "max_rows": 600}
    ok = _import(
        api, list_id, HEADER + "".join(f"P{i},Q,p{i}@x.com,Co,\n" for i in range(600)) + "\n\n"
    )
    assert ok.status_code == 201 and ok.json()["rows_imported"] == 600
    exact = HEADER + "A,B,a@x.com,Co," + "z" * (153_600 - len(HEADER) - 15 - 1) + "\n"
    assert len(exact.encode()) == 153_600
    assert _import(api, list_id, exact).status_code == 201
    err = check_error(_import(api, list_id, exact[:-1] + "z\n"), 413, "payload_too_large")
    assert err["details"] == {"bytes": 153_601, "max_bytes": 153_600}
    with_bom = "\ufeff" + exact[:-3] + "\n"  # 153,598 bytes + a 3-byte BOM
    assert _import(api, list_id, with_bom).status_code == 413


def test_missing_column_bad_base64_and_mapping_schema(api: httpx.Client, list_id: str) -> None:
    err = check_error(
        _import(api, list_id, "First,Last,E-mail\nA,B,a@x.com\n"), 400, "missing_column"
    )
    assert "Email" in err["details"]["missing_columns"]
    url = f"/lead-lists/{list_id}/csv-import"
    good = b64(HEADER + "A,B,a@x.com,Co,\n")
    for bad in (
        good[:10] + "\n" + good[10:],
        base64.urlsafe_b64encode(b"\xfb\xff" * 9).decode(),
        good.rstrip("=") + "=" * 3,
    ):
        r = api.post(
            url,
            json={
                "csv_content_base64": bad,
                "column_mapping": MAPPING,
                "dispatch_enrichment": False,
            },
        )
        check_error(r, 400, "validation_error")
    for mapping in ({}, {"emails": "Email"}):
        r = api.post(
            url,
            json={
                "csv_content_base64": good,
                "column_mapping": mapping,
                "dispatch_enrichment": False,
            },
        )
        check_422(r)
    check_422(api.post(url, json={"column_mapping": MAPPING}))


def test_dispatch_needs_enrichment_type_and_enrich_scope(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client, list_id: str
) -> None:
    body = {"csv_content_base64": b64(HEADER + "A,B,a@x.com,Co,\n"), "column_mapping": MAPPING}
    r = api.post(f"/lead-lists/{list_id}/csv-import", json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error"
    key = cleanlist_sandbox.add_key(["lists:read", "lists:write"])
    prefix = "v1" if "/v1/" in str(api.base_url) else "v2"
    with cleanlist_sandbox.client(prefix, key=key) as limited:
        r = limited.post(
            f"/lead-lists/{list_id}/csv-import", json=body | {"enrichment_type": "partial"}
        )
        err = r.json()["error"]
        assert r.status_code == 403 and err["code"] == "insufficient_scope"
        assert err["details"]["required"] == ["enrich:write"]
        assert (
            limited.post(
                f"/lead-lists/{list_id}/csv-import", json=body | {"dispatch_enrichment": False}
            ).status_code
            == 201
        )
    zero = api.post(
        f"/lead-lists/{list_id}/csv-import",
        json=body | {"csv_content_base64": b64(HEADER + ",,,,\n"), "enrichment_type": "partial"},
    )
    assert zero.status_code == 201 and zero.json()["workflow_id"] is None


def test_replay_within_24h_and_fresh_import_after(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client, list_id: str
) -> None:
    first = _import(api, list_id, HEADER + "A,B,a@x.com,Co,\n", idempotency_key="chunk-1")
    assert first.status_code == 201
    other_list = api.post("/lead-lists", json={"name": "Elsewhere"}).json()["list_id"]
    replay = _import(
        api, other_list, HEADER + "Z,Z,z@x.com,Co,\nY,Y,y@y.com,Co,\n", idempotency_key="chunk-1"
    )
    assert replay.status_code == 201
    body = check_model(CsvImportResponse, replay.json())
    assert body.idempotency_replayed is True and body.list_id == list_id
    assert body.rows_imported == 1
    cleanlist_sandbox.advance_clock(23 * 3600)
    assert (
        _import(api, list_id, HEADER, idempotency_key="chunk-1").json()["idempotency_replayed"]
        is True
    )
    cleanlist_sandbox.advance_clock(2 * 3600)
    again = _import(api, list_id, HEADER + "A,B,a@x.com,Co,\n", idempotency_key="chunk-1")
    assert again.json()["idempotency_replayed"] is False
    assert api.get(f"/lead-lists/{list_id}").json()["lead_count"] == 2
    assert api.get(f"/lead-lists/{other_list}").json()["lead_count"] == 0
    ledger = cleanlist_sandbox.ledger()
    assert ledger["csv_imports"] == {"executed": 2, "replayed": 2}
    assert ledger["lists"][list_id]["rows_imported"] == 2
    assert [i["replayed"] for i in cleanlist_sandbox.imports()] == [False, True, True, False]
    assert [i["rows_imported"] for i in cleanlist_sandbox.imports(other_list)] == [1]


def test_failed_import_is_not_cached(api: httpx.Client, list_id: str) -> None:
    bad = _import(api, list_id, "First\nA\n", idempotency_key="k-fail")
    assert bad.status_code == 400
    ok = _import(api, list_id, HEADER + "A,B,a@x.com,Co,\n", idempotency_key="k-fail")
    assert ok.status_code == 201 and ok.json()["idempotency_replayed"] is False
