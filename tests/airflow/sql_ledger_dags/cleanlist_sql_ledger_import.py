"""A test DAG: the example DAG's import steps, with the ledger in a SQL table.

plan → mapped chunk imports → report, each on the Airflow connection ``cleanlist_ledger_db``
(``ledger_conn_id``) instead of the default objects under the data folder. Configured like the
example DAG (``CLEANLIST_DROPS_DIR``, ``CLEANLIST_DATA_DIR``, ``CLEANLIST_LIST_NAME``); small
chunks so that two drops make several mapped tasks and several ledger rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, Param

from cleanlist_pipeline.airflow import (
    CleanlistImportChunksOperator,
    CleanlistImportReportOperator,
    CleanlistPlanDropsOperator,
)
from cleanlist_pipeline.settings import settings_from_env

LEDGER_CONN = "cleanlist_ledger_db"
ROWS_PER_CHUNK = 120

settings = settings_from_env()

with DAG(
    dag_id="cleanlist_sql_ledger_import",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    params={"all_drops": Param(True, type="boolean")},
) as dag:
    plan = CleanlistPlanDropsOperator(
        task_id="plan_drops",
        drops_dir=settings.drops_dir or "",
        data_dir=settings.data_dir,
        list_name=settings.list_name,
        ledger_conn_id=LEDGER_CONN,
        max_rows_per_chunk=ROWS_PER_CHUNK,
    )
    chunks = CleanlistImportChunksOperator.partial(
        task_id="import_chunks", data_dir=settings.data_dir, ledger_conn_id=LEDGER_CONN
    ).expand(chunk_group=plan.output)
    report = CleanlistImportReportOperator(
        task_id="import_report",
        plan_task_id="plan_drops",
        chunks_task_id="import_chunks",
        data_dir=settings.data_dir,
        ledger_conn_id=LEDGER_CONN,
    )
    plan >> chunks >> report
