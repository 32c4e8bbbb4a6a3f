"""The plan step: decide what this run may import from one drop, before anything is sent.

It resolves the target list, reads the partition's ledger to apply the immutable-drop rules
(``default`` refuses changed content; ``append``; ``force``), plans the file with the ingest layer
(header check, encoding, dedupe, pre-flight rejects, chunk manifest), runs the spend guard (one
free ``credits/estimate`` for the whole partition) and writes the rejects file. Its output is a
:class:`PlanSummary` whose tasks the chunk steps import.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

import dagster as dg
import numpy as np

from cleanlist_pipeline import spend_rules
from cleanlist_pipeline.api import errors as api_errors
from cleanlist_pipeline.contract import CSV_IMPORT_MAX_BYTES, UNIT_COSTS
from cleanlist_pipeline.dagster_layer.backfill import reserve_backfill_credits
from cleanlist_pipeline.dagster_layer.csv_import.config import (
    MODES,
    ImportConfig,
    dispatch_settings,
    max_credits_of,
)
from cleanlist_pipeline.dagster_layer.csv_import.failures import (
    api_failure,
    check_backfill,
    stop_backfill,
    stop_backfill_if_needed,
)
from cleanlist_pipeline.dagster_layer.csv_import.ledger_match import known_pieces, prior_entries
from cleanlist_pipeline.dagster_layer.csv_import.payloads import (
    ChunkTask,
    ImportContext,
    PlanSummary,
)
from cleanlist_pipeline.dagster_layer.drops import DropFile, resolve_drop
from cleanlist_pipeline.dagster_layer.ledger import LedgerEntry
from cleanlist_pipeline.dagster_layer.ledger_codec import decode_hashes, encode_hashes
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.dagster_layer.spend import spend_guarded
from cleanlist_pipeline.dropstore import LocalDrop, local_drop, publish_rejects, rejects_target
from cleanlist_pipeline.ingest import ImportPlan, IngestError, RejectedRecord
from cleanlist_pipeline.settings import Settings

__all__ = ["group_rejects", "plan_drop", "rejects_path"]


def plan_drop(
    context: dg.OpExecutionContext,
    settings: Settings,
    config: ImportConfig,
    cleanlist: CleanlistResource,
) -> PlanSummary:
    """Plan the run's partition: target list, ledger, chunk manifest, spend guard, rejects."""
    if config.mode not in MODES:
        raise dg.Failure(description=f"mode must be one of {', '.join(MODES)}, not {config.mode!r}")
    backfill_id = check_backfill(context, settings)
    key = context.partition_key
    try:
        drop = resolve_drop(settings.drops_dir, key)
    except (FileNotFoundError, ValueError) as exc:
        raise dg.Failure(description=str(exc)) from exc
    with _local_drop(drop, key) as local:
        source_sha = local.sha256
        dispatch, etype = dispatch_settings(config, settings)
        if dispatch and etype not in UNIT_COSTS:
            raise dg.Failure(
                description=f"dispatch_enrichment needs enrichment_type, one of "
                f"{', '.join(UNIT_COSTS)} (got {etype!r})"
            )
        with cleanlist.get_client() as client:
            try:
                if config.list_id or config.list_name:
                    list_id, list_name = _resolve_list(client, config.list_id, config.list_name)
                else:
                    list_id, list_name = _resolve_list(client, settings.list_id, settings.list_name)
            except api_errors.APIError as exc:
                stop_backfill_if_needed(context, settings, backfill_id, exc)
                raise api_failure(exc, "Resolving the target list") from exc

            entries = prior_entries(context.instance, settings.names.import_asset, key, list_id)
            imported = [e for e in entries if e.imported]
            mode, salt, seen_hashes, warnings = _decide_mode(
                context, config.mode, drop.relative_path, list_id, source_sha, imported
            )
            try:
                plan = local.plan(
                    column_mapping=config.column_mapping,
                    encoding=config.encoding,
                    max_bytes=CSV_IMPORT_MAX_BYTES - config.size_margin_bytes,
                    max_rows=config.max_rows_per_chunk,
                    seen_record_hashes=seen_hashes,
                )
            except IngestError as exc:
                raise dg.Failure(
                    description=f"{exc} Nothing was imported from this drop.",
                    metadata={"partition": key},
                ) from exc
            if plan.source_sha256 != source_sha:
                raise dg.Failure(
                    description=f"Drop {drop.relative_path} changed while it was being planned; "
                    "drops must not be written in place. Nothing was imported."
                )
            ctx = ImportContext(
                partition_key=key,
                path=local.location,
                source_sha256=source_sha,
                list_id=list_id,
                namespace=settings.namespace,
                mode=mode,
                salt=salt,
                dispatch=dispatch,
                enrichment_type=etype if dispatch else None,
                column_mapping=dict(plan.column_mapping),
                ledger_cursor=max((e.storage_id for e in entries), default=None),
                step_retry_seconds=config.step_retry_seconds,
            )
            known = {c.index: known_pieces(imported, ctx, c) for c in plan.chunks}
            rows_to_send = sum(c.rows for c in plan.chunks if known[c.index] is None)
            credits_estimated, budget = 0.0, None
            if spend_rules.quote_needed(dispatch=dispatch, rows=rows_to_send):
                credits_estimated, budget = _spend_guard(
                    context,
                    settings,
                    client,
                    str(etype),
                    rows_to_send,
                    max_credits_of(config, context.run.tags),
                    backfill_id,
                    warnings,
                )

        rejects_file = None
        if plan.rejects or plan.removed_duplicates:
            try:
                rejects_file = publish_rejects(
                    plan,
                    settings.data_dir,
                    key,
                    local.path,
                    formula_guard=settings.rejects_formula_guard,
                    allow_insecure=settings.allow_insecure_object_store,
                )
            except OSError as exc:
                raise dg.Failure(
                    description=f"Could not write the rejects file of {key} under "
                    f"{rejects_path(settings.data_dir, key, settings.allow_insecure_object_store)}: {exc}. Nothing was imported."
                ) from exc

    summary = PlanSummary(
        partition_key=key,
        path=drop.relative_path,
        source_sha256=source_sha,
        list_id=list_id,
        list_name=list_name,
        mode=ctx.mode,
        salt=salt,
        dispatch=dispatch,
        enrichment_type=ctx.enrichment_type,
        column_mapping=dict(plan.column_mapping),
        unmapped_columns=list(plan.unmapped_columns),
        data_records=plan.data_records,
        removed_duplicates=[r.record for r in plan.removed_duplicates],
        rejects=group_rejects(plan.rejects),
        predicted_skips={k: list(v) for k, v in plan.predicted_skips.items()},
        already_imported_records=max(plan.already_imported_count, 0),
        chunks=[
            {"index": c.index, "rows": c.rows, "bytes": c.size, "sha256": c.sha256}
            for c in plan.chunks
        ],
        credits_estimated=credits_estimated,
        credits_budget=budget,
        rejects_file=rejects_file,
        warnings=warnings,
    )
    context.log.info(
        f"Planned {drop.relative_path}: {plan.data_records} records, {len(plan.chunks)} chunk(s), "
        f"{sum(1 for v in known.values() if v is not None)} already in the ledger, "
        f"target list {list_id} ({cleanlist.describe_target()})."
    )
    slim = _slim_plan(plan)
    hashes = _hashes_by_record(plan)
    if not hashes:
        context.log.warning(
            "Could not align record hashes with record numbers; mode: append will not "
            "recognise this run's records later."
        )
    summary.tasks = [
        ChunkTask(
            ctx=ctx,
            plan=slim,
            chunk=chunk,
            known=known[chunk.index],
            record_hashes=(
                encode_hashes([hashes[n] for n in chunk.record_numbers]) if hashes else ""
            ),
        )
        for chunk in plan.chunks
    ]
    return summary


