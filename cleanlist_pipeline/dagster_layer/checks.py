"""Asset checks on the import asset (``cleanlist_csv_import``): every record accounted for, no chunk failed.

The checks are *unpartitioned* on purpose: partitioned asset checks are a preview feature in
Dagster 1.13 (API and UI may change). Each evaluation names the partition(s) it judged in its
metadata. Run inside an import run, a check judges that run's partition; run on its own ("Execute
checks" in the UI), it judges every partition that has been materialized or has ledger entries, so
a failing partition cannot hide behind a later good one.

Both checks recompute from the event log, not from the report op's arithmetic: the ledger
(chunk observations) gives what the API said, the latest materialization gives what the plan
counted in the file.
"""

from collections.abc import Sequence
from typing import Any

import dagster as dg

from cleanlist_pipeline.dagster_layer.ledger import LedgerEntry, iter_ledger
from cleanlist_pipeline.settings import Names

__all__ = ["build_import_checks", "evaluate_accounting", "evaluate_failed_chunks"]

_MAX_LISTED = 200


def _latest_materialization(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_key: str
) -> dg.EventLogRecord | None:
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition_key]),
        limit=1,
    )
    return result.records[0] if result.records else None


def _meta_value(record: dg.EventLogRecord, name: str, default: Any = None) -> Any:
    materialization = record.asset_materialization
    if materialization is None:
        return default
    item = materialization.metadata.get(name)
    return default if item is None else getattr(item, "value", item)


def _partitions(context: dg.AssetCheckExecutionContext, names: Names) -> list[str]:
    key = context.run.tags.get("dagster/partition")
    if key:
        return [key]
    return sorted(context.instance.get_dynamic_partitions(names.partitions_drops))


def evaluate_accounting(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_key: str
) -> dict[str, Any] | None:
    """Accounting of the partition's latest import, or None when it was never materialized.

    imported + skipped by the API (from the ledger, for the chunks the plan made) + removed
    duplicates + rejected + already imported before (append) must equal the file's data records.
    """
    record = _latest_materialization(instance, asset_key, partition_key)
    if record is None:
        return None
    acc = _meta_value(record, "accounting", {}) or {}
    list_id = _meta_value(record, "list_id", "")
    source = _meta_value(record, "source_sha256", "")
    planned = {c["sha256"]: c for c in acc.get("planned_chunks", [])}
    by_chunk: dict[int, dict[str, LedgerEntry]] = {}
    for entry in iter_ledger(instance, asset_key, partition_key):
        if not entry.imported or entry.list_id != list_id:
            continue
        index = _chunk_index_for(entry, planned, source)
        if index is not None:
            # Latest answer per piece (a replay repeats the first answer's counts).
            by_chunk.setdefault(index, {})[entry.chunk_sha256] = entry
    imported = skipped = parsed = 0
    missing: list[int] = []
    for chunk in planned.values():
        pieces = _covering_pieces(by_chunk.get(chunk["index"], {}), chunk)
        if pieces is None:
            missing.append(chunk["index"])
            continue
        imported += sum(p.rows_imported for p in pieces)
        skipped += sum(p.rows_skipped for p in pieces)
        parsed += sum(p.rows_parsed for p in pieces)
    data_records = int(acc.get("data_records", 0))
    accounted = (
        imported
        + skipped
        + int(acc.get("removed_duplicates", 0))
        + int(acc.get("rejected", 0))
        + int(acc.get("already_imported", 0))
    )
    return {
        "partition": partition_key,
        "data_records": data_records,
        "accounted": accounted,
        "imported": imported,
        "skipped_by_api": skipped,
        "removed_duplicates": int(acc.get("removed_duplicates", 0)),
        "rejected": int(acc.get("rejected", 0)),
        "already_imported": int(acc.get("already_imported", 0)),
        "rows_parsed": parsed,
        "sent": int(acc.get("sent", 0)),
        "chunks_without_ledger_entry": missing,
        "ok": accounted == data_records and not missing and parsed == int(acc.get("sent", 0)),
    }


