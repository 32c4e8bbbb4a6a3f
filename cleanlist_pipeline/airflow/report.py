"""``CleanlistImportReportOperator``: sum an import up from the ledger, fail on failed chunks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from cleanlist_pipeline.airflow.operators import DROPS_XCOM, LIST_XCOM, open_ledger

__all__ = ["CleanlistImportReportOperator"]


def _as_list(value: Any) -> list[Any]:
    # xcom_pull of a mapped task with one instance returns that value, not a list of one
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return list(value)


class CleanlistImportReportOperator(BaseOperator):
    """Sum up the import from the ledger (every row accounted for); fail on failed chunks.

    Runs when the chunk tasks are done, failed or not (``trigger_rule="all_done"``), so it can
    say which drops are incomplete. Returns ``list_id``, totals and ``imported_now`` (rows this
    run imported for the first time: 0 for a re-run, which then enriches nothing).
    """

    template_fields: Sequence[str] = ("data_dir",)

    def __init__(
        self,
        *,
        plan_task_id: str,
        chunks_task_id: str,
        data_dir: str,
        ledger_conn_id: str | None = None,
        allow_insecure_object_store: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.allow_insecure_object_store = allow_insecure_object_store
        self.plan_task_id = plan_task_id
        self.chunks_task_id = chunks_task_id
        self.data_dir = data_dir
        self.ledger_conn_id = ledger_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        ti = context["ti"]
        list_id = ti.xcom_pull(task_ids=self.plan_task_id, key=LIST_XCOM)
        if not list_id:  # this task runs even when planning failed: nothing was imported
            raise AirflowFailException(
                f"{self.plan_task_id} did not finish, so nothing was imported; its log says why."
            )
        drops = _as_list(ti.xcom_pull(task_ids=self.plan_task_id, key=DROPS_XCOM))
        results = [r for r in _as_list(ti.xcom_pull(task_ids=self.chunks_task_id)) if r]
        ledger = open_ledger(
            self.data_dir, self.ledger_conn_id, allow_insecure=self.allow_insecure_object_store
        )
        incomplete: list[str] = []
        rows: list[dict[str, Any]] = []
        for d in drops:
            records = ledger.records(d["list_id"], d["source_sha256"])
            sent = sum(r.records for r in records)
            row = {
                "drop": d["drop"],
                "data_records": d["data_records"],
                "rows_planned": d["rows_planned"],
                "rejected": sum(d["rejects"].values()),
                "removed_duplicates": d["removed_duplicates"],
                "rows_sent": sent,
                "rows_imported": sum(r.rows_imported for r in records),
                "rows_skipped": sum(r.rows_skipped for r in records),
                "workflow_ids": sorted({r.workflow_id for r in records if r.workflow_id}),
                "rejects_file": d["rejects_file"],
            }
            rows.append(row)
            self.log.info(
                "%s: %d records = %d sent (%d imported + %d skipped by the API) + %d rejected "
                "+ %d duplicates removed.",
                d["drop"],
                d["data_records"],
                sent,
                row["rows_imported"],
                row["rows_skipped"],
                row["rejected"],
                row["removed_duplicates"],
            )
            if sent != d["rows_planned"]:
                incomplete.append(f"{d['drop']} ({d['rows_planned'] - sent} rows not imported)")
        report = {
            "list_id": list_id,
            "drops": rows,
            "rows_imported": sum(r["rows_imported"] for r in rows),
            "rows_skipped": sum(r["rows_skipped"] for r in rows),
            "imported_now": sum(int(r.get("imported_now", 0)) for r in results),
            "replayed": sum(int(r.get("replayed", 0)) for r in results),
            "workflow_ids": sorted({w for r in rows for w in r["workflow_ids"]}),
        }
        if incomplete:
            raise AirflowFailException(
                f"{len(incomplete)} drop(s) not fully imported: {', '.join(incomplete)}. The "
                "failed chunk tasks say why; clearing them (or the run) imports only what the "
                "ledger lacks."
            )
        return report
