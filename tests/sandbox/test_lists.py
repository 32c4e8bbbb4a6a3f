"""Lead-list CRUD over real HTTP, on both prefixes."""

from __future__ import annotations

import httpx
from cleanlist_ai.models.delete_list_response import DeleteListResponse
from cleanlist_ai.models.list_detail_response import ListDetailResponse
from cleanlist_ai.models.list_summary import ListSummary
from cleanlist_ai.models.lists_page_response import ListsPageResponse

from cleanlist_pipeline.testing import SandboxHandle

from .helpers import check_422, check_error, check_model


def test_create_then_same_name_is_reused_case_insensitively(api: httpx.Client) -> None:
    r = api.post("/lead-lists", json={"name": "Q3 Outbound", "description": "vps"})
    assert r.status_code == 201
    made = check_model(ListDetailResponse, r.json())
    assert (made.lead_count, made.enriched_count, made.reused) == (0, 0, False)
    again = api.post("/lead-lists", json={"name": "q3 OUTBOUND"})
    assert again.status_code == 200
    reused = check_model(ListDetailResponse, again.json())
    assert reused.reused is True and reused.list_id == made.list_id
    got = check_model(ListDetailResponse, api.get(f"/lead-lists/{made.list_id}").json())
    assert got.reused is False and got.description == "vps"


def test_create_rejects_bad_names_and_unknown_folder(api: httpx.Client) -> None:
    for body in (
        {"name": ""},
        {"name": "x" * 201},
        {},
        {"name": "a", "colour": "red"},
        {"name": 7},
        [{"name": "a"}],
    ):
        detail = check_422(api.post("/lead-lists", json=body))
        assert detail[0]["loc"][0] == "body"
    check_422(
        api.post("/lead-lists", content=b"{not json", headers={"Content-Type": "application/json"})
    )
    longest = api.post("/lead-lists", json={"name": "x" * 200})
    assert longest.status_code == 201 and longest.json()["name"] == "x" * 200
    r = api.post("/lead-lists", json={"name": "Filed", "folder_id": "no-such-folder"})
    check_error(r, 404, "not_found")


