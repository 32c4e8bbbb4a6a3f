"""Pagination follows the server's opaque cursors, stops at the end, and never loops forever."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from cleanlist_pipeline.api import CleanlistClient, PaginationError
from cleanlist_pipeline.testing import SandboxHandle


def test_all_lead_pages_are_read_with_each_page_task_id(
    client: CleanlistClient, cleanlist_sandbox: SandboxHandle, ledger_requests: Callable[[str], int]
) -> None:
    list_id = cleanlist_sandbox.seed_list("paged", 1234)
    pages = list(client.iter_lead_pages(list_id, page_size=500))
    assert [len(p.leads) for p in pages] == [500, 500, 234]
    assert all(p.total == 1234 for p in pages)
    assert len({p.task_id for p in pages}) == 3  # one cohort handle per page
    ids = [lead.lead_id for p in pages for lead in p.leads]
    assert len(set(ids)) == 1234
    assert ledger_requests("GET /lead-lists/{list_id}/leads") == 3
    # The sandbox's cursors are not offsets: a client that fabricated "500" would fail.
    assert pages[0].cursor is not None and not pages[0].cursor.isdigit()


def test_iter_leads_matches_iter_lead_pages(
    client: CleanlistClient, cleanlist_sandbox: SandboxHandle
) -> None:
    list_id = cleanlist_sandbox.seed_list("flat", 260)
    assert len(list(client.iter_leads(list_id, page_size=100))) == 260


def test_all_list_pages_are_read(client: CleanlistClient, cleanlist_sandbox: SandboxHandle) -> None:
    before = {s.list_id for s in client.iter_lists()}
    for i in range(7):
        client.create_list(f"many {i}")
    pages = list(client.iter_list_pages(page_size=3))
    seen = [s.list_id for p in pages for s in p.lists]
    assert len(pages) >= 3 and len(seen) == len(set(seen)) == len(before) + 7
    assert pages[-1].cursor in (None, "")


def test_repeated_cursor_fails_loudly(mock_client: Callable[..., CleanlistClient]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # A buggy server: every page points at the same "next" cursor.
        return httpx.Response(
            200,
            json={"list_id": "l1", "leads": [{"lead_id": "x"}], "total": 99, "cursor": "c-same"},
        )

    client = mock_client(handler)
    with pytest.raises(PaginationError, match="reuse a cursor"):
        list(client.iter_leads("l1"))


def test_empty_string_cursor_ends_pagination(mock_client: Callable[..., CleanlistClient]) -> None:
    calls: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params.get("cursor"))
        return httpx.Response(200, json={"lists": [], "total": 0, "cursor": ""})

    assert list(mock_client(handler).iter_lists()) == []
    assert calls == [None]


def test_cursor_is_passed_back_verbatim(mock_client: Callable[..., CleanlistClient]) -> None:
    opaque = "eyJrIjogInYxIn0=/+?&"  # characters that must survive URL encoding untouched
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        seen.append(cursor)
        nxt = opaque if cursor is None else None
        return httpx.Response(
            200,
            json={
                "lists": [{"list_id": "a", "name": "A", "lead_count": 0}],
                "total": 2,
                "cursor": nxt,
            },
        )

    assert len(list(mock_client(handler).iter_lists())) == 2
    assert seen == [None, opaque]