def rejects_path(data_dir: str, partition_key: str, allow_insecure: bool = False) -> str:
    """``<data dir>/rejects/<name>~<hash of the key>.csv`` (``dropstore.rejects_name``): a local
    path, or a URI without credentials when the data dir is on an object store."""
    return rejects_target(data_dir, partition_key, allow_insecure=allow_insecure)[2]


def group_rejects(records: Iterable[RejectedRecord]) -> dict[str, list[int]]:
    """Rejected record numbers by reason."""
    grouped: dict[str, list[int]] = {}
    for rec in records:
        grouped.setdefault(rec.reason, []).append(rec.record)
    return grouped


def _resolve_list(client: Any, list_id: str | None, list_name: str | None) -> tuple[str, str]:
    if list_id:
        lead_list = client.get_list(list_id)
        return lead_list.list_id, lead_list.name
    if list_name:
        lead_list = client.create_list(list_name)  # idempotent on name
        return lead_list.list_id, lead_list.name
    raise dg.Failure(
        description="No target list: set list_name or list_id in the run config or in the "
        "pipeline's settings (there is no default list with a real API key)."
    )


def _decide_mode(
    context: dg.OpExecutionContext,
    requested: str,
    drop_name: str,
    list_id: str,
    source_sha: str,
    imported: list[LedgerEntry],
) -> tuple[str, str, Any, list[str]]:
    """Apply the immutable-drop rules to this partition's ledger for ``list_id``.

    Returns (effective mode, idempotency salt, record hashes to leave out, warnings).
    """
    warnings: list[str] = []
    latest = imported[-1] if imported else None
    older = [e for e in imported if e.source_sha256 != source_sha]
    same = [e for e in imported if e.source_sha256 == source_sha]
    mode = requested
    if mode == "default":
        if latest is not None and latest.source_sha256 != source_sha:
            raise dg.Failure(
                description=(
                    f"Drop {drop_name} changed since its last import into list {list_id} "
                    f"(sha256 {latest.source_sha256[:12]}… → {source_sha[:12]}…). Drops are "
                    "immutable, so nothing was imported. Re-run with config mode: append to "
                    "import only records not imported before from this partition, or mode: "
                    "force to re-import every record (the list will then hold duplicates)."
                ),
                metadata={"previous_sha256": latest.source_sha256, "sha256": source_sha},
            )
        # A re-run continues the first import of this content: after an append, the same
        # exclusions give the same chunks, which the ledger then recognises.
        if same and same[0].mode == "append":
            mode = "append"
    seen = _seen_hashes(older) if mode == "append" and older else None
    salt = ""
    if mode == "force":
        # The root run id: a re-execution of this run (from failure) keeps the salt and so
        # skips the chunks it already imported; a new force run gets a new one.
        salt = context.run.root_run_id or context.run_id
        warnings.append(
            "mode: force re-imports every record of this drop under a new idempotency salt "
            f"({salt}); records imported before stay in the list, which will therefore hold "
            "duplicates."
        )
        context.log.warning(warnings[-1])
    return mode, salt, seen, warnings


