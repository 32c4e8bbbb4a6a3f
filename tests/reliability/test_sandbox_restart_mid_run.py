"""The API goes away mid-run (process killed), stays unreachable for a while, then comes back.

The running step must either recover by retrying or fail with a message that says the API could
not be reached; either way a later run completes, and the list holds every row exactly once.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from .harness import (
    Deployment,
    csv_bytes,
    find_list,
    lead_rows,
    list_lead_ids,
    parse_outcome,
    sandbox_process,
    wait_for,
)

ROWS = 500
ROWS_PER_CHUNK = 100  # → 5 chunks
DOWN_SECONDS = 4.0


@pytest.mark.slow
def test_api_restarted_mid_run_then_later_run_completes_without_duplicates(tmp_path: Path) -> None:
    (tmp_path / "sandbox").mkdir()
    with sandbox_process(tmp_path / "sandbox", enrich_seconds=1.0) as sandbox:
        deployment = Deployment(root=tmp_path / "deploy", base_url=sandbox.v2, api_key=sandbox.key)
        partition = deployment.add_drop("restart.csv", csv_bytes(lead_rows(ROWS, tag="s")))
        sandbox.admin(
            "POST",
            "/faults",
            json={
                "seed": 1,
                "rules": [{"method": "POST", "path": "csv-import", "latency_ms": 800}],
            },
        )

        started = time.monotonic()
        proc, out, err = deployment.spawn(partition, config={"max_rows_per_chunk": ROWS_PER_CHUNK})
        wait_for(
            lambda: len(sandbox.imports()) >= 1,
            timeout=120,
            what="a first chunk import",
            interval=0.05,
        )
        sandbox.kill()  # abrupt: connections in flight are cut
        time.sleep(DOWN_SECONDS)
        sandbox.start()  # same port, same database
        proc.wait(240)
        first = parse_outcome(proc.returncode, out, err, time.monotonic() - started)
        list_id, info = find_list(sandbox.ledger(), deployment.list_name)
        if first.success:
            # Recovered by retrying through the outage: then every row is in already, and the
            # run lasted at least as long as the API was down.
            assert info["lead_count"] == ROWS, info
            assert first.seconds >= DOWN_SECONDS, first.seconds
        else:
            # Failed: with the chunk step's own message (not just any text that says
            # "connect"), naming the call and the unreachable origin, and no key in it.
            failures = "\n".join(first.failures)
            assert "the API did not answer after the client's retries" in failures, failures
            origin = re.escape(sandbox.v2.split("/api/", 1)[0])
            assert re.search(
                rf"POST /api/v2/lead-lists/[^ ]+/csv-import got no answer from {origin} "
                r"\((ConnectError|ConnectTimeout|ReadError|ReadTimeout|RemoteProtocolError|"
                r"WriteError)\)",
                failures,
            ), failures
            assert sandbox.key not in first.failure_text

        sandbox.admin("DELETE", "/faults")
        later = deployment.run(partition, config={"max_rows_per_chunk": ROWS_PER_CHUNK})
        assert later.success, later.failure_text

        list_id, info = find_list(sandbox.ledger(), deployment.list_name)
        assert info["lead_count"] == ROWS
        ids = list_lead_ids(sandbox.v2, sandbox.key, list_id)
        assert len(ids) == len(set(ids)) == ROWS
        executed: dict[str, int] = {}
        for item in sandbox.imports(list_id):
            if not item["replayed"]:
                key = item["idempotency_key_hash"]
                executed[key] = executed.get(key, 0) + 1
        assert set(executed.values()) == {1}, executed
