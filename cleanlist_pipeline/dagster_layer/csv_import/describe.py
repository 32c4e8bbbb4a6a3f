"""What importing each drop would do, sending nothing (``cleanlist-pipeline plan``)."""

from __future__ import annotations

import os
from typing import Any

from cleanlist_pipeline.contract import CSV_IMPORT_MAX_BYTES, CSV_IMPORT_MAX_ROWS, UNIT_COSTS
from cleanlist_pipeline.dagster_layer.csv_import.plan_step import group_rejects
from cleanlist_pipeline.dagster_layer.drops import scan_drops
from cleanlist_pipeline.dropstore import local_drop
from cleanlist_pipeline.ingest import DEFAULT_MARGIN, IngestError
from cleanlist_pipeline.settings import Settings

__all__ = ["describe_plan"]


def describe_plan(
    drops_dir: str | os.PathLike[str] | None, settings: Settings
) -> list[dict[str, Any]]:
    """Per drop: partition key, mapping, chunks, pre-flight rejects and removed duplicates (record
    numbers), predicted skips, and the credits enrichment would cost (rows x unit cost).

    Plans with the import's defaults (margin, row cap); calls no API and touches no ledger.
    """
    folder = drops_dir or settings.drops_dir
    if not folder:
        raise ValueError("no drop folder: set CLEANLIST_DROPS_DIR or pass one")
    scan = scan_drops(folder)
    out: list[dict[str, Any]] = []
    for drop in scan:
        item: dict[str, Any] = {"partition_key": drop.key, "path": drop.relative_path}
        try:
            with local_drop(drop.path, identity=drop.identity) as local:
                plan = local.plan(
                    max_bytes=CSV_IMPORT_MAX_BYTES - DEFAULT_MARGIN, max_rows=CSV_IMPORT_MAX_ROWS
                )
        except (OSError, IngestError) as exc:
            item["error"] = str(exc)
            out.append(item)
            continue
        rows = sum(c.rows for c in plan.chunks)
        item.update(
            {
                "sha256": plan.source_sha256,
                "encoding": plan.encoding.name,
                "column_mapping": dict(plan.column_mapping),
                "unmapped_columns": list(plan.unmapped_columns),
                "data_records": plan.data_records,
                "rows_to_send": rows,
                "chunks": [
                    {"index": c.index, "rows": c.rows, "bytes": c.size, "sha256": c.sha256}
                    for c in plan.chunks
                ],
                "rejects": group_rejects(plan.rejects),
                "removed_duplicates": [r.record for r in plan.removed_duplicates],
                "predicted_skips": {k: list(v) for k, v in plan.predicted_skips.items()},
                "estimated_credits_by_type": {t: rows * c for t, c in UNIT_COSTS.items()},
                "estimated_credits": rows * UNIT_COSTS[settings.enrichment_type]
                if settings.enrichment_type in UNIT_COSTS
                else None,
            }
        )
        out.append(item)
    for refusal in scan.refused:
        out.append({"partition_key": None, "path": refusal.split(":")[0], "error": refusal})
    return out
