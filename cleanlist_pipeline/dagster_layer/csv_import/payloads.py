"""What the import's steps pass each other (pickled by the IO manager between processes).

Payloads stay small: a :class:`ChunkTask` names its chunk by manifest (index, byte range, sha256)
and the step re-reads those bytes from the drop's source (file or object store), so no rows travel
between steps and a step on another machine needs only the drop's location.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cleanlist_pipeline.ingest import ChunkSpec, ImportPlan

__all__ = ["ChunkResult", "ChunkTask", "ImportContext", "PieceResult", "PlanSummary"]


@dataclass(frozen=True)
class ImportContext:
    """What every chunk step of one partition's import needs to know."""

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
class PieceResult:
    """The API's answer to one chunk, or one piece of a chunk split after a 413."""

    piece: str
    sha256: str
    records: int
    rows_parsed: int
    rows_imported: int
    rows_skipped: int
    skip_reasons: dict[str, int]
    skipped_records: list[int]
    workflow_id: str | None
    replayed: bool
    #: True when the ledger had it already (no API call this time)
    from_ledger: bool
    key_hash: str

    def report_row(self) -> dict[str, Any]:
        """The piece as the report's ``chunk_results`` JSON shows it."""
        return {
            "piece": self.piece,
            "records": self.records,
            "rows_parsed": self.rows_parsed,
            "rows_imported": self.rows_imported,
            "rows_skipped": self.rows_skipped,
            "skip_reasons": dict(self.skip_reasons),
            "skipped_records": list(self.skipped_records),
            "workflow_id": self.workflow_id,
            "replayed": self.replayed,
            "from_ledger": self.from_ledger,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class ChunkResult:
    """One planned chunk's outcome: one piece, or several after a 413 split."""

    index: int
    pieces: tuple[PieceResult, ...]


@dataclass(frozen=True)
class ChunkTask:
    """One chunk to import, with the slice of the plan needed to re-read it (no rows)."""

    ctx: ImportContext
    plan: ImportPlan
    chunk: ChunkSpec
    #: what the ledger already held for this chunk at planning time
    known: tuple[PieceResult, ...] | None = None
    #: content hashes of ``chunk.record_numbers`` (same order), base64 uint64 — ``append``'s memory
    record_hashes: str = ""
    #: how many chunks the partition's plan has (for "chunk 412 of 1,668" progress lines)
    chunks_total: int = 0


@dataclass
class PlanSummary:
    """What the plan step tells the report."""

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
    tasks: list[ChunkTask] = field(default_factory=list)
