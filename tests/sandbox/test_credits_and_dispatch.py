"""Credits, quotes and enrichment dispatch: every documented answer and error, on both prefixes."""

from __future__ import annotations

import re
import zlib

import httpx
from cleanlist_ai.models.credits_balance_response import CreditsBalanceResponse
from cleanlist_ai.models.enrich_by_task_response import EnrichByTaskResponse
from cleanlist_ai.models.enrich_list_response import EnrichListResponse
from cleanlist_ai.models.estimate_cost_response import EstimateCostResponse
from cleanlist_ai.models.leads_page_response import LeadsPageResponse
from cleanlist_ai.models.list_detail_response import ListDetailResponse
from cleanlist_ai.models.workflow_status_response import WorkflowStatusResponse

from cleanlist_pipeline.testing import SandboxHandle

from .helpers import check_422, check_error, check_model

QUOTE_ID = re.compile(r"^qte_k[0-9a-f]+_\d+_[0-9a-f]{32}$")


def _prefix(api: httpx.Client) -> str:
    return "/api/v1/public" if "/v1/" in str(api.base_url) else "/api/v2"


def _balance(api: httpx.Client) -> int:
    r = api.get("/credits/balance")
    assert r.status_code == 200
    body = check_model(CreditsBalanceResponse, r.json())
    assert body.organization_id == "org_sandbox"
    return int(body.credits)


def _quote(api: httpx.Client, **body: object) -> EstimateCostResponse:
    r = api.post("/credits/estimate", json=body)
    assert r.status_code == 200, r.text
    return check_model(EstimateCostResponse, r.json())


def _page(api: httpx.Client, list_id: str, limit: int = 100) -> dict:
    r = api.get(f"/lead-lists/{list_id}/leads", params={"limit": limit})
    assert r.status_code == 200
    check_model(LeadsPageResponse, r.json())
    return dict(r.json())


def test_balance_is_the_org_balance(cleanlist_sandbox: SandboxHandle, api: httpx.Client) -> None:
    assert _balance(api) == 100_000
    cleanlist_sandbox.settings(credits=1234)
    assert _balance(api) == 1234


