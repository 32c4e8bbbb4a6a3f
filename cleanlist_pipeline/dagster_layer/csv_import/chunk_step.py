"""The chunk step: import one chunk (or find it in the ledger), recording the API's answer at once.

The step re-reads its chunk from the drop by manifest, sends it with a content-derived idempotency
key, splits it on a 413, and writes one ledger observation per answer before returning, so a run
killed right after still knows what the API committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import dagster as dg

from cleanlist_pipeline.api import errors as api_errors
from cleanlist_pipeline.api.idempotency import chunk_import_key
from cleanlist_pipeline.dagster_layer.csv_import.config import STEP_RETRIES
from cleanlist_pipeline.dagster_layer.csv_import.failures import (
    api_failure,
    check_backfill,
    stop_backfill_if_needed,
)
from cleanlist_pipeline.dagster_layer.csv_import.ledger_match import (
    entry_result,
    known_pieces,
    prior_entries,
    salt_matches,
)
from cleanlist_pipeline.dagster_layer.csv_import.payloads import (
    ChunkResult,
    ChunkTask,
    ImportContext,
    PieceResult,
)
from cleanlist_pipeline.dagster_layer.ledger import LedgerEntry
from cleanlist_pipeline.dagster_layer.ledger_codec import (
    ENTRY_FAILED,
    ENTRY_IMPORTED,
    ChunkObservation,
    decode_hashes,
    encode_hashes,
    to_metadata,
)
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.ingest import ChunkSpec, IngestError, read_chunk, split_chunk
from cleanlist_pipeline.settings import Settings

__all__ = ["import_task"]


def import_task(
    context: dg.OpExecutionContext,
    settings: Settings,
    cleanlist: CleanlistResource,
    task: ChunkTask,
    *,
    use_plan_knowledge: bool,
) -> ChunkResult:
    """Import one chunk unless the ledger has it."""
    backfill_id = check_backfill(context, settings)
    ctx, chunk = task.ctx, task.chunk
    if use_plan_knowledge and task.known is not None:
        context.log.info(f"Chunk {chunk.index} is in the ledger already; no API call.")
        return ChunkResult(chunk.index, task.known)
    fresh = prior_entries(
        context.instance,
        settings.names.import_asset,
        ctx.partition_key,
        ctx.list_id,
        ctx.ledger_cursor if use_plan_knowledge else None,
    )
    known = known_pieces(fresh, ctx, chunk)
    if known is not None:
        context.log.info(f"Chunk {chunk.index} was recorded by an earlier attempt; no API call.")
        return ChunkResult(chunk.index, known)
    try:
        data = read_chunk(ctx.path, task.plan, chunk)
    except IngestError as exc:
        raise dg.Failure(description=f"{exc} Chunk {chunk.index} was not imported.") from exc
    sender = _Sender(context, settings, task, fresh, backfill_id)
    with cleanlist.get_client() as client:
        pieces = sender.send(client, chunk, data, str(chunk.index))
    return ChunkResult(chunk.index, tuple(pieces))


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


def _piece_hashes(task: ChunkTask, chunk: ChunkSpec) -> str:
    """The encoded hashes of ``chunk``'s records (a split piece takes its subset)."""
    if chunk.sha256 == task.chunk.sha256:
        return task.record_hashes
    full = decode_hashes(task.record_hashes)
    if len(full) != task.chunk.rows:
        return ""
    by_number = dict(zip(task.chunk.record_numbers, full.tolist(), strict=True))
    return encode_hashes([by_number[n] for n in chunk.record_numbers])


def _piece_label(chunk: ChunkSpec) -> str:
    """``"3"`` for a planned chunk, ``"3a"``/``"3ab"``… for the halves of a 413 split."""
    return str(getattr(chunk, "label", chunk.index))


def _split_parts(
    ctx: ImportContext, task: ChunkTask, parts: Iterable[ChunkSpec]
) -> Iterator[tuple[ChunkSpec, bytes]]:
    """Each half of a split chunk with its bytes, re-read (and sha-checked) from the drop."""
    for part in parts:
        yield part, read_chunk(ctx.path, task.plan, part)


