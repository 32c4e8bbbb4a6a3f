"""The import asset: one graph-backed ``cleanlist_csv_import`` partition per CSV drop.

```
plan_drop ──(one DynamicOutput per chunk)──▶ import_chunk[chunk_0] ─┐
    │                                        import_chunk[chunk_1] ─┼─▶ import_report ─▶ materialization
    └────────────────── summary ─────────────────────────────────────┘
```

* ``plan_drop`` resolves the target list, reads the ledger (``ledger.py``) to decide what this run
  may import (immutable drops; ``append``; ``force``), plans the file with ``ingest.plan_file``
  (header check, encoding, dedupe, pre-flight rejects, chunk manifest) and runs the spend guard
  (one free ``credits/estimate`` for the whole partition) before anything is imported.
* ``import_chunk`` (pool ``cleanlist_api``) re-reads its chunk from the file by manifest, skips
  it if the ledger says it was imported already, sends it with a content-derived idempotency key,
  splits it on a 413, and records the API's answer at once as an ``AssetObservation``.
* ``import_report`` writes the human report and the numbers the UI plots.

Executor: in-process by default. Every chunk calls one API key that allows 30 requests/minute
(2 s a request), so running chunks in parallel buys almost nothing, while a multiprocess step
costs ~1.5 s of process start (here, on a loaded 2-core machine, ~5 s: a 3-chunk drop took 36 s
multiprocess against ~2 s in-process) against ~50 ms in-process. ``execution: {config:
{multiprocess: {}}}`` switches to one process per step (several keys or lists, or a
Celery/Kubernetes executor); the ``cleanlist_api`` pool then bounds concurrent API steps.
"""

# No ``from __future__ import annotations`` here: Dagster reads the ops' parameter annotations
# (config class, resource, context) at definition time.
import contextlib
import dataclasses
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import numpy as np
from dagster._core.definitions.executor_definition import (
    IN_PROC_CONFIG,
    MULTI_PROC_CONFIG,
    _get_default_executor_requirements,
    multi_or_in_process_executor,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)
from pydantic import Field

from cleanlist_pipeline.api import errors as api_errors
from cleanlist_pipeline.api.idempotency import chunk_import_key
from cleanlist_pipeline.dagster_layer.backfill import (
    backfill_id_of,
    record_backfill_stop,
    reserve_backfill_credits,
    stopped_reason,
)
from cleanlist_pipeline.settings import Settings
from cleanlist_pipeline.dagster_layer.drops import DropFile, build_drop_sensor, resolve_drop, scan_drops
from cleanlist_pipeline.dagster_layer.import_report import render_report
from cleanlist_pipeline.dagster_layer.ledger import (
    IMPORT_ASSET_KEY,
    LedgerEntry,
    decode_hashes,
    encode_hashes,
    iter_ledger,
)
from cleanlist_pipeline.dagster_layer.partitions import CSV_DROPS
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.dropstore import LocalDrop, local_drop, publish_rejects, rejects_target
from cleanlist_pipeline.ingest import (
    API_MAX_BYTES,
    API_MAX_ROWS,
    DEFAULT_MARGIN,
    ChunkSpec,
    ImportPlan,
    IngestError,
    RejectedRecord,
    read_chunk,
    split_chunk,
)

__all__ = [
    "UNIT_COSTS",
    "ImportConfig",
    "build_import_definitions",
    "cleanlist_executor",
    "describe_plan",
]

#: Credits per lead for each enrichment type (reference §2.9, §4).
UNIT_COSTS: dict[str, int] = {"partial": 1, "phone_only": 10, "full": 11}
#: The API's documented cap is "150 KB"; chunks are packed to 150,000 bytes minus a margin
#: (``size_margin_bytes``, default 2,000), and at most 600 records.
CHUNK_BYTES = API_MAX_BYTES
CHUNK_ROWS = API_MAX_ROWS
MODES = ("default", "append", "force")
_STEP_RETRIES = 2


