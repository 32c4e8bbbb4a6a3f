"""With the sandbox's faults on, the client waits out 429 bursts, retries 503s, and retries
dropped answers only where an idempotency key makes a repeat safe."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from cleanlist_pipeline.api import CleanlistClient, OutcomeUnknownError, RetryPolicy
from cleanlist_pipeline.testing import SandboxHandle

CSV = b"email,first_name\na@example.com,Ann\nb@example.com,Bob\nc@example.com,Cy\n"


def test_429_burst_is_waited_out_for_at_least_retry_after(
    client: CleanlistClient, cleanlist_sandbox: SandboxHandle
) -> None:
    cleanlist_sandbox.set_faults([{"path": "/whoami", "burst_429": 2, "retry_after_s": 1.0}])
    started = time.monotonic()
    me = client.whoami()
    waited = time.monotonic() - started
    assert me.organization_id
    assert waited >= 2.0  # two refusals, each advertising 1 s
    ledger = cleanlist_sandbox.ledger()
    assert ledger["faults"]["GET /whoami"]["429"] == 2
    assert ledger["requests"]["GET /whoami"] == 3


def test_random_503s_are_retried(client: CleanlistClient, cleanlist_sandbox: SandboxHandle) -> None:
    list_id = client.create_list("flaky").list_id
    cleanlist_sandbox.set_faults([{"method": "GET", "path": "/lead-lists/", "p_503": 0.4}], seed=7)
    for _ in range(15):
        assert client.get_list(list_id).list_id == list_id
    ledger = cleanlist_sandbox.ledger()
    injected = ledger["faults"]["GET /lead-lists/{list_id}"]["503"]
    assert injected > 0
    assert ledger["requests"]["GET /lead-lists/{list_id}"] == 15 + injected


def test_dropped_csv_import_is_retried_and_imports_and_charges_once(
    client: CleanlistClient, cleanlist_sandbox: SandboxHandle
) -> None:
    list_id = client.create_list("drop import").list_id
    cleanlist_sandbox.set_faults([{"method": "POST", "path": "csv-import", "drop_next": 1}])

    result = client.csv_import(
        list_id,
        CSV,
        {"email": "email", "first_name": "first_name"},
        idempotency_key="drop-1",
        dispatch_enrichment=True,
        enrichment_type="partial",
    )

    assert result.rows_imported == 3 and result.workflow_id
    assert result.idempotency_replayed is True  # the answer came from the server's key cache
    ledger = cleanlist_sandbox.ledger()
    assert ledger["csv_imports"] == {"executed": 1, "replayed": 1}
    assert ledger["lists"][list_id]["imports_executed"] == 1
    assert ledger["lists"][list_id]["lead_count"] == 3
    assert len(ledger["workflows"]) == 1  # one dispatch → one reservation/charge
    assert ledger["charges"]["leads_charged_more_than_once"] == 0
    assert ledger["faults"]["POST /lead-lists/{list_id}/csv-import"]["drop"] == 1


def test_dropped_add_leads_is_retried_and_adds_once(
    client: CleanlistClient,
    cleanlist_sandbox: SandboxHandle,
    seeded_lead_ids: Callable[[int], list[str]],
) -> None:
    ids = seeded_lead_ids(40)
    target = client.create_list("drop add").list_id
    cleanlist_sandbox.set_faults([{"method": "POST", "path": "/leads", "drop_next": 1}])

    result = client.add_leads(target, ids)

    assert result.added == 40
    ledger = cleanlist_sandbox.ledger()
    assert ledger["adds"] == {"executed": 1, "replayed": 1}
    assert ledger["lists"][target]["lead_count"] == 40
    assert ledger["requests"]["POST /lead-lists/{list_id}/leads"] == 2


def test_dropped_enrichment_dispatch_is_not_repeated_blindly(
    client: CleanlistClient, cleanlist_sandbox: SandboxHandle
) -> None:
    list_id = cleanlist_sandbox.seed_list("dispatch", 10)
    quote = client.estimate_cost("enrich_list", list_id=list_id, scope="partial")
    cleanlist_sandbox.set_faults([{"method": "POST", "path": "enrichment/bulk", "drop_next": 1}])

    with pytest.raises(OutcomeUnknownError, match="before dispatching again"):
        client.enrich_list(list_id, "partial", quote.quote_id)

    ledger = cleanlist_sandbox.ledger()
    assert ledger["requests"]["POST /enrichment/bulk"] == 1
    assert len(ledger["workflows"]) == 1  # it did run: the caller must look it up, not resend


def test_retries_stop_at_the_total_wait_cap(
    make_client: Callable[..., CleanlistClient], prefix: str, cleanlist_sandbox: SandboxHandle
) -> None:
    from cleanlist_pipeline.api import RateLimitedError

    client = make_client(prefix, retry=RetryPolicy(max_total_wait=1.5))
    cleanlist_sandbox.set_faults([{"path": "/whoami", "burst_429": 5, "retry_after_s": 1.0}])
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as info:
        client.whoami()
    assert time.monotonic() - started < 3.0
    assert info.value.retry_after == pytest.approx(1.0)
    # One 1 s wait fits the 1.5 s cap; a second would not, so the call fails after 2 attempts.
    assert cleanlist_sandbox.ledger()["requests"]["GET /whoami"] == 2


def test_each_attempt_is_logged_without_bodies(
    client: CleanlistClient, cleanlist_sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import re

    caplog.set_level(logging.DEBUG, logger="cleanlist_pipeline.api")
    cleanlist_sandbox.set_faults([{"path": "/whoami", "burst_429": 1, "retry_after_s": 0.2}])
    client.whoami()
    lines = [r.getMessage() for r in caplog.records if r.name == "cleanlist_pipeline.api"]
    path = f"{client.prefix}/whoami"
    refused = [m for m in lines if m.startswith(f"GET {path} -> 429")]
    assert len(refused) == 1
    assert re.search(r"-> 429 rate_limited in \d+ ms \(request_id=req_\w+, attempt 1\)", refused[0])
    assert any(m.startswith(f"GET {path}: retrying in 0.20s") for m in lines)
    assert any(re.match(rf"GET {path} -> 200 in \d+ ms \(.*attempt 2\)", m) for m in lines)
    assert not any("organization_id" in m or "s***@" in m for m in lines)  # no bodies
