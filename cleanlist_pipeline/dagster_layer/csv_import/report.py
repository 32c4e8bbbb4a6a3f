"""The import asset's materialization: what a person reads in the UI after a drop is imported.

Built from the plan's summary and every chunk step's result (ledger entries included), so a
re-executed run reports the whole partition, not only the chunks it redid.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from cleanlist_pipeline.dagster_layer.csv_import.payloads import ChunkResult, PlanSummary
from cleanlist_pipeline.dagster_layer.csv_import.progress_log import request_counts
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource

__all__ = ["render_report"]


def _numbers(values: list[int], limit: int = 40) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" … (+{len(values) - limit} more)" if len(values) > limit else "")


def render_report(
    summary: PlanSummary, results: list[ChunkResult], cleanlist: CleanlistResource
) -> dg.Output[dict[str, Any]]:
    """The import asset's output: a markdown report, numbers for the UI's plots, per-chunk JSON.

    Counts and record numbers only, never field values (they are personal data).
    """
    results = sorted(results, key=lambda r: r.index)
    pieces = [p for r in results for p in r.pieces]
    imported = sum(p.rows_imported for p in pieces)
    skipped = sum(p.rows_skipped for p in pieces)
    parsed = sum(p.rows_parsed for p in pieces)
    sent = sum(p.records for p in pieces)
    replays = sum(1 for p in pieces if p.replayed)
    from_ledger = sum(1 for p in pieces if p.from_ledger)
    splits = sum(1 for r in results for p in r.pieces if p.piece != str(r.index))
    skip_reasons: dict[str, int] = {}
    skipped_sample: list[int] = []
    for p in pieces:
        for reason, n in p.skip_reasons.items():
            skip_reasons[reason] = skip_reasons.get(reason, 0) + int(n)
        skipped_sample.extend(p.skipped_records)
    workflows = sorted({p.workflow_id for p in pieces if p.workflow_id})
    rejected = sum(len(v) for v in summary.rejects.values())
    removed = len(summary.removed_duplicates)
    accounted = imported + skipped + rejected + removed + summary.already_imported_records
    predicted = {k: len(v) for k, v in summary.predicted_skips.items()}

    lines = [
        f"## Import of `{summary.path}` into list `{summary.list_name}` (`{summary.list_id}`)",
        "",
        f"Target: {cleanlist.describe_target()} — mode `{summary.mode}`"
        + (f", salt `{summary.salt}`" if summary.salt else ""),
        "",
        "| | records |",
        "|---|---:|",
        f"| data records in file | {summary.data_records:,} |",
        f"| duplicates removed before sending | {removed:,} |",
        f"| rejected before sending | {rejected:,} |",
        f"| already imported earlier (append) | {summary.already_imported_records:,} |",
        f"| sent in chunks | {sent:,} |",
        f"| imported by the API | {imported:,} |",
        f"| skipped by the API | {skipped:,} |",
        f"| **accounted for** | **{accounted:,} of {summary.data_records:,}** |",
        "",
        f"Chunks: {len(results)} planned"
        + (
            f", {splits} pieces after splitting chunks the API refused as too large (413)"
            if splits
            else ""
        )
        + f"; {from_ledger} found in the ledger (no API call); {replays} replayed by the API.",
        "",
    ]
    if summary.rejects or summary.removed_duplicates:
        lines.append("### Removed or rejected before sending (record numbers; header = 1)")
        for reason, nums in sorted(summary.rejects.items()):
            lines.append(f"- {reason} ({len(nums)}): {_numbers(nums)}")
        if summary.removed_duplicates:
            lines.append(f"- duplicate in file ({removed}): {_numbers(summary.removed_duplicates)}")
        if summary.rejects_file:
            lines.append(f"\nRejects file: `{summary.rejects_file}`")
        lines.append("")
    lines.append("### Skips: predicted vs. reported by the API")
    lines.append("| reason | predicted | API | predicted record numbers |")
    lines.append("|---|---:|---:|---|")
    for reason in sorted(set(predicted) | set(skip_reasons)):
        lines.append(
            f"| {reason} | {predicted.get(reason, 0)} | {skip_reasons.get(reason, 0)} | "
            f"{_numbers(summary.predicted_skips.get(reason, []), 20)} |"
        )
    if skipped_sample:
        lines.append(
            f"\nRecords the API named as skipped (up to 10 per chunk): "
            f"{_numbers(sorted(skipped_sample))}"
        )
    lines.append("")
    if summary.dispatch:
        # No budget: nothing needed a quote, or the estimate could not quote (see warnings).
        quoted = (
            f"estimated {summary.credits_estimated:,.0f} credits (budget "
            f"{summary.credits_budget:,.0f})"
            if summary.credits_budget is not None
            else "not quoted"
        )
        lines.append(
            f"Enrichment: `{summary.enrichment_type}` dispatched; {quoted}. Workflows: "
            + (", ".join(f"`{w}`" for w in workflows) or "none")
        )
    else:
        lines.append("Enrichment: not dispatched (import only; no credits spent).")
    for warning in summary.warnings:
        lines.append(f"\n> **Warning:** {warning}")

    lines.append(_requests_line(summary, results))
    chunk_rows = [{"chunk": r.index, "pieces": [p.report_row() for p in r.pieces]} for r in results]
    accounting = {
        "data_records": summary.data_records,
        "removed_duplicates": removed,
        "rejected": rejected,
        "already_imported": summary.already_imported_records,
        "sent": sent,
        "rows_parsed": parsed,
        "rows_imported": imported,
        "rows_skipped": skipped,
        "planned_chunks": summary.chunks,
    }
    metadata: dict[str, Any] = {
        "report": dg.MetadataValue.md("\n".join(lines)),
        "dagster/partition_row_count": imported,
        "data_records": summary.data_records,
        "rows_imported": imported,
        "rows_skipped": skipped,
        "removed_duplicates": removed,
        "rejected": rejected,
        "already_imported": summary.already_imported_records,
        "chunks": len(results),
        "chunks_from_ledger": from_ledger,
        "chunks_replayed": replays,
        "credits_estimated": summary.credits_estimated,
        "chunk_results": dg.MetadataValue.json(chunk_rows),
        "accounting": dg.MetadataValue.json(accounting),
        "skip_reasons": dg.MetadataValue.json(skip_reasons),
        "predicted_skips": dg.MetadataValue.json(predicted),
        "workflow_ids": dg.MetadataValue.json(workflows),
        "list_id": summary.list_id,
        "list_name": summary.list_name,
        "import_mode": summary.mode,
        "source_sha256": summary.source_sha256,
        "column_mapping": dg.MetadataValue.json(summary.column_mapping),
        "target": cleanlist.describe_target(),
        "cleanlist_mode": cleanlist.mode,
    }
    if summary.rejects_file:
        metadata["rejects_file"] = dg.MetadataValue.path(summary.rejects_file)
    metadata.update(_request_metadata(summary, results))
    value = {
        "partition_key": summary.partition_key,
        "list_id": summary.list_id,
        "rows_imported": imported,
        "workflow_ids": workflows,
    }
    return dg.Output(value, metadata=metadata)


def _request_metadata(summary: PlanSummary, results: list[ChunkResult]) -> dict[str, Any]:
    """``requests_expected`` / ``requests_actual`` (totals, for the UI's plots) and both by kind."""
    counts = request_counts(summary, results)
    return {
        "requests_expected": counts["expected"]["total"],
        "requests_actual": counts["actual"]["total"],
        "requests": dg.MetadataValue.json(counts),
    }


def _requests_line(summary: PlanSummary, results: list[ChunkResult]) -> str:
    counts = request_counts(summary, results)
    expected, actual = counts["expected"]["total"], counts["actual"]["total"]
    return (
        f"\nRequests: {actual:,} made by the steps, {expected:,} expected by the plan "
        "(list lookup, estimate, one per chunk; the client's own retries not counted)."
    )
