"""Example DAG ``cleanlist_drops``: import CSV drops into a Cleanlist list, enrich, snapshot.

Configured like the CLI — ``CLEANLIST_DROPS_DIR``, ``CLEANLIST_LIST_NAME`` or
``CLEANLIST_LIST_ID``, ``CLEANLIST_DATA_DIR``, ``CLEANLIST_ENRICHMENT_TYPE``,
``CLEANLIST_MAX_CREDITS``, ``CLEANLIST_SCHEDULE_CRON`` — read once by ``settings_from_env``, and
the Airflow connection ``cleanlist_default`` (password = API key, host = base URL). Without that
connection (and without ``CLEANLIST_API_KEY``) it runs against the embedded sandbox with the
sample drops.

Which drops a run imports:

* scheduled and backfill runs: the drops dated in their data interval (date from the file name,
  else the modification time). The schedule is a ``CronDataIntervalTimetable``: Airflow 3's plain
  cron strings give zero-length intervals.
* manual runs (``airflow dags trigger cleanlist_drops``, ``airflow dags test cleanlist_drops``,
  or the param ``all_drops: true``): every drop. The ledger (objects under
  ``<data dir>/ledger``) leaves out every chunk imported before, by any run.

Months of history: ``airflow backfill create --dag-id cleanlist_drops --from-date 2025-01-01
--to-date 2025-06-30`` (scheduler and dag-processor running; the triggerer too for the sensor).
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from cleanlist_pipeline.airflow.enrich import CleanlistEnrichOperator
from cleanlist_pipeline.airflow.operators import (
    CleanlistImportChunksOperator,
    CleanlistPlanDropsOperator,
)
from cleanlist_pipeline.airflow.report import CleanlistImportReportOperator
from cleanlist_pipeline.airflow.sensor import CleanlistEnrichmentSensor
from cleanlist_pipeline.airflow.snapshot import CleanlistSnapshotOperator
from cleanlist_pipeline.settings import settings_from_env

settings = settings_from_env()
REPORT = "{{ ti.xcom_pull(task_ids='import_report')"
# plain-http object stores off loopback are refused unless the settings allow them
STORE = {"allow_insecure_object_store": settings.allow_insecure_object_store}

with DAG(
    dag_id="cleanlist_drops",
    description="CSV drops → Cleanlist list (chunked, idempotent) → enrichment → Parquet",
    schedule=CronDataIntervalTimetable(settings.schedule_cron, timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    params={
        "all_drops": Param(
            False, type="boolean", description="Import every drop not imported yet"
        )
    },
    tags=["cleanlist"],
) as dag:
    plan = CleanlistPlanDropsOperator(
        task_id="plan_drops",
        drops_dir=settings.drops_dir or "",
        data_dir=settings.data_dir,
        list_name=settings.list_name,
        list_id=settings.list_id,
        rejects_formula_guard=settings.rejects_formula_guard,
        **STORE,
    )
    # each chunk group is a task instance with its own retries: a lost answer is re-sent under
    # the same idempotency key (replayed, not imported twice)
    chunks = CleanlistImportChunksOperator.partial(
        task_id="import_chunks", data_dir=settings.data_dir, retries=3, **STORE
    ).expand(chunk_group=plan.output)
    report = CleanlistImportReportOperator(
        task_id="import_report",
        plan_task_id="plan_drops",
        chunks_task_id="import_chunks",
        data_dir=settings.data_dir,
        **STORE,
    )
    enrich = CleanlistEnrichOperator(
        task_id="enrich",
        list_id=REPORT + "['list_id'] }}",
        new_rows=REPORT + "['imported_now'] }}",
        enrichment_type=settings.enrichment_type or "",
        max_credits=settings.max_credits,
    )
    wait = CleanlistEnrichmentSensor(
        task_id="wait_for_enrichment", workflow_ids=enrich.output, poke_interval=2.0
    )
    snapshot = CleanlistSnapshotOperator(
        task_id="snapshot",
        list_id=REPORT + "['list_id'] }}",
        data_dir=settings.data_dir,
        **STORE,
    )
    plan >> chunks >> report >> enrich >> wait >> snapshot