class _Sender:
    """Sends one task's chunk (and, after a 413, its pieces), recording every answer."""

    def __init__(
        self,
        context: dg.OpExecutionContext,
        settings: Settings,
        task: ChunkTask,
        ledger: list[LedgerEntry],
        backfill_id: str | None,
    ) -> None:
        self.context = context
        self.settings = settings
        self.task = task
        self.ledger = ledger
        self.backfill_id = backfill_id

    def record(
        self,
        chunk: ChunkSpec,
        piece: str,
        key: str,
        result: Any | None,
        error: api_errors.CleanlistError | None = None,
    ) -> PieceResult:
        """Write the API's answer (or its failure) to the ledger; return it as a piece result."""
        ctx = self.task.ctx
        skipped = _source_rows(chunk, getattr(result, "sample_skip_rows", None)) if result else []
        out = PieceResult(
            piece=piece,
            sha256=chunk.sha256,
            records=chunk.rows,
            rows_parsed=result.rows_parsed if result else 0,
            rows_imported=result.rows_imported if result else 0,
            rows_skipped=result.rows_skipped if result else 0,
            skip_reasons=(
                {str(k): int(v) for k, v in dict(result.skip_reasons or {}).items()}
                if result
                else {}
            ),
            skipped_records=skipped,
            workflow_id=result.workflow_id if result else None,
            replayed=bool(result.idempotency_replayed) if result else False,
            from_ledger=False,
            key_hash=_key_hash(key),
        )
        error_code = error_text = None
        if isinstance(error, api_errors.APIError):
            error_code = error.code or str(error.status)
            error_text = f"HTTP {error.status} {error.code or ''}".strip()
        elif error is not None:
            error_code = type(error).__name__
            error_text = f"no answer from the API ({type(error).__name__})"
        observation = ChunkObservation(
            entry=ENTRY_IMPORTED if result else ENTRY_FAILED,
            list_id=ctx.list_id,
            chunk_index=chunk.index,
            piece=piece,
            chunk_sha256=chunk.sha256,
            source_sha256=ctx.source_sha256,
            salt=ctx.salt,
            mode=ctx.mode,
            idempotency_key_hash=out.key_hash,
            rows_parsed=out.rows_parsed,
            rows_imported=out.rows_imported,
            rows_skipped=out.rows_skipped,
            skip_reasons=out.skip_reasons,
            skipped_records=skipped,
            workflow_id=out.workflow_id,
            replayed=out.replayed,
            records=chunk.rows,
            record_hashes=_piece_hashes(self.task, chunk),
            error_code=error_code,
            error=error_text,
        )
        self.context.log_event(
            dg.AssetObservation(
                asset_key=self.settings.names.import_asset,
                partition=ctx.partition_key,
                metadata=to_metadata(observation),
                description=f"Import ledger: chunk {piece} of {ctx.partition_key}",
            )
        )
        return out

    def send(self, client: Any, chunk: ChunkSpec, data: bytes, piece: str) -> list[PieceResult]:
        """Send ``chunk`` (``data``: its bytes); split and recurse on a 413."""
        ctx, task, context = self.task.ctx, self.task, self.context
        if piece != str(chunk.index):
            for e in self.ledger:
                if (
                    e.imported
                    and e.chunk_sha256 == chunk.sha256
                    and salt_matches(e, ctx.mode, ctx.salt)
                ):
                    return [entry_result(e, piece)]
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
                self.record(chunk, piece, key, None, exc)
                raise dg.Failure(
                    description=f"Record {chunk.record_numbers[0]} of {ctx.partition_key} alone "
                    "is larger than the API accepts (413); it cannot be imported. Remove or "
                    "shorten it, then import the drop with mode: append."
                ) from exc
            try:
                parts = split_chunk(chunk, ctx.path, task.plan)
            except IngestError as split_exc:
                raise dg.Failure(
                    description=f"{split_exc} Chunk {piece} was not imported."
                ) from split_exc
            context.log.warning(
                f"Chunk {piece} ({chunk.rows} rows, {chunk.size:,} bytes) was refused as too "
                f"large (413); splitting it into {len(parts)} pieces."
            )
            out: list[PieceResult] = []
            for sub_chunk, sub_data in _split_parts(ctx, task, parts):
                out.extend(self.send(client, sub_chunk, sub_data, _piece_label(sub_chunk)))
            return out
        except (api_errors.TransportError, api_errors.ServerError) as exc:
            # The client already retried with backoff; a step retry gives the API minutes, not
            # seconds. Only these two are retried at step level: a 4xx will not change by waiting.
            retry = context.retry_number
            if retry >= STEP_RETRIES:
                self.record(chunk, piece, key, None, exc)
                raise dg.Failure(
                    description=f"Chunk {piece} of {ctx.partition_key}: the API did not answer "
                    f"after the client's retries and {STEP_RETRIES} step retries ({exc}). "
                    "Whatever it committed is replayed, not re-imported, when this step is "
                    "re-executed (same idempotency key)."
                ) from exc
            context.log.warning(
                f"Chunk {piece}: the API did not answer after the client's retries ({exc!r}); "
                f"step retry {retry + 1} of {STEP_RETRIES}."
            )
            raise dg.RetryRequested(
                max_retries=STEP_RETRIES, seconds_to_wait=ctx.step_retry_seconds * (retry + 1)
            ) from exc
        except api_errors.APIError as exc:
            self.record(chunk, piece, key, None, exc)
            stop_backfill_if_needed(context, self.settings, self.backfill_id, exc)
            raise api_failure(exc, f"Importing chunk {piece} of {ctx.partition_key}") from exc
        return [self.record(chunk, piece, key, result)]