def _chunk_index_for(
    entry: LedgerEntry, planned: dict[str, dict[str, Any]], source_sha256: str
) -> int | None:
    if entry.chunk_sha256 in planned:
        return int(planned[entry.chunk_sha256]["index"])
    # A piece of a chunk split after a 413: its index is the planned chunk's (of this content).
    indices = {int(c["index"]) for c in planned.values()}
    is_piece = entry.piece != str(entry.chunk_index)
    if is_piece and entry.source_sha256 == source_sha256 and entry.chunk_index in indices:
        return entry.chunk_index
    return None


def _covering_pieces(
    entries: dict[str, LedgerEntry], chunk: dict[str, Any]
) -> list[LedgerEntry] | None:
    if chunk["sha256"] in entries:
        return [entries[chunk["sha256"]]]
    pieces = [e for e in entries.values() if e.piece != str(e.chunk_index)]
    # Nested splits record both levels only at the leaves, so leaves must cover the chunk's rows.
    if pieces and sum(p.records for p in pieces) == int(chunk["rows"]):
        return pieces
    return None


def evaluate_failed_chunks(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_key: str
) -> list[dict[str, Any]]:
    """Chunks whose latest ledger entry is a failure (a later success clears it)."""
    latest: dict[tuple[str, int], LedgerEntry] = {}
    for entry in iter_ledger(instance, asset_key, partition_key):
        latest[(entry.list_id, entry.chunk_index)] = entry
    return [
        {
            "list_id": e.list_id,
            "chunk": e.chunk_index,
            "piece": e.piece,
            "error": e.error,
            "run_id": e.run_id,
        }
        for e in latest.values()
        if not e.imported
    ]


def build_import_checks(names: Names) -> Sequence[dg.AssetChecksDefinition]:
    """The two checks on the import asset of the instance ``names`` belongs to."""
    asset_key = names.import_asset

    @dg.asset_check(
        asset=asset_key,
        name="every_record_accounted_for",
        description="imported + skipped by the API + duplicates removed + rejected (+ already "
        "imported, in append mode) = data records in the file, for the chunks the plan made.",
    )
    def every_record_accounted_for(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        results = [
            r
            for key in _partitions(context, names)
            if (r := evaluate_accounting(context.instance, asset_key, key)) is not None
        ]
        bad = [r for r in results if not r["ok"]]
        metadata: dict[str, Any] = {
            "partitions_checked": len(results),
            "partitions": dg.MetadataValue.json([r["partition"] for r in results][:_MAX_LISTED]),
            "failing": dg.MetadataValue.json(bad[:_MAX_LISTED]),
        }
        if len(results) == 1:
            metadata["partition"] = results[0]["partition"]
            metadata["accounting"] = dg.MetadataValue.json(results[0])
        return dg.AssetCheckResult(
            passed=not bad,
            metadata=metadata,
            description=(
                f"{len(bad)} partition(s) with records not accounted for: "
                + ", ".join(r["partition"] for r in bad[:10])
                if bad
                else f"All records accounted for in {len(results)} partition(s)."
            ),
        )

    @dg.asset_check(
        asset=asset_key,
        name="no_chunk_failed",
        description="No chunk's latest ledger entry is a failure (re-executing the failed steps "
        "clears it).",
    )
    def no_chunk_failed(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        keys = _partitions(context, names)
        failures = {
            k: f for k in keys if (f := evaluate_failed_chunks(context.instance, asset_key, k))
        }
        metadata: dict[str, Any] = {
            "partitions_checked": len(keys),
            "failed_chunks": dg.MetadataValue.json(
                {k: v for k, v in list(failures.items())[:_MAX_LISTED]}
            ),
        }
        if len(keys) == 1:
            metadata["partition"] = keys[0]
        return dg.AssetCheckResult(
            passed=not failures,
            metadata=metadata,
            description=(
                f"Failed chunks in {len(failures)} partition(s): " + ", ".join(list(failures)[:10])
                if failures
                else f"No failed chunk in {len(keys)} partition(s)."
            ),
        )

    return [every_record_accounted_for, no_chunk_failed]
