"""Enrichment workflows, pay-for-results charges and signed single-use quotes."""

from __future__ import annotations

import httpx
import pytest
from cleanlist_ai.models.credits_balance_response import CreditsBalanceResponse
from cleanlist_ai.models.enrich_by_task_response import EnrichByTaskResponse
from cleanlist_ai.models.enrich_list_response import EnrichListResponse
from cleanlist_ai.models.estimate_cost_response import EstimateCostResponse
from cleanlist_ai.models.workflow_status_response import WorkflowStatusResponse

from cleanlist_pipeline.testing import SandboxHandle

from .helpers import check_model, post_csv

MAPPING = {"email": "Email", "full_name": "Name", "company_name": "Company"}


def _csv(n: int) -> str:
    return "Name,Email,Company\n" + "".join(f"Person {i},,Co {i}\n" for i in range(n))


def _balance(api: httpx.Client) -> int:
    return check_model(CreditsBalanceResponse, api.get("/credits/balance").json()).credits


def _status(api: httpx.Client, handle: str) -> WorkflowStatusResponse:
    r = api.get(f"/enrichment/status/{handle}")
    assert r.status_code == 200, r.text
    return check_model(WorkflowStatusResponse, r.json())


@pytest.mark.parametrize("etype", ["partial", "phone_only", "full"])
def test_csv_dispatch_settles_pay_for_results(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client, etype: str
) -> None:
    list_id = api.post("/lead-lists", json={"name": "Enrich"}).json()["list_id"]
    before = _balance(api)
    r = post_csv(api, list_id, _csv(40), column_mapping=MAPPING, enrichment_type=etype)
    assert r.status_code == 201, r.text
    body = r.json()
    unit = {"partial": 1, "phone_only": 10, "full": 11}[etype]
    assert body["workflow_id"].startswith("bulk-enrich-")
    prefix = "/api/v1/public" if "/v1/" in str(api.base_url) else "/api/v2"
    assert body["enrichment_status_url"] == f"{prefix}/enrichment/status/{body['workflow_id']}"
    assert _balance(api) == before - 40 * unit
    running = _status(api, body["workflow_id"])
    assert running.status in ("pending", "running") and running.credits_charged is None
    assert running.lead_list_id == list_id and running.total == 40
    cleanlist_sandbox.advance_clock(3)
    done = _status(api, body["task_id"])
    assert done.status == "completed" and done.progress == 100 and done.result is None
    assert done.workflow_id == body["task_id"]
    emails, phones = done.summary["emails_found"], done.summary["phones_found"]
    assert (emails > 0) == (etype != "phone_only") and (phones > 0) == (etype != "partial")
    charged = emails + 10 * phones
    assert done.credits_charged == charged
    assert (done.credits_refunded or 0) == 40 * unit - charged
    assert done.refund_status == "not_applicable"
    assert _balance(api) == before - charged
    detail = api.get(f"/lead-lists/{list_id}").json()
    leads = api.get(f"/lead-lists/{list_id}/leads").json()["leads"]
    assert sum(1 for x in leads if x["email"]) == emails
    assert sum(1 for x in leads if x["phone"]) == phones
    assert detail["enriched_count"] == sum(1 for x in leads if x["provider"])
    ledger = cleanlist_sandbox.ledger()
    assert ledger["credits"]["charged_total"] == charged and ledger["credits"]["reserved_open"] == 0
    assert ledger["workflows"][body["workflow_id"]]["status"] == "completed"
    assert ledger["charges"]["leads_charged_more_than_once"] == 0