class ImportConfig(dg.Config):
    """Run config of one import (``ops: {cleanlist_csv_import: {config: {...}}}``)."""

    list_name: str | None = Field(
        default=None,
        description="Target list by name (created if missing; create is idempotent on name). "
        "Default: CLEANLIST_LIST_NAME.",
    )
    list_id: str | None = Field(
        default=None,
        description="Target list by id (wins over list_name). Default: CLEANLIST_LIST_ID.",
    )
    mode: str = Field(
        default="default",
        description="default: refuse a drop whose content changed since its last import; "
        "append: import only records not imported before from this partition; force: re-import "
        "every record (the list will hold duplicates).",
    )
    dispatch_enrichment: bool | None = Field(
        default=None,
        description="Start paid enrichment with the import. Default: on when "
        "CLEANLIST_ENRICHMENT_TYPE is set, else off.",
    )
    enrichment_type: str | None = Field(
        default=None,
        description="partial (1 credit/lead), phone_only (10) or full (11). Default: "
        "CLEANLIST_ENRICHMENT_TYPE.",
    )
    max_credits: int | None = Field(
        default=None,
        description="Spend guard budget (default: the run tag cleanlist/max_credits, else the "
        "balance). In a backfill it is the budget of the whole backfill.",
    )
    column_mapping: dict[str, str] | None = Field(
        default=None,
        description="{canonical_field: CSV header}. Default: <drop>.mapping.json, else inferred "
        "from the header.",
    )
    encoding: str | None = Field(
        default=None, description="Source encoding when not UTF-8 (default: detected)."
    )
    size_margin_bytes: int = Field(
        default=DEFAULT_MARGIN,
        description="Chunks are packed to 150,000 bytes minus this margin.",
    )
    max_rows_per_chunk: int = Field(default=CHUNK_ROWS, description="At most 600 (the API's cap).")
    step_retry_seconds: float = Field(
        default=30.0,
        description="Wait before step retry n (times n), only after the client gave up on a "
        "transport failure or 5xx; at most 2 step retries.",
    )


# --------------------------------------------------------------------------- data passed between steps


@dataclass(frozen=True)
class ImportContext:
    """What every chunk step of one partition's import needs to know (small, pickled per step)."""

    partition_key: str
    path: str
    source_sha256: str
    list_id: str
    namespace: str
    mode: str
    salt: str
    dispatch: bool
    enrichment_type: str | None
    column_mapping: dict[str, str]
    ledger_cursor: int | None
    step_retry_seconds: float = 30.0


@dataclass(frozen=True)
class ChunkTask:
    """One chunk to import, with the slice of the plan needed to re-read it."""

    ctx: ImportContext
    plan: ImportPlan
    chunk: ChunkSpec
    known: list[dict[str, Any]] | None = None
    #: content hashes of ``chunk.record_numbers`` (same order), base64 uint64 — ``append``'s memory
    record_hashes: str = ""


@dataclass
class PlanSummary:
    """What ``plan_drop`` tells the report."""

    partition_key: str
    path: str
    source_sha256: str
    list_id: str
    list_name: str
    mode: str
    salt: str
    dispatch: bool
    enrichment_type: str | None
    column_mapping: dict[str, str]
    unmapped_columns: list[str]
    data_records: int
    removed_duplicates: list[int]
    rejects: dict[str, list[int]]
    predicted_skips: dict[str, list[int]]
    already_imported_records: int
    chunks: list[dict[str, Any]]
    credits_estimated: float
    credits_budget: float | None
    rejects_file: str | None
    warnings: list[str] = field(default_factory=list)
    #: every chunk's task, so the report can finish chunks a re-execution did not run
    tasks: list["ChunkTask"] = field(default_factory=list)


# --------------------------------------------------------------------------- helpers


def _dispatch_settings(config: ImportConfig, settings: Settings) -> tuple[bool, str | None]:
    etype = config.enrichment_type or settings.enrichment_type
    dispatch = (
        config.dispatch_enrichment
        if config.dispatch_enrichment is not None
        else settings.enrichment_type is not None
    )
    return dispatch, etype


