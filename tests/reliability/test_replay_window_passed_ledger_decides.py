"""The API's 24 h idempotency window has passed: Dagster's own ledger must decide.

After the sandbox clock moves 25 h ahead, the server would import a re-sent chunk again (its
replay cache has expired). Re-materializing the partition must therefore send nothing at all;
``mode: force`` must import again, and say loudly that the list will hold duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cleanlist_pipeline.testing import SandboxHandle

from .harness import csv_bytes, find_list, lead_rows
from .inprocess import InProcessDeployment

ROWS = 450
ROWS_PER_CHUNK = 150  # → 3 chunks


LIST = "Replay window proof"


@pytest.fixture
def deployment(cleanlist_sandbox: SandboxHandle, tmp_path: Path) -> Iterator[InProcessDeployment]:
    dep = InProcessDeployment(tmp_path, cleanlist_sandbox.v2, cleanlist_sandbox.key, LIST)
    yield dep
    dep.close()


def test_rematerializing_after_the_replay_window_imports_nothing_and_force_does(
    deployment: InProcessDeployment, cleanlist_sandbox: SandboxHandle
) -> None:
    import dagster as dg

    partition = "window.csv"
    deployment.write(partition, csv_bytes(lead_rows(ROWS, tag="w")))
    config = {"max_rows_per_chunk": ROWS_PER_CHUNK}
    first = deployment.run(partition, config=config)
    assert first.success, first.message
    list_id, info = find_list(cleanlist_sandbox.ledger(), LIST)
    assert info["lead_count"] == ROWS
    sent_before = cleanlist_sandbox.ledger()["requests"].get(
        "POST /lead-lists/{list_id}/csv-import", 0
    )

    cleanlist_sandbox.advance_clock(25 * 3600)

    again = deployment.run(partition, config=config)
    assert again.success, again.message
    ledger = cleanlist_sandbox.ledger()
    assert ledger["requests"].get("POST /lead-lists/{list_id}/csv-import", 0) == sent_before, (
        "re-materializing sent chunks again although Dagster's ledger holds them"
    )
    assert ledger["lists"][list_id]["lead_count"] == ROWS
    assert ledger["lists"][list_id]["imports_executed"] == ROWS // ROWS_PER_CHUNK

    forced = deployment.run(partition, config={**config, "mode": "force"})
    assert forced.success, forced.message
    ledger = cleanlist_sandbox.ledger()
    assert ledger["lists"][list_id]["imports_executed"] == 2 * (ROWS // ROWS_PER_CHUNK)
    assert ledger["lists"][list_id]["lead_count"] == 2 * ROWS  # force: duplicates, as warned

    instance = deployment.instance
    warnings = [
        r.event_log_entry.user_message
        for r in instance.get_records_for_run(forced.run_id).records
        if r.event_log_entry.level >= 30 and "force" in r.event_log_entry.user_message
    ]
    assert any("duplicates" in w for w in warnings), warnings
    materialization = (
        instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("cleanlist_csv_import"), asset_partitions=[partition]
            ),
            limit=1,
        )
        .records[0]
        .asset_materialization
    )
    assert materialization is not None
    report = materialization.metadata["report"].value
    assert "force" in report and "duplicates" in report
