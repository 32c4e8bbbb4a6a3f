"""Import as mapped tasks: plan the run's drops, import chunk groups, report.

::

    plan = CleanlistPlanDropsOperator(task_id="plan_drops", drops_dir=…, list_name=…)
    chunks = CleanlistImportChunksOperator.partial(task_id="import_chunks").expand(
        chunk_group=plan.output
    )
    report = CleanlistImportReportOperator(task_id="import_report", plan_task_id="plan_drops",
                                           chunks_task_id="import_chunks")  # report.py
    plan >> chunks >> report

The plan task plans each drop with the ``ingest`` code (mapping, encodings, dedupe, rejects
file, chunk manifest), leaves out chunks the ledger holds, and returns *chunk groups*: offsets,
digests, the drop's location and the header — never rows, never the key (XCom stores values raw
in the metadata database). Each group is one mapped task instance with its own retries. Airflow
caps a mapped task at ``[core] max_map_length`` instances (default 1,024: about a 150 MB drop at
one chunk per task), so past ``max_mapped_tasks`` chunks go several to a group; raise both
together to keep one chunk per task.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from cleanlist_pipeline.airflow.chunk_import import (
    ChunkFailed,
    ChunkRetryable,
    import_group,
    slim_plan_dict,
)
from cleanlist_pipeline.airflow.drop_window import drop_date, select_drops, window_of_run
from cleanlist_pipeline.airflow.hook import CleanlistHook
from cleanlist_pipeline.airflow.ledger import ImportLedger, ObjectLedger
from cleanlist_pipeline.api import errors as api_errors
from cleanlist_pipeline.api.idempotency import chunk_import_key
from cleanlist_pipeline.contract import CSV_IMPORT_MAX_BYTES, CSV_IMPORT_MAX_ROWS
from cleanlist_pipeline.drop_scan import scan_drops
from cleanlist_pipeline.dropstore import local_drop, publish_rejects
from cleanlist_pipeline.ingest import IngestError
from cleanlist_pipeline.settings import EMBEDDED_LIST_NAME, MODE_API, REPO_SAMPLE_DROPS

__all__ = [
    "DEFAULT_MAX_MAPPED_TASKS",
    "CleanlistImportChunksOperator",
    "CleanlistPlanDropsOperator",
    "open_ledger",
]

#: Airflow's default ``[core] max_map_length``.
DEFAULT_MAX_MAPPED_TASKS = 1024
#: The plan task's second XCom: one small summary per planned drop.
DROPS_XCOM = "drops"
#: … and the target list's id.
LIST_XCOM = "list_id"


def open_ledger(
    data_dir: str, ledger_conn_id: str | None = None, *, allow_insecure: bool = False
) -> ImportLedger:
    """The object ledger under ``data_dir``, or the SQL table of ``ledger_conn_id``
    (``allow_insecure``: a plain-``http`` object store off loopback, see
    ``Settings.allow_insecure_object_store``)."""
    if ledger_conn_id:
        from cleanlist_pipeline.airflow.sql_ledger import SqlLedger

        return SqlLedger(ledger_conn_id)
    return ObjectLedger(data_dir, allow_insecure=allow_insecure)


def _group_chunks(groups: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Merge per-chunk groups (same drop only) so that at most ``limit`` remain."""
    total = len(groups)
    per = max(1, math.ceil(total / max(1, limit)))
    if per == 1:
        return groups
    merged: list[dict[str, Any]] = []
    for g in groups:
        last = merged[-1] if merged else None
        if last and last["drop"] == g["drop"] and len(last["chunks"]) < per:
            last["chunks"].extend(g["chunks"])
        else:
            merged.append({**g, "chunks": list(g["chunks"])})
    return merged


