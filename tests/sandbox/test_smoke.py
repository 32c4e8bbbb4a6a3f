"""Smoke: the fixture's process answers on both prefixes and the admin API."""

from __future__ import annotations

import httpx
from cleanlist_ai.models.lists_page_response import ListsPageResponse
from cleanlist_ai.models.whoami_response import WhoamiResponse

from cleanlist_pipeline.testing import SandboxHandle

from .helpers import check_model


def test_origin_and_key_work_on_both_prefixes(api: httpx.Client) -> None:
    who = check_model(WhoamiResponse, api.get("/whoami").json())
    assert who.auth_type == "api_key" and who.user_email.startswith("s***@")
    page = check_model(ListsPageResponse, api.get("/lead-lists").json())
    assert {x.visibility for x in page.lists} == {"private", "organization", "shared"}
    assert page.total == len(page.lists)


def test_ledger_counts_requests_by_template(
    cleanlist_sandbox: SandboxHandle, api: httpx.Client
) -> None:
    api.get("/lead-lists")
    api.get("/lead-lists")
    assert cleanlist_sandbox.ledger()["requests"]["GET /lead-lists"] == 2
