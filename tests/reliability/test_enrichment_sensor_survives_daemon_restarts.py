"""The enrichment sensor across daemon deaths: nothing forgotten, nothing done twice.

Each tick runs in a fresh process (a daemon start). Two ticks die with ``os._exit`` at the worst
moment — after their observations were written and their runs launched, before their cursor
was saved — as a daemon killed by its supervisor would. Afterwards every dispatched workflow has
exactly one "terminal" observation and the list exactly one snapshot run.

An imitation of the daemon: ``sensor_tick.py`` drives the project's own ``tick_sensor`` and dies
at a patched cursor save, so it pins the worst moment exactly. A real ``dagster-daemon``
SIGKILLed mid-run is ``test_real_daemon_killed_mid_tick.py``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from cleanlist_pipeline.dagster_layer.enrichment import PollPolicy
from cleanlist_pipeline.testing import SandboxHandle

from .harness import Deployment, csv_bytes, find_list, lead_rows

ROWS = 300
ROWS_PER_CHUNK = 100  # → 3 chunks → 3 workflows


def _terminal_observations(instance: Any) -> dict[str, int]:
    import dagster as dg

    from cleanlist_pipeline.dagster_layer.enrichment import ENRICHMENT_KEY, EVENT

    counts: dict[str, int] = {}
    cursor = None
    while True:
        result = instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=ENRICHMENT_KEY), limit=500, cursor=cursor
        )
        for record in result.records:
            meta = record.asset_observation.metadata
            if getattr(meta.get(EVENT), "value", None) == "terminal":
                wid = str(meta["workflow_id"].value)
                counts[wid] = counts.get(wid, 0) + 1
        if not result.has_more:
            return counts
        cursor = result.cursor


@pytest.mark.slow
def test_sensor_survives_daemon_deaths_without_forgetting_or_repeating(
    deployment: Deployment, cleanlist_sandbox: SandboxHandle
) -> None:
    # Workflows stay running until the test moves the sandbox clock: ticks see them finish
    # exactly when the test says so, whatever the machine's speed.
    cleanlist_sandbox.settings(enrich_seconds=600)
    partition = deployment.add_drop("enrich.csv", csv_bytes(lead_rows(ROWS, tag="e")))
    imported = deployment.run(
        partition,
        config={
            "max_rows_per_chunk": ROWS_PER_CHUNK,
            "dispatch_enrichment": True,
            "enrichment_type": "partial",
        },
    )
    assert imported.success, imported.failure_text
    ledger = cleanlist_sandbox.ledger()
    list_id, _ = find_list(ledger, deployment.list_name)
    workflows = {w for w, v in ledger["workflows"].items() if v["list_id"] == list_id}
    assert len(workflows) == ROWS // ROWS_PER_CHUNK

    # Daemon starts, adopts the workflows, dies before saving what it adopted.
    deployment.tick(die=True)
    # Restarted daemon: its cursor is the old one; it must find the workflows again.
    deployment.tick()
    cleanlist_sandbox.advance_clock(900)  # every workflow is now past its enrichment time
    # The sensor re-polls a running workflow only after its interval.
    time.sleep(PollPolicy().min_interval_s + 0.5)
    # The tick that sees them finish writes terminal observations, launches the snapshot,
    # then dies before its cursor is saved.
    deployment.tick(die=True)
    after_restart = deployment.tick()

    assert after_restart is not None
    assert after_restart["launched"] == [], "the restarted daemon launched the snapshot again"
    with deployment.instance() as instance:
        terminal = _terminal_observations(instance)
        assert set(terminal) == workflows, "a workflow was forgotten"
        assert set(terminal.values()) == {1}, f"a workflow was observed finished twice: {terminal}"
        snapshot_runs = [
            r
            for r in instance.get_runs()
            if r.job_name == "cleanlist_snapshot_job" and r.tags.get("cleanlist/list_id") == list_id
        ]
        assert len(snapshot_runs) == 1, [r.run_id for r in snapshot_runs]