def test_estimates_for_each_tool_are_signed_five_minute_quotes(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    sample = cleanlist_sandbox.seed_info()["lists"]["Sample Leads"]
    page = _page(api, sample, 4)
    now = cleanlist_sandbox.ledger()["now"]
    cases = [
        ({"tool": "enrich_list", "list_id": sample}, 25, 25),
        ({"tool": "enrich_list", "list_id": sample, "include_phone": True}, 25, 275),
        ({"tool": "enrich_list", "list_id": sample, "scope": "phone-only"}, 25, 250),
        ({"tool": "bulk_import_csv", "row_count": 40, "enrichment_type": "phone_only"}, 40, 400),
        (
            {
                "tool": "enrich_by_task",
                "task_id": page["task_id"],
                "data_points": ["Email", "Phone"],
            },
            4,
            44,
        ),
        (
            {
                "tool": "enrich_by_task",
                "task_id": page["task_id"],
                "data_points": ["Phone"],
                "entity_ids": [page["leads"][0]["lead_id"]],
            },
            1,
            10,
        ),
        ({"tool": "enrich_person", "enrichment_type": "full"}, 1, 11),
    ]
    seen = set()
    for body, rows, cost in cases:
        q = _quote(api, **body)
        assert (q.tool, q.row_count, q.estimated_cost) == (body["tool"], rows, cost), body
        assert QUOTE_ID.match(q.quote_id) and q.quote_id not in seen
        assert abs(q.expires_at - (now + 300)) <= 5
        assert q.available_credits == 100_000 and q.sufficient is True
        seen.add(q.quote_id)
    cleanlist_sandbox.settings(credits=10)
    poor = _quote(api, tool="bulk_import_csv", row_count=40, enrichment_type="partial")
    assert (poor.available_credits, poor.sufficient) == (10, False)
    for bad in (
        {"tool": "enrich_list"},
        {"tool": "bulk_import_csv"},
        {"tool": "bulk_import_csv", "row_count": 1, "enrichment_type": "gold"},
        {"tool": "enrich_by_task", "task_id": page["task_id"]},
        {"tool": "enrich_by_task", "task_id": page["task_id"], "data_points": ["Fax"]},
        {"tool": "teleport"},
    ):
        check_error(api.post("/credits/estimate", json=bad), 400, "validation_error")
    check_422(api.post("/credits/estimate", json={"row_count": 3}))
    check_422(api.post("/credits/estimate", json={"tool": "bulk_import_csv", "row_count": "3"}))


def test_bulk_enrichment_refusals_charge_nothing(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    lists = cleanlist_sandbox.seed_info()["lists"]
    sample = lists["Sample Leads"]
    cleanlist_sandbox.settings(enrich_seconds=600)  # nothing settles during this test
    q = _quote(api, tool="enrich_list", list_id=sample)
    cleanlist_sandbox.settings(credits=10)
    r = api.post("/enrichment/bulk", json={"list_id": sample, "quote_id": q.quote_id})
    err = check_error(r, 400, "insufficient_credits")
    assert (err["estimated_cost_credits"], err["available_credits"], err["shortfall_credits"]) == (
        25,
        10,
        15,
    )
    assert _balance(api) == 10
    cleanlist_sandbox.settings(credits=100_000)
    # The refused call spent nothing, the quote included.
    ok = api.post("/enrichment/bulk", json={"list_id": sample, "quote_id": q.quote_id})
    assert ok.status_code == 200, ok.text
    target = api.post("/lead-lists", json={"name": "Growing"}).json()["list_id"]
    team = [x["lead_id"] for x in _page(api, lists["Team Prospects"], 10)["leads"]]
    api.post(f"/lead-lists/{target}/leads", json={"lead_ids": team[:5]}).raise_for_status()
    stale = _quote(api, tool="enrich_list", list_id=target)
    api.post(f"/lead-lists/{target}/leads", json={"lead_ids": team[5:]}).raise_for_status()
    err = check_error(
        api.post("/enrichment/bulk", json={"list_id": target, "quote_id": stale.quote_id}),
        400,
        "spend_cap_exceeded",
    )
    assert (err["details"]["quoted_cost"], err["details"]["cost"]) == (5, 10)
    person = _quote(api, tool="enrich_person").quote_id
    other_list = _quote(api, tool="enrich_list", list_id=sample).quote_id
    unknown = "qte_k0000_1700000000_" + "0" * 32
    for quote_id in (person, other_list, "nope", unknown):
        r = api.post("/enrichment/bulk", json={"list_id": target, "quote_id": quote_id})
        check_error(r, 400, "quote_invalid")
    empty = api.post("/lead-lists", json={"name": "Empty"}).json()["list_id"]
    check_error(
        api.post("/enrichment/bulk", json={"list_id": empty, "quote_id": person}),
        400,
        "validation_error",
    )
    for bad in (
        {"list_id": target},
        {"list_id": target, "quote_id": person, "scope": "gold"},
        {"list_id": target, "quote_id": person, "extra": 1},
    ):
        check_422(api.post("/enrichment/bulk", json=bad))
    assert _balance(api) == 100_000 - 25
    assert cleanlist_sandbox.ledger()["credits"]["reserved_open"] == 25


def test_bulk_enrichment_runs_and_is_pollable_by_id_and_handle(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    sample = cleanlist_sandbox.seed_info()["lists"]["Sample Leads"]
    cleanlist_sandbox.settings(enrich_seconds=30)
    before = {x["lead_id"]: x for x in _page(api, sample)["leads"]}
    q = _quote(api, tool="enrich_list", list_id=sample)
    r = api.post("/enrichment/bulk", json={"list_id": sample, "quote_id": q.quote_id})
    bulk = check_model(EnrichListResponse, r.json())
    assert bulk.workflow_id.startswith("bulk-enrich-") and bulk.status == "pending"
    assert (bulk.total_leads, bulk.estimated_cost, bulk.credits_reserved) == (25, 25, 25)
    assert bulk.poll_url == (
        f"{cleanlist_sandbox.origin}{_prefix(api)}/enrichment/status/{bulk.workflow_id}"
    )
    assert bulk.task_id.startswith("cl-task_")
    for handle in (bulk.workflow_id, bulk.task_id):
        st = check_model(WorkflowStatusResponse, api.get(f"/enrichment/status/{handle}").json())
        assert st.workflow_id == handle and st.status in ("pending", "running")
        assert (st.lead_list_id, st.total, st.enrichment_type) == (sample, 25, "partial")
        assert st.credits_charged is None and st.refund_status is None
    cleanlist_sandbox.advance_clock(31)
    by_handle = check_model(
        WorkflowStatusResponse, api.get(f"/enrichment/status/{bulk.task_id}").json()
    )
    by_id = check_model(
        WorkflowStatusResponse,
        httpx.get(
            bulk.poll_url, headers={"Authorization": f"Bearer {cleanlist_sandbox.key}"}
        ).json(),
    )
    assert by_handle.status == by_id.status == "completed"
    assert by_handle.summary == by_id.summary
    # The documented deterministic rule: crc32(lead_id) % 100 < 70 → an e-mail is found.
    found = {i for i in before if zlib.crc32(i.encode()) % 100 < 70}
    assert by_id.summary == {"emails_found": len(found), "phones_found": 0}
    assert by_id.credits_charged == len(found)
    assert by_id.credits_refunded == (25 - len(found) or None)
    after = {x["lead_id"]: x for x in _page(api, sample)["leads"]}
    for lead_id, old in before.items():
        new = after[lead_id]
        assert new["phone"] == old["phone"], lead_id
        if old["email"]:
            assert new["email"] == old["email"] and new["provider"] == old["provider"]
        else:
            assert bool(new["email"]) == (lead_id in found), lead_id
            assert bool(new["provider"]) == (lead_id in found), lead_id
    detail = check_model(ListDetailResponse, api.get(f"/lead-lists/{sample}").json())
    assert detail.enriched_count == sum(1 for x in after.values() if x["provider"])
    assert _balance(api) == 100_000 - len(found)


def test_by_task_validation_target_list_credits_and_expiry(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    lists = cleanlist_sandbox.seed_info()["lists"]
    cleanlist_sandbox.settings(cohort_ttl_seconds=60)
    page = _page(api, lists["Team Prospects"], 6)
    handle, ids = page["task_id"], [x["lead_id"] for x in page["leads"]]
    target = api.post("/lead-lists", json={"name": "Phones"}).json()["list_id"]
    body = {
        "task_id": handle,
        "data_points": ["Phone"],
        "entity_ids": ids[:3],
        "lead_list_id": target,
    }
    check_error(
        api.post("/enrichment/by-task", json=body | {"data_points": ["Fax"]}),
        400,
        "validation_error",
    )
    outsider = _page(api, lists["Sample Leads"], 1)["leads"][0]["lead_id"]
    check_error(
        api.post("/enrichment/by-task", json=body | {"entity_ids": [outsider]}), 404, "not_found"
    )
    for bad in (
        {"task_id": handle},
        {"task_id": handle, "data_points": []},
        body | {"colour": "red"},
    ):
        check_422(api.post("/enrichment/by-task", json=bad))
    q = _quote(
        api, tool="enrich_by_task", task_id=handle, data_points=["Phone"], entity_ids=ids[:3]
    )
    assert q.estimated_cost == 30
    cleanlist_sandbox.settings(credits=29)
    err = check_error(
        api.post("/enrichment/by-task", json=body | {"quote_id": q.quote_id}),
        400,
        "insufficient_credits",
    )
    assert err["shortfall_credits"] == 1
    cleanlist_sandbox.settings(credits=100_000)
    r = api.post("/enrichment/by-task", json=body | {"quote_id": q.quote_id})
    res = check_model(EnrichByTaskResponse, r.json())
    assert (res.total_entities, res.credits_reserved, res.status) == (3, 30, "pending")
    assert [x.entity_id for x in res.results] == ids[:3] and res.task_id == handle
    assert api.get(f"/lead-lists/{target}").json()["lead_count"] == 3
    st = check_model(WorkflowStatusResponse, api.get(f"/enrichment/status/{handle}").json())
    assert (st.lead_list_id, st.enrichment_type, st.total) == (target, "phone_only", 3)
    cleanlist_sandbox.advance_clock(61)
    done = check_model(WorkflowStatusResponse, api.get(f"/enrichment/status/{handle}").json())
    assert done.status == "completed"
    check_error(
        api.post("/enrichment/by-task", json=body | {"quote_id": q.quote_id}), 404, "not_found"
    )
    check_error(
        api.post(
            "/credits/estimate",
            json={"tool": "enrich_by_task", "task_id": handle, "data_points": ["Phone"]},
        ),
        404,
        "not_found",
    )
