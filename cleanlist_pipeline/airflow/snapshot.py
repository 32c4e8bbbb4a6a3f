"""``CleanlistSnapshotOperator``: one list's leads → Parquet, the same layout as the Dagster asset.

Writes ``<data_dir>/leads/list_id=<id>/snapshot_date=<UTC day>/leads.parquet`` through the storage
layer (atomic, local or object store, the same schema), and returns the path, the row count and
the list's lead count — small values for XCom, no lead data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from cleanlist_pipeline.airflow.hook import CleanlistHook
from cleanlist_pipeline.list_snapshot import snapshot_to_parquet

__all__ = ["CleanlistSnapshotOperator"]


class CleanlistSnapshotOperator(BaseOperator):
    """Snapshot list ``list_id`` (templated) into ``data_dir``.

    :param retention_days: keep only the newest N daily snapshots of the list
    :param fail_on_mismatch: fail when the file's row count differs from the list's lead count
    :param allow_insecure_object_store: allow a plain-``http`` object store off loopback
    """

    template_fields: Sequence[str] = ("list_id", "data_dir")

    def __init__(
        self,
        *,
        list_id: str,
        data_dir: str,
        cleanlist_conn_id: str = CleanlistHook.default_conn_name,
        retention_days: int | None = None,
        fail_on_mismatch: bool = False,
        allow_insecure_object_store: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.allow_insecure_object_store = allow_insecure_object_store
        self.list_id = list_id
        self.data_dir = data_dir
        self.cleanlist_conn_id = cleanlist_conn_id
        self.retention_days = retention_days
        self.fail_on_mismatch = fail_on_mismatch

    def execute(self, context: Any) -> dict[str, Any]:
        if not self.list_id or str(self.list_id) == "None":
            raise AirflowFailException("No list to snapshot (list_id is empty).")
        hook = CleanlistHook(self.cleanlist_conn_id)
        self.log.info("[cleanlist %s] %s", hook.mode, hook.describe_target())
        with hook.get_conn() as client:
            result, lead_count = snapshot_to_parquet(
                client,
                str(self.list_id),
                self.data_dir,
                retention_days=self.retention_days,
                allow_insecure=self.allow_insecure_object_store,
            )
        self.log.info(
            "Snapshot of list %s: %d rows (list lead_count %d) at %s.",
            self.list_id,
            result.rows,
            lead_count,
            result.path,
        )
        if self.fail_on_mismatch and result.rows != lead_count:
            raise AirflowFailException(
                f"The snapshot holds {result.rows} rows but the list has {lead_count} leads."
            )
        return {
            "list_id": result.list_id,
            "path": result.path,
            "rows": result.rows,
            "lead_count": lead_count,
            "snapshot_date": result.snapshot_date,
        }