def test_teammates_list_is_not_reused_and_private_lists_do_not_leak(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    seeded = cleanlist_sandbox.seed_info()["lists"]
    r = api.post("/lead-lists", json={"name": "Team Prospects"})
    assert r.status_code == 201
    r = api.get(f"/lead-lists/{seeded['Teammate Private']}")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "not_found" and err["request_id"].startswith("req_")
    assert err["docs_url"].endswith("/not-found") and err["retryable"] is False


def test_listing_pages_with_opaque_cursor_and_folder_filter(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    for i in range(7):
        api.post("/lead-lists", json={"name": f"Batch {i}"}).raise_for_status()
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = check_model(ListsPageResponse, api.get("/lead-lists", params=params).json())
        for item in page.to_dict()["lists"]:
            check_model(ListSummary, item)
        seen += [x.list_id for x in page.lists]
        pages += 1
        assert page.total == 11
        if not page.cursor:
            break
        assert not page.cursor.isdigit()
        cursor = page.cursor
    assert len(seen) == len(set(seen)) == 11 and pages == 4
    folder = cleanlist_sandbox.seed_info()["folder_id"]
    filtered = api.get("/lead-lists", params={"folder_id": folder}).json()
    assert [x["name"] for x in filtered["lists"]] == ["Sample Leads"] and filtered["total"] == 1


def test_bad_cursor_and_limit_are_rejected_not_restarted(api: httpx.Client) -> None:
    first = api.get("/lead-lists", params={"limit": 1}).json()
    r = api.get("/lead-lists", params={"cursor": "50"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error"
    folder_bound = api.get("/lead-lists", params={"cursor": first["cursor"], "folder_id": "x"})
    assert folder_bound.status_code == 400
    assert api.get("/lead-lists", params={"limit": 101}).status_code == 422
    assert api.get("/lead-lists", params={"limit": 0}).status_code == 422


def test_patch_changes_only_present_fields(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    made = api.post("/lead-lists", json={"name": "Patch me", "description": "d"}).json()
    url = f"/lead-lists/{made['list_id']}"
    folder = cleanlist_sandbox.seed_info()["folder_id"]
    r = api.patch(url, json={"folder_id": folder})
    body = check_model(ListDetailResponse, r.json())
    assert (body.name, body.description, body.folder_id) == ("Patch me", "d", folder)
    r = api.patch(url, json={"description": None, "name": "Renamed"})
    body = check_model(ListDetailResponse, r.json())
    assert (body.name, body.description, body.folder_id) == ("Renamed", None, folder)
    assert api.patch(url, json={"name": "Renamed"}).status_code == 200
    assert api.patch(url, json={"folder_id": None}).json()["folder_id"] is None
    for bad in (
        {},
        {"name": None},
        {"owner": "me"},
        {"name": ""},
        {"name": "x" * 201},
        {"description": 5},
        [],
    ):
        check_422(api.patch(url, json=bad))
    check_422(api.patch(url, content=b"", headers={"Content-Type": "application/json"}))
    check_error(api.patch(url, json={"folder_id": "nope"}), 404, "not_found")
    after = check_model(ListDetailResponse, api.get(url).json())
    assert (after.name, after.description, after.folder_id) == ("Renamed", None, None)


def test_patch_and_delete_guard_protected_and_foreign_lists(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    lists = cleanlist_sandbox.seed_info()["lists"]
    for method in ("PATCH", "DELETE"):
        kw = {"json": {"name": "x"}} if method == "PATCH" else {}
        r = api.request(method, f"/lead-lists/{lists['Extension Leads']}", **kw)
        check_error(r, 403, "list_protected")
        for foreign in ("Team Prospects", "Shared With You"):
            check_error(
                api.request(method, f"/lead-lists/{lists[foreign]}", **kw), 404, "not_found"
            )
    assert api.get(f"/lead-lists/{lists['Extension Leads']}").json()["name"] == "Extension Leads"
    assert api.get(f"/lead-lists/{lists['Team Prospects']}").json()["lead_count"] == 20


def test_delete_keeps_leads_and_repeat_is_404(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    sample = cleanlist_sandbox.seed_info()["lists"]["Sample Leads"]
    lead_ids = [x["lead_id"] for x in api.get(f"/lead-lists/{sample}/leads").json()["leads"]]
    r = api.delete(f"/lead-lists/{sample}")
    body = check_model(DeleteListResponse, r.json())
    assert body.deleted is True and body.list_id == sample
    check_error(api.delete(f"/lead-lists/{sample}"), 404, "not_found")
    check_error(api.get(f"/lead-lists/{sample}"), 404, "not_found")
    target = api.post("/lead-lists", json={"name": "Rescue"}).json()["list_id"]
    added = api.post(f"/lead-lists/{target}/leads", json={"lead_ids": lead_ids[:5]}).json()
    assert added["added"] == 5


def test_listing_defaults_to_50_and_names_owners(api: httpx.Client) -> None:
    for i in range(47):
        api.post("/lead-lists", json={"name": f"Bulk {i:02d}"}).raise_for_status()
    first = check_model(ListsPageResponse, api.get("/lead-lists").json())
    assert len(first.lists) == 50 and first.total == 51 and first.cursor
    rest = api.get("/lead-lists", params={"cursor": first.cursor}).json()
    assert len(rest["lists"]) == 1 and rest["cursor"] is None
    owners = {x.name: (x.owner_name, x.visibility) for x in first.lists}
    assert owners["Extension Leads"] == ("Sam Sandbox", "private")
    assert owners["Team Prospects"] == ("Terry Teammate", "organization")
    assert owners["Shared With You"] == ("Terry Teammate", "shared")
    assert owners["Bulk 00"] == ("Sam Sandbox", "private")
    assert "Teammate Private" not in owners


def test_list_cap_refuses_new_lists_but_still_reuses(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    assert cleanlist_sandbox.settings()["list_cap"] is None
    cleanlist_sandbox.settings(list_cap=4)  # the default user owns 2 seeded lists
    made = [api.post("/lead-lists", json={"name": f"Capped {i}"}) for i in range(3)]
    assert [r.status_code for r in made[:2]] == [201, 201]
    err = check_error(made[2], 403, "list_cap_reached")
    assert err["details"] == {"list_cap": 4, "owned_lists": 4} and err["retryable"] is False
    again = api.post("/lead-lists", json={"name": "capped 0"})
    assert again.status_code == 200 and again.json()["reused"] is True
    teammate = cleanlist_sandbox.add_key(["*"], user="u_sandbox_teammate")
    prefix = "v1" if "/v1/" in str(api.base_url) else "v2"
    with cleanlist_sandbox.client(prefix, key=teammate) as other:
        # The cap is per user: the teammate owns 3 seeded lists.
        assert other.post("/lead-lists", json={"name": "Theirs"}).status_code == 201
        check_error(other.post("/lead-lists", json={"name": "Theirs 2"}), 403, "list_cap_reached")
    assert api.get("/lead-lists").json()["total"] == 6
    api.delete(f"/lead-lists/{made[0].json()['list_id']}").raise_for_status()
    assert api.post("/lead-lists", json={"name": "Capped 2"}).status_code == 201
    for bad in (-1, "3", True):
        assert cleanlist_sandbox.admin.post("/settings", json={"list_cap": bad}).status_code == 400
    cleanlist_sandbox.settings(list_cap=None)
    assert api.post("/lead-lists", json={"name": "Uncapped"}).status_code == 201
