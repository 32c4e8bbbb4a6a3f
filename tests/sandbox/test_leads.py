"""Leads of a list: cursor pages, cohort handles, add and remove."""

from __future__ import annotations

import httpx
from cleanlist_ai.models.add_leads_response import AddLeadsResponse
from cleanlist_ai.models.lead_row import LeadRow
from cleanlist_ai.models.leads_page_response import LeadsPageResponse
from cleanlist_ai.models.list_detail_response import ListDetailResponse
from cleanlist_ai.models.remove_leads_response import RemoveLeadsResponse

from cleanlist_pipeline.testing import SandboxHandle

from .helpers import check_422, check_error, check_model


def _all_pages(api: httpx.Client, list_id: str, limit: int) -> list[dict]:
    pages, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = api.get(f"/lead-lists/{list_id}/leads", params=params)
        assert r.status_code == 200, r.text
        pages.append(r.json())
        cursor = r.json()["cursor"]
        if not cursor:
            return pages


def test_pages_cover_the_list_once_with_signed_cursors(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    list_id = cleanlist_sandbox.seed_list("Paged", 1234, enriched_fraction=0.25)
    pages = _all_pages(api, list_id, 500)
    assert [len(p["leads"]) for p in pages] == [500, 500, 234]
    for p in pages:
        page = check_model(LeadsPageResponse, p)
        assert page.total == 1234 and page.task_id.startswith("cl-task_")
        check_model(LeadRow, p["leads"][0])
    ids = [x["lead_id"] for p in pages for x in p["leads"]]
    assert len(set(ids)) == 1234
    assert not pages[0]["cursor"].isdigit()
    detail = check_model(ListDetailResponse, api.get(f"/lead-lists/{list_id}").json())
    assert (detail.lead_count, detail.enriched_count) == (1234, 309)
    assert sum(1 for p in pages for x in p["leads"] if x["email"]) == 309


def test_foreign_or_garbled_cursor_is_400(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    lists = cleanlist_sandbox.seed_info()["lists"]
    first = api.get(f"/lead-lists/{lists['Sample Leads']}/leads", params={"limit": 5}).json()
    for cursor in ("100", first["cursor"] + "x", "%%%"):
        r = api.get(f"/lead-lists/{lists['Sample Leads']}/leads", params={"cursor": cursor})
        assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error"
    other = api.get(
        f"/lead-lists/{lists['Team Prospects']}/leads", params={"cursor": first["cursor"]}
    )
    assert other.status_code == 400
    other_key = cleanlist_sandbox.add_key(["lists:read"])
    with cleanlist_sandbox.client(key=other_key) as c2:
        r = c2.get(f"/lead-lists/{lists['Sample Leads']}/leads", params={"cursor": first["cursor"]})
        assert r.status_code == 400
    assert (
        api.get(f"/lead-lists/{lists['Sample Leads']}/leads", params={"limit": 501}).status_code
        == 422
    )


def test_add_by_ids_counts_duplicates_and_replays_with_key(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    lists = cleanlist_sandbox.seed_info()["lists"]
    leads = api.get(f"/lead-lists/{lists['Team Prospects']}/leads").json()["leads"]
    ids = [x["lead_id"] for x in leads]
    target = api.post("/lead-lists", json={"name": "Mine"}).json()["list_id"]
    body = {"lead_ids": ids[:10], "idempotency_key": "add-1"}
    first = check_model(AddLeadsResponse, api.post(f"/lead-lists/{target}/leads", json=body).json())
    assert (first.added, first.skipped_duplicates, first.created) == (10, 0, None)
    replay = api.post(f"/lead-lists/{target}/leads", json=body).json()
    assert replay == first.to_dict() | {"created": None}
    more = api.post(f"/lead-lists/{target}/leads", json={"lead_ids": ids[5:15]}).json()
    assert (more["added"], more["skipped_duplicates"]) == (5, 5)
    assert api.get(f"/lead-lists/{target}").json()["lead_count"] == 15
    assert cleanlist_sandbox.ledger()["adds"] == {"executed": 2, "replayed": 1}


def test_add_by_cohort_and_its_failures(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    lists = cleanlist_sandbox.seed_info()["lists"]
    page = api.get(f"/lead-lists/{lists['Sample Leads']}/leads", params={"limit": 10}).json()
    target = api.post("/lead-lists", json={"name": "Cohort"}).json()["list_id"]
    url = f"/lead-lists/{target}/leads"
    some = [x["lead_id"] for x in page["leads"][:4]]
    r = api.post(url, json={"task_id": page["task_id"], "entity_ids": some})
    assert check_model(AddLeadsResponse, r.json()).added == 4
    assert api.post(url, json={"task_id": page["task_id"]}).json()["added"] == 6
    outsider = api.get(f"/lead-lists/{lists['Team Prospects']}/leads").json()["leads"][0]
    r = api.post(url, json={"task_id": page["task_id"], "entity_ids": [outsider["lead_id"]]})
    assert r.status_code == 404
    cleanlist_sandbox.advance_clock(2 * 3600)
    r = api.post(url, json={"task_id": page["task_id"]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_add_rejects_both_neither_and_unreachable(
    api: httpx.Client, cleanlist_sandbox: SandboxHandle
) -> None:
    target = api.post("/lead-lists", json={"name": "Strict"}).json()["list_id"]
    url = f"/lead-lists/{target}/leads"
    for bad in (
        {},
        {"lead_ids": ["lead_x"], "task_id": "cl-task_x"},
        {"lead_ids": []},
        {"lead_ids": ["a"] * 1001},
        {"lead_ids": ["a"], "idempotency_key": "k" * 129},
    ):
        r = api.post(url, json=bad)
        assert r.status_code == 422 and r.json()["detail"], bad
    r = api.post(url, json={"lead_ids": ["lead_does_not_exist"]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert api.post("/lead-lists/nope/leads", json={"lead_ids": ["x"]}).status_code == 404


def test_remove_counts_real_deletions_and_caps_at_100(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    sample = cleanlist_sandbox.seed_info()["lists"]["Sample Leads"]
    ids = [x["lead_id"] for x in api.get(f"/lead-lists/{sample}/leads").json()["leads"]]
    url = f"/lead-lists/{sample}/leads"
    r = api.request("DELETE", url, json={"lead_ids": [*ids[:3], "lead_unknown"]})
    assert check_model(RemoveLeadsResponse, r.json()).removed == 3
    r = api.request("DELETE", url, json={"lead_ids": ids[:3]})
    assert r.json()["removed"] == 0
    assert api.request("DELETE", url, json={"lead_ids": ["x"] * 101}).status_code == 422
    assert api.request("DELETE", url, json={"lead_ids": []}).status_code == 422
    assert api.get(f"/lead-lists/{sample}").json()["lead_count"] == 22


def test_page_size_defaults_to_100_and_limit_is_checked(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    list_id = cleanlist_sandbox.seed_list("Hundreds", 150)
    page = check_model(LeadsPageResponse, api.get(f"/lead-lists/{list_id}/leads").json())
    assert len(page.leads) == 100 and page.total == 150 and page.cursor
    for limit in ("0", "501", "ten", "-1"):
        detail = check_422(api.get(f"/lead-lists/{list_id}/leads", params={"limit": limit}))
        assert detail[0]["loc"] == ["query", "limit"]
    full = api.get(f"/lead-lists/{list_id}/leads", params={"limit": 500}).json()
    assert len(full["leads"]) == 150 and full["cursor"] is None


def test_cohort_lifetime_follows_the_setting(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    cleanlist_sandbox.settings(cohort_ttl_seconds=120)
    sample = cleanlist_sandbox.seed_info()["lists"]["Sample Leads"]
    first = api.get(f"/lead-lists/{sample}/leads", params={"limit": 3}).json()
    second = api.get(
        f"/lead-lists/{sample}/leads", params={"limit": 3, "cursor": first["cursor"]}
    ).json()
    assert first["task_id"] != second["task_id"]
    target = api.post("/lead-lists", json={"name": "Cohorts"}).json()["list_id"]
    url = f"/lead-lists/{target}/leads"
    cleanlist_sandbox.advance_clock(100)
    assert api.post(url, json={"task_id": first["task_id"]}).json()["added"] == 3
    cleanlist_sandbox.advance_clock(30)
    err = check_error(api.post(url, json={"task_id": second["task_id"]}), 404, "not_found")
    assert err["details"] == {"task_id": second["task_id"]}
    assert api.get(f"/lead-lists/{target}").json()["lead_count"] == 3


def test_leads_of_another_org_are_unreachable(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    sample = cleanlist_sandbox.seed_info()["lists"]["Sample Leads"]
    page = api.get(f"/lead-lists/{sample}/leads", params={"limit": 2}).json()
    outsider = cleanlist_sandbox.add_key(["*"], user="u_other_org", org="org_other")
    prefix = "v1" if "/v1/" in str(api.base_url) else "v2"
    with cleanlist_sandbox.client(prefix, key=outsider) as other:
        check_error(other.get(f"/lead-lists/{sample}"), 404, "not_found")
        mine = other.post("/lead-lists", json={"name": "Sample Leads"})
        assert mine.status_code == 201 and mine.json()["list_id"] != sample
        url = f"/lead-lists/{mine.json()['list_id']}/leads"
        ids = [x["lead_id"] for x in page["leads"]]
        check_error(other.post(url, json={"lead_ids": ids}), 404, "not_found")
        check_error(other.post(url, json={"task_id": page["task_id"]}), 404, "not_found")
        assert other.get("/lead-lists").json()["total"] == 1
        assert other.get("/whoami").json()["organization_id"] == "org_other"
