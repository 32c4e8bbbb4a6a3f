"""Every endpoint and every generic error path, over real HTTP on both prefixes.

401 without a valid key, 403 ``insufficient_scope`` (required/granted in ``details``) for a key
lacking exactly the endpoint's scope, 404 ``not_found`` for unknown ids, 405/404 for unknown
methods and paths — each in the documented envelope. Also the admin API's loopback guard.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from cleanlist_ai.models.whoami_response import WhoamiResponse

from cleanlist_pipeline.testing import SandboxHandle, admin_headers

from .helpers import check_error, check_model

# Contract §1 "Scopes".
ALL_SCOPES = [
    "lists:read",
    "lists:write",
    "enrich:read",
    "enrich:write",
    "credits:read",
    "people:read",
    "companies:read",
    "export:read",
    "sync:write",
    "smart_agents:read",
    "smart_agents:write",
    "admin:api_keys",
]
LIST = "{list}"
QUOTE = "qte_k0000_1700000000_" + "0" * 32
# (method, path, documented scope, JSON body) — ``{list}`` is replaced by a real list id.
ROUTES: list[tuple[str, str, str | None, Any]] = [
    ("POST", "/lead-lists", "lists:write", {"name": "Scoped"}),
    ("GET", "/lead-lists", "lists:read", None),
    ("GET", f"/lead-lists/{LIST}", "lists:read", None),
    ("PATCH", f"/lead-lists/{LIST}", "lists:write", {"description": "x"}),
    ("DELETE", f"/lead-lists/{LIST}", "lists:write", None),
    ("GET", f"/lead-lists/{LIST}/leads", "lists:read", None),
    ("POST", f"/lead-lists/{LIST}/leads", "lists:write", {"lead_ids": ["lead_x"]}),
    ("DELETE", f"/lead-lists/{LIST}/leads", "lists:write", {"lead_ids": ["lead_x"]}),
    (
        "POST",
        f"/lead-lists/{LIST}/csv-import",
        "lists:write",
        {
            "csv_content_base64": "RW1haWwKYUB4LmNvbQo=",
            "column_mapping": {"email": "Email"},
            "dispatch_enrichment": False,
        },
    ),
    ("POST", "/enrichment/bulk", "enrich:write", {"list_id": LIST, "quote_id": QUOTE}),
    (
        "POST",
        "/enrichment/by-task",
        "enrich:write",
        {"task_id": "cl-task_x", "data_points": ["Email"]},
    ),
    ("GET", "/enrichment/status/bulk-enrich-x", "enrich:read", None),
    ("GET", "/credits/balance", "credits:read", None),
    ("POST", "/credits/estimate", "credits:read", {"tool": "enrich_person"}),
    ("GET", "/whoami", None, None),
]
V1_ONLY = [("GET", "/auth/validate-key", None, None)]


def _routes(version: str) -> list[tuple[str, str, str | None, Any]]:
    return ROUTES + (V1_ONLY if version == "v1" else [])


def _fill(value: Any, list_id: str) -> Any:
    if isinstance(value, str):
        return value.replace(LIST, list_id)
    if isinstance(value, dict):
        return {k: _fill(v, list_id) for k, v in value.items()}
    return value


def _call(
    client: httpx.Client, route: tuple[str, str, str | None, Any], list_id: str
) -> httpx.Response:
    method, path, _scope, body = route
    kw = {"json": _fill(body, list_id)} if body is not None else {}
    return client.request(method, _fill(path, list_id), **kw)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_every_endpoint_answers_401_without_a_valid_key(
    cleanlist_sandbox: SandboxHandle, version: str
) -> None:
    list_id = cleanlist_sandbox.seed_info()["lists"]["Sample Leads"]
    base = cleanlist_sandbox.v1 if version == "v1" else cleanlist_sandbox.v2
    for headers in ({}, {"Authorization": "Bearer clapi_unknown_" + "x" * 40}):
        with httpx.Client(base_url=base, headers=headers) as anon:
            for route in _routes(version):
                err = check_error(_call(anon, route, list_id), 401, "unauthorized")
                assert err["retryable"] is False
    ledger = cleanlist_sandbox.ledger()
    assert ledger["lists"][list_id]["lead_count"] == 25 and len(ledger["lists"]) == 5


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_every_scoped_endpoint_names_required_and_granted_scopes(
    cleanlist_sandbox: SandboxHandle, version: str
) -> None:
    list_id = cleanlist_sandbox.seed_info()["lists"]["Sample Leads"]
    for route in _routes(version):
        scope = route[2]
        granted = [s for s in ALL_SCOPES if s != scope]
        key = cleanlist_sandbox.add_key(granted)
        with cleanlist_sandbox.client(version, key=key) as c:
            r = _call(c, route, list_id)
            if scope is None:
                assert r.status_code == 200, (route, r.text)
                continue
            err = check_error(r, 403, "insufficient_scope")
            assert err["details"] == {"required": [scope], "granted": granted}, route
    # Nothing was changed by the refused calls.
    with cleanlist_sandbox.client(version) as c:
        assert c.get(f"/lead-lists/{list_id}").json()["lead_count"] == 25
        assert c.get("/lead-lists").json()["total"] == 4


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_free_endpoints_need_no_scope(cleanlist_sandbox: SandboxHandle, version: str) -> None:
    key = cleanlist_sandbox.add_key([])
    with cleanlist_sandbox.client(version, key=key) as c:
        who = check_model(WhoamiResponse, c.get("/whoami").json())
        assert who.scopes == [] and who.user_id == "u_sandbox_owner"
        assert who.organization_id == "org_sandbox" and who.auth_type == "api_key"
        check_error(c.get("/lead-lists"), 403, "insufficient_scope")
        validate = c.get("/auth/validate-key")
        if version == "v1":
            assert validate.status_code == 200
            assert validate.json() == {
                "valid": True,
                "user_id": "u_sandbox_owner",
                "organization_id": "org_sandbox",
            }
        else:
            check_error(validate, 404, "not_found")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_unknown_ids_are_404_not_found_everywhere(
    cleanlist_sandbox: SandboxHandle, version: str
) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    private = cleanlist_sandbox.seed_info()["lists"]["Teammate Private"]
    with cleanlist_sandbox.client(version) as c:
        for list_id in (missing, private):
            for route in ROUTES:
                if LIST in route[1] or (route[3] and LIST in str(route[3])):
                    check_error(_call(c, route, list_id), 404, "not_found")
            r = c.post("/credits/estimate", json={"tool": "enrich_list", "list_id": list_id})
            check_error(r, 404, "not_found")
        for handle in ("bulk-enrich-000000000000", "enrich-000000000000", "cl-task_0000"):
            check_error(c.get(f"/enrichment/status/{handle}"), 404, "not_found")
        r = c.post(
            "/enrichment/by-task", json={"task_id": "cl-task_0000", "data_points": ["Email"]}
        )
        check_error(r, 404, "not_found")
        r = c.post(
            "/credits/estimate",
            json={"tool": "enrich_by_task", "task_id": "cl-task_0000", "data_points": ["Email"]},
        )
        check_error(r, 404, "not_found")
    assert cleanlist_sandbox.ledger()["lists"][private]["lead_count"] == 3


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_unknown_paths_and_methods_keep_the_envelope(
    cleanlist_sandbox: SandboxHandle, version: str
) -> None:
    with cleanlist_sandbox.client(version) as c:
        check_error(c.get("/no-such-endpoint"), 404, "not_found")
        check_error(c.put("/lead-lists", json={}), 405, "method_not_allowed")


def test_admin_api_refuses_clients_that_are_not_loopback(tmp_path: Path) -> None:
    """The real ASGI app, called in-process with the client address a remote peer would have."""
    from cleanlist_pipeline.sandbox.app import create_app
    from cleanlist_pipeline.sandbox.db import Database

    db = Database(tmp_path / "admin.sqlite")
    db.init()
    app = create_app(db)

    async def ask(client_host: str) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://127.0.0.1",
            headers=admin_headers(db.admin_token()),
        ) as c:
            return [
                await c.get("/_sandbox/settings"),
                await c.post("/_sandbox/settings", json={"credits": 1}),
                await c.post("/_sandbox/reset", json={}),
            ]

    try:
        for remote in ("10.0.0.7", "192.168.1.20", "2001:db8::1"):
            for r in asyncio.run(ask(remote)):
                check_error(r, 403, "forbidden")
        local = asyncio.run(ask("127.0.0.1"))
        assert [r.status_code for r in local] == [200, 200, 200]
        assert local[1].json()["credits"] == 1
    finally:
        db.close_thread_connection()
