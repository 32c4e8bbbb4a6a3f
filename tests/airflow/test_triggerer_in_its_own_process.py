"""The embedded sandbox with the enrichment trigger running in a separate ``airflow triggerer``.

``dag.test()`` runs triggers inside the test process, next to the worker's embedded sandbox
thread, so a trigger that carried the worker's sandbox URL (a port that dies with the task
process) would still work there. Here nothing is configured — no connection, no key: every
process starts its own embedded sandbox thread over the one SQLite file in
``CLEANLIST_STATE_DIR`` — and a real scheduler runs the DAG while a real triggerer, in its own
process, waits for the enrichment. The run succeeds only if the trigger resolves the sandbox
itself, and the enrichment results are in the sandbox's database afterwards.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cleanlist_pipeline.sandbox.db import read_admin_token
from cleanlist_pipeline.sandbox.embedded import DB_NAME, EMBEDDED_API_KEY, ensure_embedded_sandbox
from cleanlist_pipeline.testing import SandboxHandle
from tests.airflow.services import SAMPLE_DROPS, airflow_services

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

DAG_ID = "cleanlist_drops"


def _last_month() -> str:
    """``YYYY-MM`` of the latest complete monthly interval: what unpausing schedules at once."""
    first = datetime.now(UTC).replace(day=1)
    return f"{(first - timedelta(days=1)):%Y-%m}"


def _task_logs(home: Path, run_id: str, task_id: str) -> dict[str, str]:
    """``{file name: text}`` of one task's log files: one per attempt, and one per triggerer
    that ran its trigger (``attempt=1.log.trigger.<triggerer job id>.log``)."""
    return {
        path.name: path.read_text(errors="replace")
        for path in sorted((home / "logs").rglob("*.log"))
        if f"run_id={run_id}" in str(path) and f"task_id={task_id}" in str(path)
    }


def _sandbox_ports(text: str) -> set[str]:
    return set(re.findall(r"embedded-sandbox at http://127\.0\.0\.1:(\d+)", text))


def test_deferred_sensor_completes_through_a_separate_triggerer_on_the_embedded_sandbox(
    tmp_path: Path,
) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    # dated in the last complete month: the run the scheduler creates on unpause imports it
    drop = f"{_last_month()}-acme-webinar.csv"
    shutil.copyfile(SAMPLE_DROPS / "2025-01-acme-webinar.csv", drops / drop)
    state = tmp_path / "state"
    env = {  # no AIRFLOW_CONN_CLEANLIST_DEFAULT, no CLEANLIST_API_KEY: the embedded sandbox
        "CLEANLIST_DROPS_DIR": str(drops),
        "CLEANLIST_DATA_DIR": str(tmp_path / "data"),
        "CLEANLIST_STATE_DIR": str(state),
        "CLEANLIST_LIST_NAME": "Triggerer drops",
        "CLEANLIST_ENRICHMENT_TYPE": "partial",
        "CLEANLIST_SANDBOX_ENRICH_SECONDS": "2",
        "CLEANLIST_SCHEDULE_CRON": "0 0 1 * *",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    }
    with airflow_services(env) as airflow:
        # (created unpaused, so the scheduler runs the last complete month at once: unpausing by
        # CLI is what the backfill test shows)
        (run,) = airflow.wait_for_runs(DAG_ID, "scheduled", count=1, timeout=180)
        states = airflow.task_states(DAG_ID, run["run_id"])
        assert run["state"] == "success", f"{states}\n{airflow.diagnostics()}"
        report = airflow.xcom(DAG_ID, run["run_id"], "import_report")
        dispatched = airflow.xcom(DAG_ID, run["run_id"], "enrich")
        waited = airflow.xcom(DAG_ID, run["run_id"], "wait_for_enrichment")
        snapshot = airflow.xcom(DAG_ID, run["run_id"], "snapshot")
        enrich_log = "\n".join(_task_logs(airflow.home, run["run_id"], "enrich").values())
        sensor_logs = _task_logs(airflow.home, run["run_id"], "wait_for_enrichment")

    assert [d["drop"].rsplit("/", 1)[-1] for d in report["drops"]] == [drop]
    # the sensor deferred; the trigger ran in the triggerer process (its log file is the
    # triggerer's) against a sandbox it resolved there — not on the port of a worker's sandbox
    worker = "\n".join(text for name, text in sensor_logs.items() if ".trigger." not in name)
    trigger = "\n".join(text for name, text in sensor_logs.items() if ".trigger." in name)
    assert "Pausing task as DEFERRED" in worker
    assert "Trigger fired event" in trigger, sorted(sensor_logs)
    trigger_ports = _sandbox_ports(trigger)
    worker_ports = _sandbox_ports(enrich_log) | _sandbox_ports(worker)
    assert trigger_ports and worker_ports and not trigger_ports & worker_ports
    assert dispatched and sorted(waited["workflows"]) == sorted(dispatched)
    assert {w["status"] for w in waited["workflows"].values()} == {"completed"}

    # the enrichment landed in the embedded sandbox's database (read through its admin API)
    server = ensure_embedded_sandbox(state)
    sandbox = SandboxHandle(server.origin, EMBEDDED_API_KEY, read_admin_token(state / DB_NAME))
    try:
        ledger = sandbox.ledger()
    finally:
        sandbox.close()
    list_id = report["list_id"]
    workflows = {w: ledger["workflows"][w] for w in dispatched}
    assert {w["status"] for w in workflows.values()} == {"completed"}
    assert {w["list_id"] for w in workflows.values()} == {list_id}
    assert ledger["lists"][list_id]["credits_charged"] > 0
    assert ledger["lists"][list_id]["lead_count"] == report["rows_imported"] > 0
    # … and the snapshot, taken after the sensor, holds the list
    assert pq.read_table(snapshot["path"]).num_rows == report["rows_imported"]