def _group_rejects(records: Iterable[RejectedRecord]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for rec in records:
        grouped.setdefault(rec.reason, []).append(rec.record)
    return grouped


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


def _piece_hashes(task: "ChunkTask", chunk: ChunkSpec) -> str:
    """The encoded hashes of ``chunk``'s records (a split piece takes its subset)."""
    if chunk.sha256 == task.chunk.sha256:
        return task.record_hashes
    full = decode_hashes(task.record_hashes)
    if len(full) != task.chunk.rows:
        return ""
    by_number = dict(zip(task.chunk.record_numbers, full.tolist(), strict=True))
    return encode_hashes([by_number[n] for n in chunk.record_numbers])


def _source_rows(chunk: ChunkSpec, sample_rows: Iterable[int] | None) -> list[int]:
    """Translate the API's chunk-local row numbers (header = 1) to source record numbers."""
    out = []
    for n in sample_rows or ():
        try:
            out.append(chunk.source_record(int(n)))
        except ValueError:
            continue  # a row number outside the chunk: the server's count, not ours
    return out


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _api_failure(exc: api_errors.APIError, what: str) -> dg.Failure:
    parts = [f"{what} failed: HTTP {exc.status}"]
    if exc.code:
        parts[0] += f" {exc.code}"
    if exc.problem:
        parts.append(str(exc.problem))
    if exc.fix:
        parts.append(f"Fix: {exc.fix}")
    if exc.request_id:
        parts.append(f"(request {exc.request_id})")
    return dg.Failure(
        description=" ".join(parts),
        metadata={"status": exc.status, "code": exc.code or "", "request_id": exc.request_id or ""},
    )


def _stops_backfill(exc: BaseException) -> bool:
    return isinstance(
        exc,
        api_errors.AuthenticationError
        | api_errors.PermissionDeniedError
        | api_errors.InsufficientCreditsError,
    )


def _check_backfill(context: dg.OpExecutionContext) -> str | None:
    backfill_id = backfill_id_of(context.run.tags)
    reason = stopped_reason(context.instance, backfill_id)
    if reason:
        raise dg.Failure(
            description=f"Backfill {backfill_id} was stopped by an earlier run: {reason}. "
            "This partition was not imported; fix the cause and launch a new backfill "
            "(or re-execute the failed runs).",
        )
    return backfill_id


def _stop_backfill_if_needed(
    context: dg.OpExecutionContext, backfill_id: str | None, exc: BaseException
) -> None:
    if backfill_id and _stops_backfill(exc):
        status = getattr(exc, "status", "")
        code = getattr(exc, "code", "") or ""
        record_backfill_stop(
            context.instance,
            backfill_id,
            f"HTTP {status} {code}: {exc}".strip(),
            run_id=context.run_id,
            partition=context.partition_key,
        )
        context.log.error(
            f"Stopped backfill {backfill_id}: the remaining partitions end without calling the API."
        )


def _prior_entries(
    instance: dg.DagsterInstance, partition_key: str, list_id: str, after: int | None = None
) -> list[LedgerEntry]:
    return [
        e
        for e in iter_ledger(instance, partition_key, after_storage_id=after)
        if e.list_id == list_id
    ]


def _salt_matches(entry: LedgerEntry, ctx_mode: str, salt: str) -> bool:
    # force re-imports under its own salt; every other mode accepts an import under any salt, so
    # a plain re-run after a force run does not import a third time.
    return entry.salt == salt if ctx_mode == "force" else True


def _known_pieces(
    entries: Iterable[LedgerEntry], ctx: ImportContext, chunk: ChunkSpec
) -> list[dict[str, Any]] | None:
    """Ledger results covering ``chunk`` (whole, or all pieces of an earlier 413 split)."""
    whole: LedgerEntry | None = None
    pieces: dict[str, LedgerEntry] = {}
    for e in entries:
        if not e.imported or not _salt_matches(e, ctx.mode, ctx.salt):
            continue
        if e.chunk_sha256 == chunk.sha256:
            whole = e
        elif (
            e.source_sha256 == ctx.source_sha256
            and e.chunk_index == chunk.index
            and e.piece != str(chunk.index)
        ):
            pieces[e.chunk_sha256] = e
    if whole is not None:
        return [_entry_result(whole, str(chunk.index))]
    if pieces and sum(p.records for p in pieces.values()) == chunk.rows:
        return [_entry_result(p, p.piece) for p in pieces.values()]
    return None


def _entry_result(e: LedgerEntry, piece: str) -> dict[str, Any]:
    return {
        "piece": piece,
        "sha256": e.chunk_sha256,
        "records": e.records,
        "rows_parsed": e.rows_parsed,
        "rows_imported": e.rows_imported,
        "rows_skipped": e.rows_skipped,
        "skip_reasons": dict(e.skip_reasons),
        "skipped_records": list(e.skipped_records),
        "workflow_id": e.workflow_id,
        "replayed": e.replayed,
        "from_ledger": True,
        "key_hash": e.idempotency_key_hash,
    }


def _resolve_list(client: Any, list_id: str | None, list_name: str | None) -> tuple[str, str]:
    if list_id:
        lead_list = client.get_list(list_id)
        return lead_list.list_id, lead_list.name
    if list_name:
        lead_list = client.create_list(list_name)  # idempotent on name
        return lead_list.list_id, lead_list.name
    raise dg.Failure(
        description="No target list: set list_name or list_id in the run config, or "
        "CLEANLIST_LIST_NAME / CLEANLIST_LIST_ID (there is no default list with a real API key)."
    )


# --------------------------------------------------------------------------- the ops


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


MAX_CREDITS_TAG = "cleanlist/max_credits"


def _max_credits(config: ImportConfig, tags: Any) -> int | None:
    """``max_credits`` from run config, else from the run tag ``cleanlist/max_credits`` — the UI's
    backfill dialog takes tags but no run config, and a backfill's tags reach all its runs."""
    if config.max_credits is not None:
        return config.max_credits
    raw = dict(tags).get(MAX_CREDITS_TAG)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise dg.Failure(
            description=f"Run tag {MAX_CREDITS_TAG}={raw!r} is not a whole number of credits."
        ) from exc


def _spend_guard(
    context: dg.OpExecutionContext,
    client: Any,
    enrichment_type: str,
    rows: int,
    max_credits: int | None,
    backfill_id: str | None,
) -> tuple[float, float]:
    """One free whole-partition estimate; fail before importing if it breaks the budget.

    The budget is ``max_credits`` (for a backfill's runs: the whole backfill's, see
    ``backfill.py``), else the balance the estimate reports. Returns (estimate, budget).
    """
    try:
        estimate = client.estimate_cost(
            "bulk_import_csv", row_count=rows, enrichment_type=enrichment_type
        )
    except api_errors.APIError as exc:
        _stop_backfill_if_needed(context, backfill_id, exc)
        raise _api_failure(exc, "The credit estimate (spend guard)") from exc
    cost = float(estimate.estimated_cost)
    available = float(estimate.available_credits)
    budget = float(max_credits) if max_credits is not None else available
    backfill_wide = bool(backfill_id) and max_credits is not None
    spent_before = 0.0
    fits = cost <= budget
    if fits and backfill_wide:
        fits, spent_before = reserve_backfill_credits(
            context.instance, str(backfill_id), cost, budget
        )
    if fits:
        return cost, budget
    if backfill_wide:
        scope = (
            f"backfill {backfill_id} budget max_credits={budget:,.0f} (already estimated by "
            f"earlier partitions: {spent_before:,.0f})"
        )
    elif max_credits is not None:
        scope = f"max_credits={budget:,.0f}"
    else:
        scope = f"the balance ({budget:,.0f} credits available)"
    message = (
        f"Spend guard: dispatching {enrichment_type} enrichment for {rows:,} rows is estimated "
        f"at {cost:,.0f} credits ({UNIT_COSTS[enrichment_type]} per lead), which exceeds "
        f"{scope}; balance {available:,.0f}. Nothing was imported. Raise max_credits, or import "
        "without dispatch_enrichment and enrich later."
    )
    if backfill_id:
        record_backfill_stop(
            context.instance,
            backfill_id,
            message,
            run_id=context.run_id,
            partition=context.partition_key,
        )
    raise dg.Failure(
        description=message,
        metadata={
            "rows": rows,
            "estimated_credits": cost,
            "max_credits": budget,
            "available_credits": available,
        },
    )


def _import_task(
    context: dg.OpExecutionContext,
    cleanlist: CleanlistResource,
    task: "ChunkTask",
    *,
    use_plan_knowledge: bool,
) -> dict[str, Any]:
    """Import one chunk unless the ledger has it; returns ``{"index", "pieces"}``."""
    backfill_id = _check_backfill(context)
    ctx, chunk = task.ctx, task.chunk
    if use_plan_knowledge and task.known is not None:
        context.log.info(f"Chunk {chunk.index} is in the ledger already; no API call.")
        return {"index": chunk.index, "pieces": task.known}
    fresh = _prior_entries(
        context.instance,
        ctx.partition_key,
        ctx.list_id,
        ctx.ledger_cursor if use_plan_knowledge else None,
    )
    known = _known_pieces(fresh, ctx, chunk)
    if known is not None:
        context.log.info(f"Chunk {chunk.index} was recorded by an earlier attempt; no API call.")
        return {"index": chunk.index, "pieces": known}
    try:
        data = read_chunk(ctx.path, task.plan, chunk)
    except IngestError as exc:
        raise dg.Failure(description=f"{exc} Chunk {chunk.index} was not imported.") from exc
    with cleanlist.get_client() as client:
        pieces = _send(context, client, task, chunk, data, str(chunk.index), fresh, backfill_id)
    return {"index": chunk.index, "pieces": pieces}


def build_import_asset(settings: Settings) -> dg.AssetsDefinition:
    """The graph-backed ``cleanlist_csv_import`` asset, closed over the deployment settings."""

    @dg.op(
        out={"chunks": dg.DynamicOut(ChunkTask), "summary": dg.Out(PlanSummary)},
        tags={"kind": "cleanlist"},
        pool="cleanlist_api",
    )
    def plan_drop(
        context: dg.OpExecutionContext, config: ImportConfig, cleanlist: CleanlistResource
    ) -> Iterator[dg.Output | dg.DynamicOutput]:
        """Plan one drop: target list, ledger, chunk manifest, spend guard."""
        if config.mode not in MODES:
            raise dg.Failure(
                description=f"mode must be one of {', '.join(MODES)}, not {config.mode!r}"
            )
        backfill_id = _check_backfill(context)
        key = context.partition_key
        try:
            drop = resolve_drop(settings.drops_dir, key)
        except (FileNotFoundError, ValueError) as exc:
            raise dg.Failure(description=str(exc)) from exc
        with _local_drop(drop, key) as local:
            source_sha = local.sha256
            dispatch, etype = _dispatch_settings(config, settings)
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
                        list_id, list_name = _resolve_list(
                            client, settings.list_id, settings.list_name
                        )
                except api_errors.APIError as exc:
                    _stop_backfill_if_needed(context, backfill_id, exc)
                    raise _api_failure(exc, "Resolving the target list") from exc

                entries = _prior_entries(context.instance, key, list_id)
                imported = [e for e in entries if e.imported]
                mode, salt, seen_hashes, warnings = _decide_mode(
                    context, config.mode, drop.relative_path, list_id, source_sha, imported
                )
                try:
                    plan = local.plan(
                        column_mapping=config.column_mapping,
                        encoding=config.encoding,
                        max_bytes=CHUNK_BYTES - config.size_margin_bytes,
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
                known = {c.index: _known_pieces(imported, ctx, c) for c in plan.chunks}
                rows_to_send = sum(c.rows for c in plan.chunks if known[c.index] is None)
                credits_estimated, budget = 0.0, None
                if dispatch and rows_to_send:
                    credits_estimated, budget = _spend_guard(
                        context,
                        client,
                        str(etype),
                        rows_to_send,
                        _max_credits(config, context.run.tags),
                        backfill_id,
                    )

            rejects_file = None
            if plan.rejects or plan.removed_duplicates:
                try:
                    rejects_file = publish_rejects(plan, settings.data_dir, key, local.path)
                except OSError as exc:
                    raise dg.Failure(
                        description=f"Could not write the rejects file of {key} under "
                        f"{rejects_path(settings.data_dir, key)}: {exc}. Nothing was imported."
                    ) from exc

        already = plan.already_imported_count
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
            rejects=_group_rejects(plan.rejects),
            predicted_skips={k: list(v) for k, v in plan.predicted_skips.items()},
            already_imported_records=max(already, 0),
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
        yield dg.Output(summary, "summary")
        for task in summary.tasks:
            yield dg.DynamicOutput(
                task, output_name="chunks", mapping_key=f"chunk_{task.chunk.index}"
            )

    @dg.op(tags={"kind": "cleanlist"}, pool="cleanlist_api")
    def import_chunk(
        context: dg.OpExecutionContext, cleanlist: CleanlistResource, task: ChunkTask
    ) -> dict[str, Any]:
        """Import one chunk (or find it in the ledger); record the API's answer at once."""
        return _import_task(context, cleanlist, task, use_plan_knowledge=True)

    @dg.op(tags={"kind": "cleanlist"}, pool="cleanlist_api")
    def import_report(
        context: dg.OpExecutionContext,
        cleanlist: CleanlistResource,
        summary: PlanSummary,
        results: list[dict[str, Any]],
    ) -> dg.Output[dict[str, Any]]:
        """Summarise the partition's import for people (markdown) and for the UI's plots.

        Completeness first: a re-execution of a run killed mid-flight can reach this step
        without chunk steps Dagster never started (it re-runs the steps it saw fail, not the
        mapped steps that had not begun), so any planned chunk without a result is imported
        here, through the same ledger check, before the materialization is recorded.
        """
        done = {r["index"] for r in results}
        missing = [t for t in summary.tasks if t.chunk.index not in done]
        if missing:
            context.log.warning(
                f"{len(missing)} planned chunk(s) have no step result in this run "
                f"({', '.join(str(t.chunk.index) for t in missing[:20])}); importing them here."
            )
            results = [
                *results,
                *(_import_task(context, cleanlist, t, use_plan_knowledge=False) for t in missing),
            ]
        return render_report(summary, results, cleanlist)

    @dg.config_mapping
    def _config(config: ImportConfig) -> dict[str, Any]:
        return {"plan_drop": {"config": config.model_dump()}}

    @dg.graph_asset(
        key=IMPORT_ASSET_KEY,
        group_name="cleanlist",
        partitions_def=CSV_DROPS,
        config=_config,
        kinds={"cleanlist", "csv"},
        description="One CSV drop imported into a Cleanlist lead list, one step per chunk.",
    )
    def cleanlist_csv_import() -> Any:
        chunks, summary = plan_drop()
        return import_report(summary, chunks.map(import_chunk).collect())

    return cleanlist_csv_import


def rejects_path(data_dir: str, partition_key: str) -> str:
    """``<data dir>/rejects/<partition>.csv`` (a key already ending in ``.csv`` keeps its name):
    a local path, or a URI without credentials when the data dir is on an object store."""
    return rejects_target(data_dir, partition_key)[2]


@contextlib.contextmanager
def _local_drop(drop: DropFile, key: str) -> Iterator[LocalDrop]:
    """The drop as a local file for planning (an object is downloaded and verified first); a
    drop that cannot be read fails the step with the reason."""
    with contextlib.ExitStack() as stack:
        try:
            local = stack.enter_context(local_drop(drop.path))
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


def _record(
    context: dg.OpExecutionContext,
    task: ChunkTask,
    chunk: ChunkSpec,
    piece: str,
    key: str,
    result: Any | None,
    error: api_errors.CleanlistError | None = None,
) -> dict[str, Any]:
    ctx = task.ctx
    skipped = _source_rows(chunk, getattr(result, "sample_skip_rows", None)) if result else []
    out = {
        "piece": piece,
        "sha256": chunk.sha256,
        "records": chunk.rows,
        "rows_parsed": result.rows_parsed if result else 0,
        "rows_imported": result.rows_imported if result else 0,
        "rows_skipped": result.rows_skipped if result else 0,
        "skip_reasons": {str(k): int(v) for k, v in dict(result.skip_reasons or {}).items()}
        if result
        else {},
        "skipped_records": skipped,
        "workflow_id": result.workflow_id if result else None,
        "replayed": bool(result.idempotency_replayed) if result else False,
        "from_ledger": False,
        "key_hash": _key_hash(key),
    }
    meta: dict[str, Any] = {
        "entry": "chunk" if result else "chunk_failed",
        "list_id": ctx.list_id,
        "chunk_index": chunk.index,
        "piece": piece,
        "chunk_sha256": chunk.sha256,
        "source_sha256": ctx.source_sha256,
        "salt": ctx.salt,
        "mode": ctx.mode,
        "idempotency_key_hash": out["key_hash"],
        "rows_parsed": out["rows_parsed"],
        "rows_imported": out["rows_imported"],
        "rows_skipped": out["rows_skipped"],
        "skip_reasons": dg.MetadataValue.json(out["skip_reasons"]),
        "skipped_records": dg.MetadataValue.json(skipped),
        "workflow_id": out["workflow_id"] or dg.MetadataValue.null(),
        "replayed": out["replayed"],
        "records": chunk.rows,
        "record_hashes": _piece_hashes(task, chunk),
    }
    if isinstance(error, api_errors.APIError):
        meta["error_code"] = error.code or str(error.status)
        meta["error"] = f"HTTP {error.status} {error.code or ''}".strip()
    elif error is not None:
        meta["error_code"] = type(error).__name__
        meta["error"] = f"no answer from the API ({type(error).__name__})"
    context.log_event(
        dg.AssetObservation(
            asset_key=IMPORT_ASSET_KEY,
            partition=ctx.partition_key,
            metadata=meta,
            description=f"Import ledger: chunk {piece} of {ctx.partition_key}",
        )
    )
    return out


def _send(
    context: dg.OpExecutionContext,
    client: Any,
    task: ChunkTask,
    chunk: ChunkSpec,
    data: bytes,
    piece: str,
    ledger: list[LedgerEntry],
    backfill_id: str | None,
) -> list[dict[str, Any]]:
    ctx = task.ctx
    if piece != str(chunk.index):
        for e in ledger:
            if (
                e.imported
                and e.chunk_sha256 == chunk.sha256
                and _salt_matches(e, ctx.mode, ctx.salt)
            ):
                return [_entry_result(e, piece)]
    key = chunk_import_key(ctx.namespace, ctx.list_id, chunk.sha256, ctx.salt or None)
    try:
        result = client.csv_import(
            ctx.list_id,
            data,
            ctx.column_mapping,
            idempotency_key=key,
            dispatch_enrichment=ctx.dispatch,
            enrichment_type=ctx.enrichment_type,
        )
    except api_errors.PayloadTooLargeError as exc:
        if chunk.rows <= 1:
            _record(context, task, chunk, piece, key, None, exc)
            raise dg.Failure(
                description=f"Record {chunk.record_numbers[0]} of {ctx.partition_key} alone is "
                "larger than the API accepts (413); it cannot be imported. Remove or shorten it, "
                "then import the drop with mode: append."
            ) from exc
        try:
            parts = split_chunk(chunk, ctx.path, task.plan)
        except IngestError as split_exc:
            raise dg.Failure(
                description=f"{split_exc} Chunk {piece} was not imported."
            ) from split_exc
        context.log.warning(
            f"Chunk {piece} ({chunk.rows} rows, {chunk.size:,} bytes) was refused as too large "
            f"(413); splitting it into {len(parts)} pieces."
        )
        out: list[dict[str, Any]] = []
        for sub_chunk, sub_data in _split_parts(ctx, task, parts):
            out.extend(
                _send(
                    context,
                    client,
                    task,
                    sub_chunk,
                    sub_data,
                    _piece_label(sub_chunk),
                    ledger,
                    backfill_id,
                )
            )
        return out
    except (api_errors.TransportError, api_errors.ServerError) as exc:
        # The client already retried with backoff; a step retry gives the API minutes, not
        # seconds. Only these two are retried at step level: a 4xx will not change by waiting.
        retry = context.retry_number
        if retry >= _STEP_RETRIES:
            _record(context, task, chunk, piece, key, None, exc)
            raise dg.Failure(
                description=f"Chunk {piece} of {ctx.partition_key}: the API did not answer "
                f"after the client's retries and {_STEP_RETRIES} step retries ({exc}). Whatever "
                "it committed is replayed, not re-imported, when this step is re-executed "
                "(same idempotency key)."
            ) from exc
        context.log.warning(
            f"Chunk {piece}: the API did not answer after the client's retries ({exc!r}); "
            f"step retry {retry + 1} of {_STEP_RETRIES}."
        )
        raise dg.RetryRequested(
            max_retries=_STEP_RETRIES, seconds_to_wait=ctx.step_retry_seconds * (retry + 1)
        ) from exc
    except api_errors.APIError as exc:
        _record(context, task, chunk, piece, key, None, exc)
        _stop_backfill_if_needed(context, backfill_id, exc)
        raise _api_failure(exc, f"Importing chunk {piece} of {ctx.partition_key}") from exc
    return [_record(context, task, chunk, piece, key, result)]


def _piece_label(chunk: ChunkSpec) -> str:
    """``"3"`` for a planned chunk, ``"3a"``/``"3ab"``… for the halves of a 413 split."""
    return str(getattr(chunk, "label", chunk.index))


def _split_parts(
    ctx: ImportContext, task: ChunkTask, parts: Iterable[ChunkSpec]
) -> Iterator[tuple[ChunkSpec, bytes]]:
    """Each half of a split chunk with its bytes, re-read (and sha-checked) from the drop."""
    for part in parts:
        yield part, read_chunk(ctx.path, task.plan, part)


# --------------------------------------------------------------------------- executor, job, defs

# Dagster's own multi-or-in-process executor, with in-process as the default instead.
cleanlist_executor = dg.ExecutorDefinition(
    name="cleanlist_executor",
    config_schema=dg.Field(
        dg.Selector({"in_process": IN_PROC_CONFIG, "multiprocess": MULTI_PROC_CONFIG}),
        default_value={"in_process": {}},
    ),
    executor_creation_fn=multi_or_in_process_executor.executor_creation_fn,
    requirements=_get_default_executor_requirements,
    description="In-process by default (one API key: concurrency buys little, a process costs "
    "~1.5 s); `multiprocess: {}` runs one process per step.",
)


def build_import_job() -> UnresolvedAssetJobDefinition:
    """The job the drop sensor and the CLI target: the import asset and its checks."""
    return dg.define_asset_job(
        "cleanlist_import_job",
        selection=dg.AssetSelection.assets(IMPORT_ASSET_KEY),
        description="Import one CSV drop (a csv_drops partition) into a Cleanlist lead list.",
    )


def build_import_definitions(settings: Settings) -> dg.Definitions:
    """Assets, checks, job, sensor and executor of the import layer (the resource comes from
    ``definitions.py`` under the key ``cleanlist``)."""
    from cleanlist_pipeline.dagster_layer.checks import build_import_checks

    asset = build_import_asset(settings)
    job = build_import_job()
    return dg.Definitions(
        assets=[asset],
        asset_checks=build_import_checks(),
        jobs=[job],
        sensors=[build_drop_sensor(settings, job)],
        executor=cleanlist_executor,
    )


# --------------------------------------------------------------------------- plan (CLI, sends nothing)


def describe_plan(
    drops_dir: str | os.PathLike[str] | None, settings: Settings
) -> list[dict[str, Any]]:
    """What importing each drop would do, sending nothing (``cleanlist-pipeline plan``).

    Per drop: partition key, mapping, chunks, pre-flight rejects and removed duplicates (record
    numbers), predicted skips, and the credits enrichment would cost (rows x unit cost).
    """
    folder = drops_dir or settings.drops_dir
    if not folder:
        raise ValueError("no drop folder: set CLEANLIST_DROPS_DIR or pass one")
    scan = scan_drops(folder)
    out: list[dict[str, Any]] = []
    for drop in scan:
        item: dict[str, Any] = {"partition_key": drop.key, "path": drop.relative_path}
        try:
            with local_drop(drop.path) as local:
                plan = local.plan(max_bytes=CHUNK_BYTES - DEFAULT_MARGIN, max_rows=CHUNK_ROWS)
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
                "rejects": _group_rejects(plan.rejects),
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
