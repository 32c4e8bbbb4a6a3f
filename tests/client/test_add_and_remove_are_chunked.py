"""add_leads sends ≤1000 ids per call and remove_leads ≤100, counted by the sandbox ledger."""

from __future__ import annotations

from collections.abc import Callable

from cleanlist_pipeline.api import CleanlistClient
from cleanlist_pipeline.testing import SandboxHandle


def test_2500_ids_are_added_in_three_calls(
    client: CleanlistClient,
    seeded_lead_ids: Callable[[int], list[str]],
    ledger_requests: Callable[[str], int],
) -> None:
    ids = seeded_lead_ids(2500)
    target = client.create_list("big target").list_id

    result = client.add_leads(target, ids)

    assert (result.added, result.skipped_duplicates, result.calls) == (2500, 0, 3)
    assert ledger_requests("POST /lead-lists/{list_id}/leads") == 3
    assert client.get_list(target).lead_count == 2500


def test_250_ids_are_removed_in_three_calls(
    client: CleanlistClient, cleanlist_sandbox: SandboxHandle, ledger_requests: Callable[[str], int]
) -> None:
    list_id = cleanlist_sandbox.seed_list("shrink", 300)
    ids = [lead.lead_id for lead in client.iter_leads(list_id)][:250]

    result = client.remove_leads(list_id, ids)

    assert (result.removed, result.calls) == (250, 3)
    assert ledger_requests("DELETE /lead-lists/{list_id}/leads") == 3
    assert client.get_list(list_id).lead_count == 50


def test_re_adding_the_same_ids_is_a_replay_not_a_second_add(
    client: CleanlistClient,
    cleanlist_sandbox: SandboxHandle,
    seeded_lead_ids: Callable[[int], list[str]],
) -> None:
    ids = seeded_lead_ids(20)
    target = client.create_list("dst").list_id
    client.add_leads(target, ids)
    client.add_leads(target, list(reversed(ids)))  # same content → same derived key
    assert cleanlist_sandbox.ledger()["adds"] == {"executed": 1, "replayed": 1}
