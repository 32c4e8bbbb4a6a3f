"""What the ledger already holds for a chunk: the rule that makes re-runs import nothing twice."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from cleanlist_pipeline.dagster_layer.csv_import.payloads import ImportContext, PieceResult
from cleanlist_pipeline.dagster_layer.ledger import LedgerEntry, iter_ledger
from cleanlist_pipeline.ingest import ChunkSpec

__all__ = ["entry_result", "known_pieces", "prior_entries", "salt_matches"]


def prior_entries(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    partition_key: str,
    list_id: str,
    after: int | None = None,
) -> list[LedgerEntry]:
    """The partition's ledger entries for ``list_id`` (after storage id ``after``)."""
    return [
        e
        for e in iter_ledger(instance, asset_key, partition_key, after_storage_id=after)
        if e.list_id == list_id
    ]


def salt_matches(entry: LedgerEntry, mode: str, salt: str) -> bool:
    """Does ``entry`` count as imported for a run in ``mode`` with ``salt``?"""
    # force re-imports under its own salt; every other mode accepts an import under any salt, so
    # a plain re-run after a force run does not import a third time.
    return entry.salt == salt if mode == "force" else True


def entry_result(e: LedgerEntry, piece: str) -> PieceResult:
    """A ledger entry as a piece result (no API call)."""
    return PieceResult(
        piece=piece,
        sha256=e.chunk_sha256,
        records=e.records,
        rows_parsed=e.rows_parsed,
        rows_imported=e.rows_imported,
        rows_skipped=e.rows_skipped,
        skip_reasons=dict(e.skip_reasons),
        skipped_records=list(e.skipped_records),
        workflow_id=e.workflow_id,
        replayed=e.replayed,
        from_ledger=True,
        key_hash=e.idempotency_key_hash,
    )


def known_pieces(
    entries: Iterable[LedgerEntry], ctx: ImportContext, chunk: ChunkSpec
) -> tuple[PieceResult, ...] | None:
    """Ledger results covering ``chunk`` (whole, or all pieces of an earlier 413 split)."""
    whole: LedgerEntry | None = None
    pieces: dict[str, LedgerEntry] = {}
    for e in entries:
        if not e.imported or not salt_matches(e, ctx.mode, ctx.salt):
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
        return (entry_result(whole, str(chunk.index)),)
    if pieces and sum(p.records for p in pieces.values()) == chunk.rows:
        return tuple(entry_result(p, p.piece) for p in pieces.values())
    return None