def _spend_guard(
    context: dg.OpExecutionContext,
    settings: Settings,
    client: Any,
    enrichment_type: str,
    rows: int,
    max_credits: int | None,
    backfill_id: str | None,
    warnings: list[str],
) -> tuple[float, float | None]:
    """One free whole-partition estimate, held against the budget before anything is sent.

    Returns (estimate, budget); a refusal in a backfill stops the whole backfill. When the
    estimate cannot quote at all (a key without ``credits:read``, a deployment without the
    route), ``spend_rules`` decides: no ``max_credits`` → a warning (added to ``warnings``) and
    (0, None), the import dispatching unquoted; ``max_credits`` → a refusal.
    """

    def refused(description: str) -> None:
        if backfill_id:
            stop_backfill(context, settings, backfill_id, description or "spend guard")

    try:
        estimate = client.estimate_cost(
            "bulk_import_csv", row_count=rows, enrichment_type=enrichment_type
        )
    except api_errors.APIError as exc:
        with spend_guarded(refused):
            warning = spend_rules.without_quote(
                exc,
                tool="bulk_import_csv",
                max_credits=max_credits,
                action=f"{enrichment_type} enrichment of {rows:,} rows",
            )
        if warning is None:
            stop_backfill_if_needed(context, settings, backfill_id, exc)
            raise api_failure(exc, "The credit estimate (spend guard)") from exc
        context.log.warning(warning)
        warnings.append(warning)
        return 0.0, None

    def reserve(cost: float, budget: float) -> tuple[bool, float]:
        return reserve_backfill_credits(context.instance, settings, str(backfill_id), cost, budget)

    with spend_guarded(refused):
        verdict = spend_rules.guard_import_estimate(
            estimate,
            enrichment_type=enrichment_type,
            rows=rows,
            max_credits=max_credits,
            backfill_id=backfill_id,
            reserve=reserve,
        )
    return verdict.cost, verdict.budget


@contextlib.contextmanager
def _local_drop(drop: DropFile, key: str) -> Iterator[LocalDrop]:
    """The drop as a local file for planning (an object is downloaded and verified first); a
    drop that cannot be read fails the step with the reason."""
    with contextlib.ExitStack() as stack:
        try:
            local = stack.enter_context(local_drop(drop.path, identity=drop.identity))
        except (OSError, IngestError) as exc:
            raise dg.Failure(
                description=f"{exc} Nothing was imported from this drop.",
                metadata={"partition": key},
            ) from exc
        yield local


def _seen_hashes(entries: Iterable[LedgerEntry]) -> Any:
    arrays = [decode_hashes(e.record_hashes) for e in entries if e.record_hashes]
    return np.unique(np.concatenate(arrays)) if arrays else np.empty(0, dtype=np.uint64)


def _slim_plan(plan: ImportPlan) -> ImportPlan:
    """The plan without its per-record lists: what ``read_chunk``/``split_chunk`` need (encoding,
    header, newline), so each chunk step's pickled input stays small for big drops."""
    return dataclasses.replace(
        plan,
        chunks=[],
        rejects=[],
        removed_duplicates=[],
        predicted_skips={},
        already_imported=[],
        record_hashes=np.zeros(0, np.uint64),
    )


def _hashes_by_record(plan: ImportPlan) -> dict[int, int]:
    """Map data-record numbers to their content hashes.

    ``plan.record_hashes`` holds one hash per data record in file order; blank lines take a record
    number but no hash. Every data record is in exactly one chunk, reject, removed duplicate or
    already-imported range, so their sorted union gives the order.
    """
    hashes = plan.record_hashes
    numbers = {n for c in plan.chunks for n in c.record_numbers}
    numbers.update(r.record for r in plan.rejects)
    numbers.update(r.record for r in plan.removed_duplicates)
    numbers.update(n for a, b in plan.already_imported for n in range(a, b + 1))
    ordered = sorted(numbers)
    if len(ordered) != len(hashes):
        return {}
    return {n: int(h) for n, h in zip(ordered, hashes.tolist(), strict=True)}
