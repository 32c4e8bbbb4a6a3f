"""The API's 24 h idempotency window has passed: Dagster's own ledger must decide.

After the sandbox clock moves 25 h ahead, the server would import a re-sent chunk again (its
replay cache has expired). Re-materializing the partition must therefore send nothing at all;
``mode: force`` must import again, and say loudly that the list will hold duplicates.
"""

from __future__ import annotations

import pytest

from cleanlist_pipeline.testing import SandboxHandle

from .harness import Deployment, csv_bytes, find_list, lead_rows

ROWS = 450
ROWS_PER_CHUNK = 150  # → 3 chunks


@pytest.mark.slow
def test_rematerializing_after_the_replay_window_imports_nothing_and_force_does(
    deployment: Deployment, cleanlist_sandbox: SandboxHandle
) -> None:
    import dagster as dg

    partition = deployment.add_drop("window.csv", csv_bytes(lead_rows(ROWS, tag="w")))
    config = {"max_rows_per_chunk": ROWS_PER_CHUNK}
    first = deployment.run(partition, config=config)
    assert first.success, first.failure_text
    list_id, info = find_list(cleanlist_sandbox.ledger(), deployment.list_name)
    assert info["lead_count"] == ROWS
    sent_before = cleanlist_sandbox.ledger()["requests"].get(
        "POST /lead-lists/{list_id}/csv-import", 0)

    cleanlist_sandbox.advance_clock(25 * 3600)

    again = deployment.run(partition, config=config)
    assert again.success, again.failure_text
    ledger = cleanlist_sandbox.ledger()
    assert ledger["requests"].get("POST /lead-lists/{list_id}/csv-import", 0) == sent_before, (
        "re-materializing sent chunks again although Dagster's ledger holds them"
    )
    assert ledger["lists"][list_id]["lead_count"] == ROWS
    assert ledger["lists"][list_id]["imports_executed"] == ROWS // ROWS_PER_CHUNK

    forced = deployment.run(partition, config={**config, "mode": "force"})
    assert forced.success, forced.failure_text
    ledger = cleanlist_sandbox.ledger()
    assert ledger["lists"][list_id]["imports_executed"] == 2 * (ROWS // ROWS_PER_CHUNK)
    assert ledger["lists"][list_id]["lead_count"] == 2 * ROWS  # force: duplicates, as warned

    with deployment.instance() as instance:
        warnings = [
            r.event_log_entry.user_message
            for r in instance.get_records_for_run(forced.run_id).records
            if r.event_log_entry.level >= 30 and "force" in r.event_log_entry.user_message
        ]
        assert any("duplicates" in w for w in warnings), warnings
        materialization = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("cleanlist_csv_import"),
                                  asset_partitions=[partition]),
            limit=1,
        ).records[0].asset_materialization
        assert materialization is not None
        report = materialization.metadata["report"].value
        assert "force" in report and "duplicates" in report
