"""Importing one group of chunks: read the ledger, send what it lacks, record each answer.

Free of Airflow (the operator in ``operators.py`` maps its two exception kinds to Airflow's), so
the rule is testable on its own and reads like the Dagster chunk step it mirrors: the same
idempotency key derivation (``chunk_import_key(namespace, list_id, chunk sha256)``), the same
re-read of the chunk's bytes from the drop by manifest (sha-checked), the same split on a 413.
A chunk group travels through XCom as offsets, digests and the drop's location — never rows.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from cleanlist_pipeline.airflow.ledger import ChunkRecord, ImportLedger, record_from_answer
from cleanlist_pipeline.api import errors as api_errors
from cleanlist_pipeline.api.idempotency import chunk_import_key
from cleanlist_pipeline.ingest import ChunkSpec, ImportPlan, IngestError, read_chunk, split_chunk

__all__ = ["ChunkFailed", "ChunkRetryable", "import_group", "slim_plan_dict"]


class ChunkFailed(Exception):
    """A chunk cannot be imported by trying again (a 4xx, a changed drop, a one-row 413)."""


class ChunkRetryable(Exception):
    """The API did not answer (after the client's own retries): a task retry may succeed, and
    replays whatever the API committed (same idempotency key)."""


def slim_plan_dict(plan: ImportPlan) -> dict[str, Any]:
    """The plan without its per-record lists: what ``read_chunk``/``split_chunk`` need."""
    slim = dataclasses.replace(
        plan, chunks=[], rejects=[], removed_duplicates=[], predicted_skips={}, already_imported=[]
    )
    return slim.to_dict(include_record_hashes=False)


class _GroupImport:
    def __init__(
        self, client: Any, ledger: ImportLedger, group: dict[str, Any], log: logging.Logger
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.group = group
        self.log = log
        self.plan = ImportPlan.from_dict(group["plan"])
        self.list_id: str = group["list_id"]
        self.source_sha: str = group["source_sha256"]
        self.path: str = group["path"]

    def key(self, chunk: ChunkSpec) -> str:
        return chunk_import_key(self.group["namespace"], self.list_id, chunk.sha256)

    def send(self, chunk: ChunkSpec, piece: str) -> list[tuple[ChunkRecord, bool]]:
        """``[(record, from_ledger)]`` for ``chunk`` (several pieces after a 413)."""
        key = self.key(chunk)
        known = self.ledger.get(self.list_id, self.source_sha, key)
        if known is not None:
            return [(known, True)]
        try:
            data = read_chunk(self.path, self.plan, chunk)
        except IngestError as exc:
            raise ChunkFailed(f"{exc} Chunk {piece} was not imported.") from exc
        try:
            result = self.client.csv_import(
                self.list_id, data, self.group["column_mapping"], idempotency_key=key
            )
        except api_errors.PayloadTooLargeError as exc:
            return self._split(chunk, piece, exc)
        except (
            api_errors.TransportError,
            api_errors.ServerError,
            api_errors.RateLimitedError,
            api_errors.RateLimiterTimeoutError,
        ) as exc:
            raise ChunkRetryable(
                f"Chunk {piece} of {self.group['drop']}: the API did not answer after the "
                f"client's retries ({type(exc).__name__}: {exc}). A retry replays whatever it "
                "committed (same idempotency key)."
            ) from exc
        except api_errors.APIError as exc:
            raise ChunkFailed(
                f"Importing chunk {piece} of {self.group['drop']} failed: HTTP {exc.status} "
                f"{exc.code or ''} {exc.problem or ''}".rstrip()
                + (f" Fix: {exc.fix}" if exc.fix else "")
            ) from exc
        skipped = []
        for n in result.sample_skip_rows or ():
            try:
                skipped.append(chunk.source_record(int(n)))
            except ValueError:
                continue  # a row number outside the chunk: the server's count, not ours
        base = {
            "list_id": self.list_id,
            "source_sha256": self.source_sha,
            "idempotency_key": key,
            "drop": self.group["drop"],
            "chunk_index": chunk.index,
            "piece": piece,
            "chunk_sha256": chunk.sha256,
            "records": chunk.rows,
        }
        # written before anything else happens: a task killed right after still knows
        stored = self.ledger.put(record_from_answer(base, result, skipped))
        return [(stored, False)]

    def _split(
        self, chunk: ChunkSpec, piece: str, exc: api_errors.PayloadTooLargeError
    ) -> list[tuple[ChunkRecord, bool]]:
        if chunk.rows <= 1:
            raise ChunkFailed(
                f"Record {chunk.record_numbers[0]} of {self.group['drop']} alone is larger than "
                "the API accepts (413); it cannot be imported. Remove or shorten it in a new drop."
            ) from exc
        try:
            parts = split_chunk(chunk, self.path, self.plan)
        except IngestError as split_exc:
            raise ChunkFailed(f"{split_exc} Chunk {piece} was not imported.") from split_exc
        self.log.warning(
            "Chunk %s (%d rows, %d bytes) was refused as too large (413); splitting it in %d.",
            piece,
            chunk.rows,
            chunk.size,
            len(parts),
        )
        out: list[tuple[ChunkRecord, bool]] = []
        for part in parts:
            out.extend(self.send(part, str(part.label)))
        return out


def import_group(
    client: Any, ledger: ImportLedger, group: dict[str, Any], log: logging.Logger
) -> dict[str, Any]:
    """Import every chunk of ``group``; a small summary (counts, workflow ids) for XCom."""
    job = _GroupImport(client, ledger, group, log)
    pieces: list[tuple[ChunkRecord, bool]] = []
    for raw in group["chunks"]:
        chunk = ChunkSpec.from_dict(raw)
        got = job.send(chunk, chunk.label)
        for record, from_ledger in got:
            how = "in the ledger already (no API call)" if from_ledger else (
                "replayed by the API (imported before)" if record.replayed else "imported"
            )
            log.info(
                "Chunk %s of %s: %s — %d rows imported, %d skipped.",
                record.piece,
                group["drop"],
                how,
                record.rows_imported,
                record.rows_skipped,
            )
        pieces.extend(got)
    fresh = [r for r, from_ledger in pieces if not from_ledger and not r.replayed]
    return {
        "drop": group["drop"],
        "list_id": group["list_id"],
        "chunks": len(group["chunks"]),
        "records": sum(r.records for r, _ in pieces),
        "rows_imported": sum(r.rows_imported for r, _ in pieces),
        "rows_skipped": sum(r.rows_skipped for r, _ in pieces),
        "imported_now": sum(r.rows_imported for r in fresh),
        "replayed": sum(1 for r, f in pieces if r.replayed and not f),
        "from_ledger": sum(1 for _, f in pieces if f),
        "workflow_ids": sorted({r.workflow_id for r, _ in pieces if r.workflow_id}),
    }
