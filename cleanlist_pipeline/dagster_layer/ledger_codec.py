"""The import ledger's record: what a chunk step writes as observation metadata and reads back.

One typed value, :class:`ChunkObservation`, and its two directions: :func:`to_metadata` (the
chunk step, when the API has answered) and :func:`from_metadata` (the ledger reader). Nothing else
spells the metadata field names, so writer and reader cannot drift apart.

| field | meaning |
|---|---|
| ``entry`` | ``"chunk"`` (the API imported or replayed it) or ``"chunk_failed"`` (4xx, not retried) |
| ``list_id``, ``chunk_index``, ``piece`` | target list; chunk number; ``"3"`` or ``"3a"`` after a 413 split |
| ``chunk_sha256``, ``source_sha256`` | the chunk's bytes; the whole drop file's bytes |
| ``salt``, ``mode`` | ``force`` salt (``""`` when none); ``default`` / ``append`` / ``force`` |
| ``idempotency_key_hash`` | sha256 prefix of the key sent |
| ``rows_parsed``, ``rows_imported``, ``rows_skipped`` | the API's counts |
| ``skip_reasons``, ``skipped_records`` | ``{reason: n}``; source record numbers (header = 1) |
| ``workflow_id``, ``replayed`` | enrichment workflow (or null); ``idempotency_replayed`` |
| ``records``, ``record_hashes`` | records sent; their content hashes (base64 uint64) for ``append`` |
| ``error_code``, ``error`` | failed entries only |

>>> obs = ChunkObservation(entry="chunk", list_id="l", chunk_index=0, piece="0",
...                        chunk_sha256="c", source_sha256="s", rows_imported=3)
>>> from_metadata(to_metadata(obs)) == obs
True
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import dagster as dg
import numpy as np

__all__ = [
    "ENTRY_FAILED",
    "ENTRY_IMPORTED",
    "ChunkObservation",
    "decode_hashes",
    "encode_hashes",
    "from_metadata",
    "to_metadata",
]

ENTRY_IMPORTED = "chunk"
ENTRY_FAILED = "chunk_failed"
Entry = Literal["chunk", "chunk_failed"]


@dataclass(frozen=True, kw_only=True)
class ChunkObservation:
    """The API's answer to one chunk (or one piece of a split chunk)."""

    entry: Entry
    list_id: str
    chunk_index: int
    piece: str
    chunk_sha256: str
    source_sha256: str
    salt: str = ""
    mode: str = "default"
    idempotency_key_hash: str = ""
    rows_parsed: int = 0
    rows_imported: int = 0
    rows_skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    skipped_records: list[int] = field(default_factory=list)
    workflow_id: str | None = None
    replayed: bool = False
    records: int = 0
    record_hashes: str = ""
    error_code: str | None = None
    error: str | None = None

    @property
    def imported(self) -> bool:
        """True when the API accepted the chunk (imported or replayed)."""
        return self.entry == ENTRY_IMPORTED


def encode_hashes(hashes: Iterable[int] | np.ndarray) -> str:
    """Pack per-record content hashes (uint64) as base64 for observation metadata."""
    arr = np.asarray(list(hashes) if not isinstance(hashes, np.ndarray) else hashes, np.uint64)
    return base64.b64encode(arr.astype("<u8").tobytes()).decode("ascii")


def decode_hashes(text: str) -> np.ndarray:
    """Inverse of :func:`encode_hashes`."""
    if not text:
        return np.empty(0, dtype=np.uint64)
    return np.frombuffer(base64.b64decode(text), dtype="<u8").astype(np.uint64)


def to_metadata(obs: ChunkObservation) -> dict[str, Any]:
    """Observation metadata for ``obs`` (error fields only on failures)."""
    meta: dict[str, Any] = {
        "entry": obs.entry,
        "list_id": obs.list_id,
        "chunk_index": obs.chunk_index,
        "piece": obs.piece,
        "chunk_sha256": obs.chunk_sha256,
        "source_sha256": obs.source_sha256,
        "salt": obs.salt,
        "mode": obs.mode,
        "idempotency_key_hash": obs.idempotency_key_hash,
        "rows_parsed": obs.rows_parsed,
        "rows_imported": obs.rows_imported,
        "rows_skipped": obs.rows_skipped,
        "skip_reasons": dg.MetadataValue.json(dict(obs.skip_reasons)),
        "skipped_records": dg.MetadataValue.json(list(obs.skipped_records)),
        "workflow_id": obs.workflow_id or dg.MetadataValue.null(),
        "replayed": obs.replayed,
        "records": obs.records,
        "record_hashes": obs.record_hashes,
    }
    if obs.error_code is not None:
        meta["error_code"] = obs.error_code
    if obs.error is not None:
        meta["error"] = obs.error
    return meta


def _value(meta: Mapping[str, Any], name: str, default: Any = None) -> Any:
    item = meta.get(name)
    if item is None:
        return default
    value = getattr(item, "value", item)
    return default if value is None else value


def from_metadata(meta: Mapping[str, Any]) -> ChunkObservation | None:
    """The observation ``meta`` records, or None when it is not a ledger entry."""
    entry = _value(meta, "entry")
    if entry not in (ENTRY_IMPORTED, ENTRY_FAILED):
        return None
    return ChunkObservation(**decode_fields(meta))


def decode_fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`ChunkObservation` fields of ledger metadata, typed (for subclasses)."""
    skip_reasons = dict(_value(meta, "skip_reasons", {}))
    return {
        "entry": _value(meta, "entry"),
        "list_id": str(_value(meta, "list_id", "")),
        "chunk_index": int(_value(meta, "chunk_index", -1)),
        "piece": str(_value(meta, "piece", "")),
        "chunk_sha256": str(_value(meta, "chunk_sha256", "")),
        "source_sha256": str(_value(meta, "source_sha256", "")),
        "salt": str(_value(meta, "salt", "")),
        "mode": str(_value(meta, "mode", "default")),
        "idempotency_key_hash": str(_value(meta, "idempotency_key_hash", "")),
        "rows_parsed": int(_value(meta, "rows_parsed", 0)),
        "rows_imported": int(_value(meta, "rows_imported", 0)),
        "rows_skipped": int(_value(meta, "rows_skipped", 0)),
        "skip_reasons": {str(k): int(v) for k, v in skip_reasons.items()},
        "skipped_records": [int(n) for n in _value(meta, "skipped_records", [])],
        "workflow_id": _value(meta, "workflow_id") or None,
        "replayed": bool(_value(meta, "replayed", False)),
        "records": int(_value(meta, "records", 0)),
        "record_hashes": str(_value(meta, "record_hashes", "")),
        "error_code": _value(meta, "error_code"),
        "error": _value(meta, "error"),
    }
