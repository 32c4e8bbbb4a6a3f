"""Derived idempotency keys: deterministic, ≤128 characters, separated by namespace and list,
and always sent by add_leads (one per ≤1000-id chunk)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from cleanlist_pipeline.api import CleanlistClient, add_leads_key, chunk_import_key

ids = st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=50)


@settings(max_examples=50, deadline=None)
@given(ns=st.text(max_size=300), list_id=st.text(max_size=300), lead_ids=ids)
def test_keys_are_short_and_order_insensitive(ns: str, list_id: str, lead_ids: list[str]) -> None:
    key = add_leads_key(ns, list_id, lead_ids)
    assert len(key) <= 128
    assert key == add_leads_key(ns, list_id, list(reversed(lead_ids)))
    assert key != add_leads_key(ns + "x", list_id, lead_ids)


def test_import_keys_separate_namespace_list_chunk_and_salt() -> None:
    sha = "ab" * 32
    base = chunk_import_key("prod", "list-1", sha)
    assert base == chunk_import_key("prod", "list-1", sha) and base.startswith("clp-imp-")
    others = {
        chunk_import_key("staging", "list-1", sha),
        chunk_import_key("prod", "list-2", sha),
        chunk_import_key("prod", "list-1", "cd" * 32),
        chunk_import_key("prod", "list-1", sha, salt="again"),
    }
    assert base not in others and len(others) == 4
    # Length-prefixed parts: moving a character between parts changes the key.
    assert chunk_import_key("ab", "c", sha) != chunk_import_key("a", "bc", sha)


def test_add_leads_sends_one_key_per_chunk(mock_client: Callable[..., CleanlistClient]) -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body["idempotency_key"])
        n = len(body["lead_ids"])
        return httpx.Response(200, json={"list_id": "l", "added": n, "skipped_duplicates": 0})

    client = mock_client(handler)
    lead_ids = [f"lead-{i}" for i in range(2100)]
    result = client.add_leads("l", lead_ids)
    assert (result.added, result.calls) == (2100, 3)
    assert len(set(sent)) == 3 and all(len(k) <= 128 for k in sent)
    client.add_leads("l", lead_ids)
    assert sent[3:] == sent[:3]  # same content → same keys → the server replays, adds nothing

    sent.clear()
    client.add_leads("l", lead_ids[:10], idempotency_key="caller-key")
    assert sent == ["caller-key"]