class CleanlistPlanDropsOperator(BaseOperator):
    """Plan the drops this run imports; return chunk groups (for ``.expand``) and push per-drop
    summaries under the XCom key ``drops``.

    :param drops_dir: folder or object-store prefix of CSV drops (``CLEANLIST_DROPS_DIR``)
    :param data_dir: where rejects, the ledger and snapshots go (``CLEANLIST_DATA_DIR``)
    :param list_name: target list by name (created if missing) — or ``list_id``
    :param ledger_conn_id: keep the ledger in a SQL table instead of objects under ``data_dir``
    :param rejects_formula_guard: prefix formula-like rejects cells with ``'`` (default: byte-identical)
    :param allow_insecure_object_store: allow a plain-``http`` object store off loopback
    """

    template_fields: Sequence[str] = ("drops_dir", "data_dir", "list_name", "list_id")

    def __init__(
        self,
        *,
        drops_dir: str,
        data_dir: str,
        list_name: str | None = None,
        list_id: str | None = None,
        cleanlist_conn_id: str = CleanlistHook.default_conn_name,
        ledger_conn_id: str | None = None,
        column_mapping: dict[str, str] | None = None,
        encoding: str | None = None,
        size_margin_bytes: int = 2_000,
        max_rows_per_chunk: int = CSV_IMPORT_MAX_ROWS,
        max_mapped_tasks: int = DEFAULT_MAX_MAPPED_TASKS,
        rejects_formula_guard: bool = False,
        allow_insecure_object_store: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rejects_formula_guard = rejects_formula_guard
        self.allow_insecure_object_store = allow_insecure_object_store
        self.drops_dir = drops_dir
        self.data_dir = data_dir
        self.list_name = list_name
        self.list_id = list_id
        self.cleanlist_conn_id = cleanlist_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.column_mapping = column_mapping
        self.encoding = encoding
        self.size_margin_bytes = size_margin_bytes
        self.max_rows_per_chunk = max_rows_per_chunk
        self.max_mapped_tasks = max_mapped_tasks

    def _refuse_sample_defaults(self, hook: CleanlistHook) -> None:
        # The embedded defaults (sample drops, sample list) must never reach a real account.
        if hook.mode != MODE_API:
            return
        if str(self.drops_dir) and Path(str(self.drops_dir)).resolve() == REPO_SAMPLE_DROPS:
            raise AirflowFailException(
                "The connection holds a real API key but the drop folder is the repository's "
                "sample drops (the embedded default): set CLEANLIST_DROPS_DIR."
            )
        if self.list_name == EMBEDDED_LIST_NAME and not self.list_id:
            raise AirflowFailException(
                "The connection holds a real API key but the target list is the sandbox's "
                "sample list (the embedded default): set CLEANLIST_LIST_NAME or CLEANLIST_LIST_ID."
            )

    def execute(self, context: Any) -> list[dict[str, Any]]:
        hook = CleanlistHook(self.cleanlist_conn_id)
        self.log.info("[cleanlist %s] %s", hook.mode, hook.describe_target())
        self._refuse_sample_defaults(hook)
        run = context.get("dag_run")
        params = context.get("params") or {}
        try:
            window = window_of_run(
                getattr(run, "run_type", None),
                context.get("data_interval_start"),
                context.get("data_interval_end"),
                bool(params.get("all_drops")),
            )
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        try:
            scan = scan_drops(self.drops_dir, allow_insecure=self.allow_insecure_object_store)
        except (FileNotFoundError, OSError) as exc:
            raise AirflowFailException(str(exc)) from exc
        for refusal in scan.refused:
            self.log.warning("Drop refused: %s", refusal)
        drops = select_drops(scan, window)
        self.log.info("%s — %d of %d drop(s) selected.", window.reason, len(drops), len(scan.drops))
        ledger = open_ledger(
            self.data_dir, self.ledger_conn_id, allow_insecure=self.allow_insecure_object_store
        )
        summaries: list[dict[str, Any]] = []
        groups: list[dict[str, Any]] = []
        with hook.get_conn() as client:
            list_id, list_name = self._resolve_list(client)
        context["ti"].xcom_push(key=LIST_XCOM, value=list_id)
        namespace = hook.namespace
        for drop in drops:
            summary, drop_groups = self._plan_one(drop, list_id, namespace, ledger)
            summaries.append(summary)
            groups.extend(drop_groups)
        groups = _group_chunks(groups, self.max_mapped_tasks)
        self.log.info(
            "Target list %s (%s); ledger: %s; %d chunk group(s) to import.",
            list_id,
            list_name,
            ledger.describe(),
            len(groups),
        )
        context["ti"].xcom_push(key=DROPS_XCOM, value=summaries)
        return groups

    def _resolve_list(self, client: Any) -> tuple[str, str]:
        try:
            if self.list_id:
                found = client.get_list(self.list_id)
            elif self.list_name:
                found = client.create_list(self.list_name)  # idempotent on name
            else:
                raise AirflowFailException(
                    "No target list: set CLEANLIST_LIST_NAME or CLEANLIST_LIST_ID."
                )
        except api_errors.APIError as exc:
            raise AirflowFailException(
                f"Resolving the target list failed: HTTP {exc.status} {exc.code or ''} "
                f"{exc.problem or ''}".rstrip()
            ) from exc
        return found.list_id, found.name

    def _plan_one(
        self, drop: Any, list_id: str, namespace: str, ledger: ImportLedger
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        try:
            with local_drop(drop.path) as local:
                plan = local.plan(
                    column_mapping=self.column_mapping,
                    encoding=self.encoding,
                    max_bytes=CSV_IMPORT_MAX_BYTES - self.size_margin_bytes,
                    max_rows=self.max_rows_per_chunk,
                )
                rejects_file = None
                if plan.rejects or plan.removed_duplicates:
                    rejects_file = publish_rejects(
                        plan,
                        self.data_dir,
                        drop.key,
                        local.path,
                        formula_guard=self.rejects_formula_guard,
                        allow_insecure=self.allow_insecure_object_store,
                    )
                location = str(local.location)
        except (IngestError, OSError) as exc:
            raise AirflowFailException(f"{exc} Nothing was imported from this drop.") from exc
        known = {r.idempotency_key for r in ledger.records(list_id, plan.source_sha256)}
        todo = [
            c for c in plan.chunks if chunk_import_key(namespace, list_id, c.sha256) not in known
        ]
        reasons: dict[str, int] = {}
        for r in plan.rejects:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
        summary = {
            "drop": drop.key,
            "date": drop_date(drop.relative_path, drop.mtime_ns).date().isoformat(),
            "list_id": list_id,
            "source_sha256": plan.source_sha256,
            "data_records": plan.data_records,
            "blank_records": plan.blank_records,
            "chunks": len(plan.chunks),
            "chunks_to_send": len(todo),
            "rows_planned": plan.rows_planned,
            "rejects": reasons,
            "removed_duplicates": len(plan.removed_duplicates),
            "predicted_skips": {k: len(v) for k, v in plan.predicted_skips.items()},
            "rejects_file": rejects_file,
        }
        self.log.info(
            "Planned %s: %d records, %d chunk(s), %d already in the ledger, %d rejected, "
            "%d duplicates removed.",
            drop.relative_path,
            plan.data_records,
            len(plan.chunks),
            len(plan.chunks) - len(todo),
            len(plan.rejects),
            len(plan.removed_duplicates),
        )
        base = {
            "drop": drop.key,
            "path": location,
            "list_id": list_id,
            "namespace": namespace,
            "source_sha256": plan.source_sha256,
            "column_mapping": dict(plan.column_mapping),
            "plan": slim_plan_dict(plan),
        }
        return summary, [{**base, "chunks": [c.to_dict()]} for c in todo]


class CleanlistImportChunksOperator(BaseOperator):
    """Import one chunk group (map it: ``.partial(task_id=…).expand(chunk_group=plan.output)``).

    Reads the ledger before sending each chunk and records each answer at once. A lost answer
    (transport error, 5xx) fails the task for Airflow to retry (give ``retries``: 3 when used
    directly, and in ``.partial(...)`` when mapped — partial arguments skip this constructor);
    the retry replays under the same idempotency key. A 4xx or a changed drop fails it without
    retries.
    """

    # not ``chunk_group``: its CSV header must never go through Jinja
    template_fields: Sequence[str] = ("data_dir",)

    def __init__(
        self,
        *,
        chunk_group: dict[str, Any],
        data_dir: str,
        cleanlist_conn_id: str = CleanlistHook.default_conn_name,
        ledger_conn_id: str | None = None,
        allow_insecure_object_store: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retries", 3)
        super().__init__(**kwargs)
        self.allow_insecure_object_store = allow_insecure_object_store
        self.chunk_group = chunk_group
        self.data_dir = data_dir
        self.cleanlist_conn_id = cleanlist_conn_id
        self.ledger_conn_id = ledger_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        hook = CleanlistHook(self.cleanlist_conn_id)
        ledger = open_ledger(
            self.data_dir, self.ledger_conn_id, allow_insecure=self.allow_insecure_object_store
        )
        self.log.info("[cleanlist %s] %s", hook.mode, hook.describe_target())
        try:
            with hook.get_conn() as client:
                return import_group(client, ledger, self.chunk_group, self.log)
        except ChunkRetryable as exc:
            raise AirflowException(str(exc)) from exc
        except ChunkFailed as exc:
            raise AirflowFailException(str(exc)) from exc
