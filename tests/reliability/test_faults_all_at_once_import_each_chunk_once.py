"""429 bursts, random 503s, added latency and commit-then-drop on csv-import, all at once.

The pipeline must still complete, and the sandbox's own ledger — not the pipeline's report —
must show every chunk imported exactly once, every dispatched lead charged once, and the list
holding exactly the drop's rows.
"""

from __future__ import annotations

import httpx
import pytest

from cleanlist_pipeline.testing import SandboxHandle

from .harness import Deployment, csv_bytes, find_list, lead_rows, list_lead_ids, wait_for

ROWS = 1200
ROWS_PER_CHUNK = 300  # → 4 chunks


@pytest.mark.slow
def test_every_fault_at_once_still_imports_each_chunk_once(
    deployment: Deployment, cleanlist_sandbox: SandboxHandle
) -> None:
    partition = deployment.add_drop("faults.csv", csv_bytes(lead_rows(ROWS, tag="f")))
    cleanlist_sandbox.set_faults(
        [
            {
                "method": "POST",
                "path": "csv-import",
                "latency_ms": 150,  # every csv-import request, hence every chunk
                "burst_429": 3,
                "p_429": 0.15,
                "p_503": 0.25,
                "p_drop": 0.4,
                "retry_after_s": 0.2,
            }
        ],
        seed=7,
    )

    outcome = deployment.run(
        partition,
        config={
            "max_rows_per_chunk": ROWS_PER_CHUNK,
            "dispatch_enrichment": True,
            "enrichment_type": "partial",
        },
    )
    assert outcome.success, outcome.failure_text

    ledger = cleanlist_sandbox.ledger()
    list_id, info = find_list(ledger, deployment.list_name)
    faults = ledger["faults"]["POST /lead-lists/{list_id}/csv-import"]
    # Every kind of fault really happened during the run.
    assert faults["429"] >= 3 and faults["503"] >= 1 and faults["drop"] >= 1, faults
    assert faults["latency"] >= ROWS // ROWS_PER_CHUNK, faults
    # More injected failures than chunks: on average every chunk was hit at least once.
    assert faults["429"] + faults["503"] + faults["drop"] >= ROWS // ROWS_PER_CHUNK, faults

    imports = cleanlist_sandbox.imports(list_id)
    executed = [i for i in imports if not i["replayed"]]
    by_key: dict[str, int] = {}
    for item in executed:
        by_key[item["idempotency_key_hash"]] = by_key.get(item["idempotency_key_hash"], 0) + 1
    assert len(by_key) == ROWS // ROWS_PER_CHUNK, imports
    assert set(by_key.values()) == {1}, f"a chunk was imported twice: {by_key}"
    # Dropped answers were recovered by replays, never by a second import.
    assert any(i["replayed"] for i in imports)
    assert sum(i["rows_imported"] for i in executed) == ROWS

    assert info["lead_count"] == ROWS
    lead_ids = list_lead_ids(cleanlist_sandbox.v2, cleanlist_sandbox.key, list_id)
    assert len(lead_ids) == len(set(lead_ids)) == ROWS

    # One workflow per executed import; together they cover each row once.
    workflows = {w: v for w, v in ledger["workflows"].items() if v["list_id"] == list_id}
    assert len(workflows) == len(by_key)
    assert sum(v["total"] for v in workflows.values()) == ROWS
    # Let the workflows settle (pay-for-results charges happen at settlement), then check that
    # no lead was charged twice.
    cleanlist_sandbox.clear_faults()
    cleanlist_sandbox.advance_clock(60)
    with httpx.Client(
        base_url=cleanlist_sandbox.v2, headers={"Authorization": f"Bearer {cleanlist_sandbox.key}"}
    ) as http:
        for workflow_id in workflows:
            http.get(f"/enrichment/status/{workflow_id}").raise_for_status()

    def all_settled() -> dict | None:
        current = cleanlist_sandbox.ledger()
        done = all(current["workflows"][w]["status"] == "completed" for w in workflows)
        return current if done else None

    settled = wait_for(all_settled, timeout=30, what="the enrichment workflows to settle")
    assert settled["charges"]["leads_charged_more_than_once"] == 0
    assert 0 < settled["charges"]["leads_charged"] <= ROWS
    assert settled["credits"]["reserved_open"] == 0
