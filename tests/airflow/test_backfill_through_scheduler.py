"""A backfill over two months of dated drops, run by a real scheduler and dag-processor.

What a user does (README, "Airflow"): start the services, ``airflow dags unpause
cleanlist_drops``, ``airflow backfill create --dag-id cleanlist_drops --from-date … --to-date …``.
The backfill queues one run per month (the DAG's ``CronDataIntervalTimetable`` gives each a
month-long data interval); each run imports the drops dated in its month — and only those — into
the list, every drop exactly once.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cleanlist_pipeline.drop_scan import scan_drops
from cleanlist_pipeline.ingest import plan_file
from tests.airflow.services import SAMPLE_DROPS, airflow_services, connection_json

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

DAG_ID = "cleanlist_drops"
IN_WINDOW = ("2025-01-acme-webinar.csv", "2025-02-trade-show-badges.csv")
OUTSIDE = "2025-03-partner-referrals.csv"  # dated after the backfill: never imported by it


def test_backfill_of_two_months_imports_each_months_drops_once_through_the_scheduler(
    cleanlist_sandbox: Any, tmp_path: Path
) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    for name in (*IN_WINDOW, OUTSIDE):
        shutil.copyfile(SAMPLE_DROPS / name, drops / name)
    plans = {d.relative_path: plan_file(d.path) for d in scan_drops(drops)}
    env = {
        "CLEANLIST_DROPS_DIR": str(drops),
        "CLEANLIST_DATA_DIR": str(tmp_path / "data"),
        "CLEANLIST_STATE_DIR": str(tmp_path / "state"),
        "CLEANLIST_LIST_NAME": "Backfilled drops",
        "CLEANLIST_SCHEDULE_CRON": "0 0 1 * *",  # monthly: one backfill run per month
        "AIRFLOW_CONN_CLEANLIST_DEFAULT": connection_json(
            cleanlist_sandbox.v2, cleanlist_sandbox.key
        ),
    }
    with airflow_services(env, services=("api-server", "dag-processor")) as airflow:
        airflow.wait_for_dag(DAG_ID)
        airflow.cli("dags", "unpause", DAG_ID)
        # Created before the scheduler starts: on SQLite (one writer at a time) a busy scheduler
        # can hold the lock past sqlite's 5 s timeout and fail the command ("database is
        # locked"); in production the metadata database is PostgreSQL or MySQL.
        airflow.cli(
            "backfill", "create", "--dag-id", DAG_ID,
            "--from-date", "2025-01-01", "--to-date", "2025-02-28",
        )  # fmt: skip
        airflow.start("scheduler")
        runs = airflow.wait_for_runs(DAG_ID, "backfill", count=2, timeout=180)
        states = {r["run_id"]: airflow.task_states(DAG_ID, r["run_id"]) for r in runs}
        assert [r["state"] for r in runs] == ["success", "success"], (
            f"{states}\n{airflow.diagnostics()}"
        )
        assert [r["data_interval_start"][:10] for r in runs] == ["2025-01-01", "2025-02-01"]
        reports = [airflow.xcom(DAG_ID, r["run_id"], "import_report") for r in runs]

    # each run imported its own month's drop, and nothing else
    assert [[d["drop"].rsplit("/", 1)[-1] for d in rep["drops"]] for rep in reports] == [
        [IN_WINDOW[0]],
        [IN_WINDOW[1]],
    ]
    list_id = reports[0]["list_id"]
    assert reports[1]["list_id"] == list_id
    for rep, name in zip(reports, IN_WINDOW, strict=True):
        plan = plans[name]
        (drop,) = rep["drops"]
        # every row accounted for: records = sent + rejected + duplicates; sent = imported + skipped
        assert drop["data_records"] == plan.data_records
        assert drop["rejected"] + drop["removed_duplicates"] == len(plan.rejects) + len(
            plan.removed_duplicates
        )
        assert drop["rows_sent"] == plan.rows_planned
        assert drop["rows_imported"] + drop["rows_skipped"] == plan.rows_planned
        assert rep["imported_now"] == drop["rows_imported"] > 0

    # the API saw each chunk of the two drops once (no replays, no second import), the March
    # drop not at all, and the list holds exactly the imported rows
    ledger = cleanlist_sandbox.ledger()
    imports = cleanlist_sandbox.imports(list_id)
    chunks = sum(len(plans[name].chunks) for name in IN_WINDOW)
    assert len(imports) == chunks == len({i["idempotency_key_hash"] for i in imports})
    assert not any(i["replayed"] for i in imports)
    imported = sum(rep["rows_imported"] for rep in reports)
    assert sum(i["rows_imported"] for i in imports) == imported
    assert ledger["lists"][list_id]["lead_count"] == imported
    assert ledger["lists"][list_id]["imports_executed"] == chunks
