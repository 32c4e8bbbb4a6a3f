"""Every documented operation works against a real sandbox process, on both API prefixes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cleanlist_pipeline.api import CleanlistClient, NotFoundError
from cleanlist_pipeline.testing import SandboxHandle

CSV = (
    b"email,first_name,last_name,company\na@example.com,Ann,Lee,Acme\nb@example.com,Bob,Ray,Beta\n"
)
MAPPING = {
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "company_name": "company",
}


def test_identity_calls_describe_the_key(client: CleanlistClient) -> None:
    me = client.whoami()
    assert me.organization_id and me.auth_type == "api_key"
    assert "lists:read" in me.scopes
    check = client.validate_key()
    assert check.valid is True and check.organization_id == me.organization_id
    balance = client.credits_balance()
    assert balance.organization_id == me.organization_id and balance.credits == 100_000


def test_validate_key_uses_the_v1_path_whatever_the_prefix(
    client: CleanlistClient, ledger_requests: Callable[[str], int]
) -> None:
    client.validate_key()
    assert ledger_requests("GET /auth/validate-key") == 1


def test_list_crud_round_trip(client: CleanlistClient) -> None:
    created = client.create_list("Q3 Outbound", description="first")
    assert created.reused is False and created.lead_count == 0
    again = client.create_list("q3 outbound")  # idempotent on name, case-insensitive
    assert again.reused is True and again.list_id == created.list_id

    fetched = client.get_list(created.list_id)
    assert (fetched.name, fetched.description) == ("Q3 Outbound", "first")

    renamed = client.update_list(created.list_id, name="Q4 Outbound", description=None)
    assert renamed.name == "Q4 Outbound" and renamed.description is None

    assert created.list_id in {s.list_id for s in client.iter_lists()}

    deleted = client.delete_list(created.list_id)
    assert deleted.deleted is True and deleted.already_deleted is False
    with pytest.raises(NotFoundError):
        client.get_list(created.list_id)


def test_iter_lists_filters_by_folder(
    client: CleanlistClient, cleanlist_sandbox: SandboxHandle
) -> None:
    folder = cleanlist_sandbox.seed_info()["folder_id"]
    in_folder = list(client.iter_lists(folder_id=folder))
    assert in_folder and all(s.folder_id == folder for s in in_folder)
    assert len(in_folder) < len(list(client.iter_lists()))


def test_leads_add_read_remove(
    client: CleanlistClient, seeded_lead_ids: Callable[[int], list[str]]
) -> None:
    ids = seeded_lead_ids(30)
    assert len(ids) == 30

    target = client.create_list("target").list_id
    added = client.add_leads(target, ids)
    assert (added.added, added.skipped_duplicates, added.calls) == (30, 0, 1)
    assert client.get_list(target).lead_count == 30

    removed = client.remove_leads(target, [*ids[:10], "not-a-lead"])
    assert removed.removed == 10
    assert client.get_list(target).lead_count == 20


def test_add_by_cohort_uses_the_page_task_id(
    client: CleanlistClient, cleanlist_sandbox: SandboxHandle
) -> None:
    source = cleanlist_sandbox.seed_list("cohort source", 12)
    page = next(client.iter_lead_pages(source, page_size=10))
    assert page.task_id and page.task_id.startswith("cl-task_")
    target = client.create_list("cohort target").list_id
    wanted = [lead.lead_id for lead in page.leads[:4]]
    result = client.add_leads(target, task_id=page.task_id, entity_ids=wanted)
    assert result.added == 4
    assert {lead.lead_id for lead in client.iter_leads(target)} == set(wanted)


def test_csv_import_then_enrich_and_poll(client: CleanlistClient) -> None:
    target = client.create_list("imports")
    imported = client.csv_import(target.list_id, CSV, MAPPING, idempotency_key="imp-1")
    assert (imported.rows_parsed, imported.rows_imported, imported.rows_skipped) == (2, 2, 0)
    assert imported.workflow_id is None and imported.idempotency_replayed is False

    quote = client.estimate_cost("enrich_list", list_id=target.list_id, scope="partial")
    assert quote.sufficient and quote.quote_id
    run = client.enrich_list(target.list_id, "partial", quote.quote_id)
    assert run.total_leads == 2
    by_id = client.enrichment_status(run.workflow_id)
    by_url = client.enrichment_status(run.poll_url)
    assert by_id.workflow_id == by_url.workflow_id == run.workflow_id
    assert by_id.lead_list_id == target.list_id


def test_csv_import_with_dispatch_returns_a_pollable_status_url(client: CleanlistClient) -> None:
    target = client.create_list("dispatch")
    result = client.csv_import(
        target.list_id,
        CSV,
        MAPPING,
        idempotency_key="imp-d",
        dispatch_enrichment=True,
        enrichment_type="partial",
    )
    assert result.workflow_id and result.enrichment_status_url
    assert result.enrichment_status_url.startswith(client.prefix)  # mirrors the called prefix
    status = client.enrichment_status(result.enrichment_status_url)
    assert status.workflow_id == result.workflow_id
    assert not status.is_terminal or status.status == "completed"


def test_enrich_by_task_and_poll_by_cohort_handle(
    client: CleanlistClient, cleanlist_sandbox: SandboxHandle
) -> None:
    source = cleanlist_sandbox.seed_list("by-task", 5)
    page = next(client.iter_lead_pages(source))
    assert page.task_id is not None
    quote = client.estimate_cost("enrich_by_task", task_id=page.task_id, data_points=["Email"])
    run = client.enrich_by_task(
        page.task_id, ["Email"], lead_list_id=source, quote_id=quote.quote_id
    )
    assert run.workflow_id and run.total_entities == 5
    # A cohort handle resolves to the workflow bound to it; `workflow_id` echoes the handle polled.
    status = client.enrichment_status(page.task_id)
    assert status.workflow_id == page.task_id
    assert (status.total, status.lead_list_id) == (5, source)


def test_csv_import_replay_is_surfaced(client: CleanlistClient) -> None:
    target = client.create_list("replays")
    first = client.csv_import(target.list_id, CSV, MAPPING, idempotency_key="same-key")
    second = client.csv_import(target.list_id, CSV, MAPPING, idempotency_key="same-key")
    assert first.idempotency_replayed is False and second.idempotency_replayed is True
    assert client.get_list(target.list_id).lead_count == 2