def test_failed_workflow_refunds_everything(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    cleanlist_sandbox.settings(fail_next_workflow=True)
    list_id = api.post("/lead-lists", json={"name": "Doomed"}).json()["list_id"]
    before = _balance(api)
    wf = post_csv(api, list_id, _csv(5), column_mapping=MAPPING, enrichment_type="full").json()[
        "workflow_id"
    ]
    cleanlist_sandbox.advance_clock(5)
    st = _status(api, wf)
    assert st.status == "failed" and st.credits_charged == 0 and st.credits_refunded == 55
    assert st.refund_status == "not_applicable"
    assert _balance(api) == before
    assert cleanlist_sandbox.settings()["fail_next_workflow"] is False


def test_insufficient_credits_imports_nothing(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    cleanlist_sandbox.settings(credits=50)
    list_id = api.post("/lead-lists", json={"name": "Poor"}).json()["list_id"]
    r = post_csv(
        api,
        list_id,
        _csv(10),
        column_mapping=MAPPING,
        enrichment_type="phone_only",
        idempotency_key="poor-1",
    )
    err = r.json()["error"]
    assert r.status_code == 400 and err["code"] == "insufficient_credits"
    assert (err["estimated_cost_credits"], err["available_credits"], err["shortfall_credits"]) == (
        100,
        50,
        50,
    )
    assert api.get(f"/lead-lists/{list_id}").json()["lead_count"] == 0


def test_estimate_quote_is_single_use_and_expires(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    sample = cleanlist_sandbox.seed_info()["lists"]["Sample Leads"]
    est = api.post(
        "/credits/estimate", json={"tool": "enrich_list", "list_id": sample, "scope": "phone-only"}
    )
    q = check_model(EstimateCostResponse, est.json())
    assert q.quote_id.startswith("qte_") and q.estimated_cost == 250 and q.row_count == 25
    assert q.sufficient is True
    r = api.post(
        "/enrichment/bulk", json={"list_id": sample, "scope": "phone-only", "quote_id": q.quote_id}
    )
    assert r.status_code == 200, r.text
    bulk = check_model(EnrichListResponse, r.json())
    assert bulk.credits_reserved == 250 and bulk.poll_url.startswith("http://127.0.0.1:")
    again = api.post(
        "/enrichment/bulk", json={"list_id": sample, "scope": "phone-only", "quote_id": q.quote_id}
    )
    assert again.status_code == 400 and again.json()["error"]["code"] == "quote_already_used"
    wrong = api.post(
        "/credits/estimate", json={"tool": "enrich_list", "list_id": sample, "scope": "partial"}
    ).json()["quote_id"]
    r = api.post("/enrichment/bulk", json={"list_id": sample, "scope": "full", "quote_id": wrong})
    assert r.status_code == 400
    late = api.post("/credits/estimate", json={"tool": "enrich_list", "list_id": sample}).json()
    cleanlist_sandbox.advance_clock(301)
    r = api.post("/enrichment/bulk", json={"list_id": sample, "quote_id": late["quote_id"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "quote_expired"
    assert api.post("/credits/estimate", json={"tool": "teleport"}).status_code == 400
    assert api.post("/enrichment/bulk", json={"list_id": sample}).status_code == 422


def test_by_task_needs_quote_and_runs_async(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    sample = cleanlist_sandbox.seed_info()["lists"]["Sample Leads"]
    page = api.get(f"/lead-lists/{sample}/leads", params={"limit": 8}).json()
    body = {"task_id": page["task_id"], "data_points": ["Email"]}
    r = api.post("/enrichment/by-task", json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "quote_required"
    q = api.post("/credits/estimate", json={"tool": "enrich_by_task", **body}).json()
    assert q["row_count"] == 8 and q["estimated_cost"] == 8
    r = api.post("/enrichment/by-task", json=body | {"quote_id": q["quote_id"]})
    res = check_model(EnrichByTaskResponse, r.json())
    assert res.entity_kind == "person" and res.total_entities == 8
    assert {x.status for x in res.results} == {"queued"}
    cleanlist_sandbox.advance_clock(3)
    st = _status(api, page["task_id"])
    assert st.status == "completed" and st.workflow_id == page["task_id"]
    scratch = api.get(f"/lead-lists/{st.lead_list_id}").json()
    assert scratch["name"] == "MCP Results" and scratch["lead_count"] == 8
    assert st.lead_list_id not in {x["list_id"] for x in api.get("/lead-lists").json()["lists"]}
    assert api.get("/enrichment/status/enrich-nope").status_code == 404
    assert api.get("/enrichment/status/cl-task_nope").status_code == 404
