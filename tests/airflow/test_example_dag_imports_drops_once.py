"""The example DAG under real Airflow 3 (``dag.test()``) against a real sandbox process.

One run imports the sample drops (every row accounted for), enriches through the deferrable
sensor (its trigger serialized and rebuilt, as in a triggerer), and snapshots the list; clearing
and re-running imports nothing — also after the sandbox clock passes the API's 24 h replay window,
because the ledger outlives both Airflow's run state and the API's memory. The key is in no XCom,
rendered template or log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from cleanlist_pipeline.api import CleanlistClient
from cleanlist_pipeline.drop_scan import scan_drops
from cleanlist_pipeline.ingest import plan_file
from tests.airflow.airflow_home import AIRFLOW_HOME, SAMPLE_DROPS
from tests.airflow.dag_runs import (
    forget_xcoms,
    metadata_text,
    run_dag,
    task_states,
    task_tries,
    xcom_value,
)

pytestmark = pytest.mark.usefixtures("airflow_db")

DAY = 24 * 3600


def _expected(drops: Path) -> tuple[int, int, int]:
    """(data records, rejected + duplicates removed, rows sent) of the drops, from ingest."""
    records = removed = sent = 0
    for drop in scan_drops(drops):
        plan = plan_file(drop.path)
        records += plan.data_records
        removed += len(plan.rejects) + len(plan.removed_duplicates)
        sent += plan.rows_planned
    return records, removed, sent


def test_example_dag_imports_enriches_snapshots_and_never_imports_twice(
    cleanlist_sandbox: Any,
    airflow_env: Any,
    drops_copy: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    env = airflow_env(cleanlist_sandbox, drops_copy, enrichment_type="partial")
    records, removed, sent = _expected(drops_copy)

    first = run_dag()
    states = task_states(first)
    assert str(first.state) == "success", states
    report = xcom_value(first, "import_report")
    list_id = report["list_id"]

    # every row accounted for: records = sent + rejected/duplicates; sent = imported + skipped
    assert sum(d["data_records"] for d in report["drops"]) == records
    assert sum(d["rejected"] + d["removed_duplicates"] for d in report["drops"]) == removed
    assert sum(d["rows_sent"] for d in report["drops"]) == sent
    assert report["rows_imported"] + report["rows_skipped"] == sent
    ledger = cleanlist_sandbox.ledger()
    assert ledger["lists"][list_id]["lead_count"] == report["rows_imported"] == report["imported_now"]
    assert ledger["csv_imports"]["replayed"] == 0

    # the sensor deferred, and its trigger (rebuilt from its serialized kwargs) saw every workflow
    waited = xcom_value(first, "wait_for_enrichment")
    dispatched = xcom_value(first, "enrich")
    assert dispatched and sorted(waited["workflows"]) == sorted(dispatched)
    assert {w["status"] for w in waited["workflows"].values()} == {"completed"}
    out = capfd.readouterr()
    text = out.out + out.err
    assert "Pausing task as DEFERRED" in text  # the sensor deferred: no worker slot held
    assert f"Waiting for {len(dispatched)} enrichment workflow(s)" in text

    # the snapshot equals the list, read back with pyarrow
    snap = xcom_value(first, "snapshot")
    table = pq.read_table(snap["path"])
    with CleanlistClient(cleanlist_sandbox.key, cleanlist_sandbox.v2, rate_limit=None) as api:
        leads = list(api.iter_leads(list_id))
    assert table.num_rows == len(leads) == ledger["lists"][list_id]["lead_count"]
    assert sorted(table.column("lead_id").to_pylist()) == sorted(x.lead_id for x in leads)
    emails = dict(zip(table.column("lead_id").to_pylist(), table.column("email").to_pylist(), strict=True))
    assert all(emails[x.lead_id] == x.email for x in leads)

    # the first run's Airflow state goes (as clearing it or `airflow db clean` would); a re-run
    # finds every chunk in the ledger and sends nothing
    forget_xcoms(first)
    assert xcom_value(first, "import_report") is None
    csv_requests = ledger["requests"].get("POST /lead-lists/{list_id}/csv-import", 0)
    second = run_dag()
    assert str(second.state) == "success", task_states(second)
    again = xcom_value(second, "import_report")
    assert again["imported_now"] == 0 and again["rows_imported"] == report["rows_imported"]
    assert xcom_value(second, "enrich") == []
    after = cleanlist_sandbox.ledger()
    assert after["requests"].get("POST /lead-lists/{list_id}/csv-import", 0) == csv_requests
    assert after["lists"][list_id]["lead_count"] == report["rows_imported"]

    # past the API's 24 h replay window the API would import again: the ledger still refuses
    cleanlist_sandbox.advance_clock(DAY + 3600)
    third = run_dag()
    assert str(third.state) == "success", task_states(third)
    late = cleanlist_sandbox.ledger()
    assert late["lists"][list_id]["lead_count"] == report["rows_imported"]
    assert late["csv_imports"]["executed"] == ledger["csv_imports"]["executed"]

    # the key is in no XCom, rendered template, log file or log line; no lead's data in XComs
    key = cleanlist_sandbox.key
    stored = metadata_text("xcom", "rendered_task_instance_fields", "task_instance")
    assert key not in stored
    some_emails = [x.email for x in leads if x.email][:50]
    assert some_emails and not [e for e in some_emails if e in stored]
    for log_file in Path(env["CLEANLIST_STATE_DIR"]).parent.rglob("*.log"):
        assert key not in log_file.read_text(errors="replace"), log_file
    for log_file in (AIRFLOW_HOME / "logs").rglob("*"):
        if log_file.is_file():
            assert key not in log_file.read_text(errors="replace"), log_file
    out = capfd.readouterr()
    assert key not in text + out.out + out.err


def test_chunk_whose_answer_is_lost_after_commit_is_retried_and_imported_once(
    cleanlist_sandbox: Any, airflow_env: Any, tmp_path: Path
) -> None:
    drops = tmp_path / "two-drops"
    drops.mkdir()
    for name in ("2025-01-acme-webinar.csv", "2025-05-research-notes.csv"):
        (drops / name).write_bytes((SAMPLE_DROPS / name).read_bytes())
    # one attempt per call: the lost answer fails the task, and Airflow's retry re-sends it
    airflow_env(cleanlist_sandbox, drops, list_name="Lost answers", max_attempts=1)
    cleanlist_sandbox.set_faults([{"method": "POST", "path": "csv-import", "drop_next": 1}])

    run = run_dag()
    assert str(run.state) == "success", task_states(run)
    report = xcom_value(run, "import_report")
    ledger = cleanlist_sandbox.ledger()
    assert ledger["faults"]["POST /lead-lists/{list_id}/csv-import"]["drop"] == 1
    # two chunks: both executed once; the re-sent one was a replay, not a second import
    assert ledger["csv_imports"] == {"executed": 2, "replayed": 1}
    assert ledger["lists"][report["list_id"]]["lead_count"] == report["rows_imported"]
    assert report["rows_imported"] + report["rows_skipped"] == sum(
        d["rows_planned"] for d in report["drops"]
    )
    retried = [t for t, n in task_tries(run).items() if t.startswith("import_chunks") and n > 1]
    assert len(retried) == 1, task_tries(run)


def test_report_fails_naming_the_drop_whose_chunks_could_not_be_imported(
    cleanlist_sandbox: Any, airflow_env: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    drops = tmp_path / "one-drop"
    drops.mkdir()
    name = "2025-05-research-notes.csv"
    (drops / name).write_bytes((SAMPLE_DROPS / name).read_bytes())
    airflow_env(cleanlist_sandbox, drops, list_name="Never answered", max_attempts=1)
    cleanlist_sandbox.set_faults([{"method": "POST", "path": "csv-import", "p_503": 1.0}])

    run = run_dag()
    states = task_states(run)
    assert str(run.state) == "failed", states
    assert states["import_chunks[0]"] == "failed" and states["import_report"] == "failed"
    assert task_tries(run)["import_chunks[0]"] == 4  # the first try and 3 retries
    assert states["snapshot"] == "upstream_failed"
    assert xcom_value(run, "import_report") is None
    out = capfd.readouterr()
    assert f"1 drop(s) not fully imported: {name} (39 rows not imported)" in out.out + out.err
    ledger = cleanlist_sandbox.ledger()
    assert ledger["csv_imports"]["executed"] == 0
    assert all(v["lead_count"] == 0 for k, v in ledger["lists"].items() if v["name"] == "Never answered")
