"""The import ledger, read back from Dagster's event log.

Every chunk step records the API's answer at once as an ``AssetObservation`` on
``cleanlist_csv_import`` for its partition (see ``imports.py``). Those observations *are* the
ledger: they survive a run that later fails or is killed, they live in the instance's event log
(Postgres in production, never a local file), and re-runs, checks and the enrichment sensor all
read them from here.

Observation metadata written by the chunk step (``entry`` tells the kind):

| field | meaning |
|---|---|
| ``entry`` | ``"chunk"`` (the API imported or replayed it) or ``"chunk_failed"`` (4xx, not retried) |
| ``list_id``, ``chunk_index``, ``piece`` | target list; chunk number; ``"3"`` or ``"3.1"`` after a 413 split |
| ``chunk_sha256``, ``source_sha256`` | the chunk's bytes; the whole drop file's bytes |
| ``salt``, ``mode`` | ``force`` salt (``""`` when none); ``default`` / ``append`` / ``force`` |
| ``idempotency_key_hash`` | sha256 prefix of the key sent (the key itself is not a secret, but short) |
| ``rows_parsed``, ``rows_imported``, ``rows_skipped`` | the API's counts |
| ``skip_reasons``, ``skipped_records`` | ``{reason: n}``; source record numbers (header = 1) |
| ``workflow_id``, ``replayed`` | enrichment workflow (or null); ``idempotency_replayed`` |
| ``records``, ``record_hashes`` | records sent; their content hashes (base64 uint64) for ``append`` |
| ``error_code``, ``error`` | failed entries only |
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import dagster as dg
import numpy as np

__all__ = [
    "IMPORT_ASSET_KEY",
    "DispatchedWorkflow",
    "LedgerEntry",
    "decode_hashes",
    "encode_hashes",
    "iter_dispatched_workflows",
    "iter_ledger",
    "latest_source_sha",
]

IMPORT_ASSET_KEY = dg.AssetKey("cleanlist_csv_import")
_PAGE = 1000


@dataclass(frozen=True)
class LedgerEntry:
    """One chunk observation, decoded."""

    storage_id: int
    timestamp: float
    run_id: str
    partition_key: str
    entry: str
    list_id: str
    chunk_index: int
    piece: str
    chunk_sha256: str
    source_sha256: str
    salt: str
    mode: str
    rows_parsed: int = 0
    rows_imported: int = 0
    rows_skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    skipped_records: list[int] = field(default_factory=list)
    workflow_id: str | None = None
    replayed: bool = False
    records: int = 0
    record_hashes: str = ""
    idempotency_key_hash: str = ""
    error_code: str | None = None
    error: str | None = None

    @property
    def imported(self) -> bool:
        """True when the API accepted the chunk (imported or replayed)."""
        return self.entry == "chunk"


class DispatchedWorkflow(NamedTuple):
    """An enrichment workflow a chunk import started (for the enrichment sensor)."""

    partition_key: str
    list_id: str
    workflow_id: str
    chunk_index: int
    timestamp: float


def encode_hashes(hashes: Any) -> str:
    """Pack per-record content hashes (uint64) as base64 for observation metadata."""
    arr = np.asarray(hashes, dtype=np.uint64)
    return base64.b64encode(arr.astype("<u8").tobytes()).decode("ascii")


def decode_hashes(text: str) -> np.ndarray:
    """Inverse of :func:`encode_hashes`."""
    if not text:
        return np.empty(0, dtype=np.uint64)
    return np.frombuffer(base64.b64decode(text), dtype="<u8").astype(np.uint64)


def _value(meta: dict[str, Any], name: str, default: Any = None) -> Any:
    item = meta.get(name)
    if item is None:
        return default
    value = getattr(item, "value", item)
    return default if value is None else value


def _decode(record: dg.EventLogRecord) -> LedgerEntry | None:
    observation = record.asset_observation
    if observation is None:
        return None
    meta = dict(observation.metadata)
    entry = _value(meta, "entry")
    if entry not in ("chunk", "chunk_failed"):
        return None
    return LedgerEntry(
        storage_id=record.storage_id,
        timestamp=record.timestamp,
        run_id=record.run_id,
        partition_key=record.partition_key or "",
        entry=entry,
        list_id=str(_value(meta, "list_id", "")),
        chunk_index=int(_value(meta, "chunk_index", -1)),
        piece=str(_value(meta, "piece", "")),
        chunk_sha256=str(_value(meta, "chunk_sha256", "")),
        source_sha256=str(_value(meta, "source_sha256", "")),
        salt=str(_value(meta, "salt", "")),
        mode=str(_value(meta, "mode", "default")),
        rows_parsed=int(_value(meta, "rows_parsed", 0)),
        rows_imported=int(_value(meta, "rows_imported", 0)),
        rows_skipped=int(_value(meta, "rows_skipped", 0)),
        skip_reasons={str(k): int(v) for k, v in dict(_value(meta, "skip_reasons", {})).items()},
        skipped_records=[int(n) for n in _value(meta, "skipped_records", [])],
        workflow_id=_value(meta, "workflow_id") or None,
        replayed=bool(_value(meta, "replayed", False)),
        records=int(_value(meta, "records", 0)),
        record_hashes=str(_value(meta, "record_hashes", "")),
        idempotency_key_hash=str(_value(meta, "idempotency_key_hash", "")),
        error_code=_value(meta, "error_code"),
        error=_value(meta, "error"),
    )


def iter_ledger(
    instance: dg.DagsterInstance,
    partition_key: str | None = None,
    *,
    after_storage_id: int | None = None,
    after_timestamp: float | None = None,
) -> Iterator[LedgerEntry]:
    """Ledger entries, oldest first, for one partition (or all), paged from the event log.

    >>> for e in iter_ledger(instance, "leads/jan.csv"):  # doctest: +SKIP
    ...     print(e.chunk_index, e.rows_imported, e.workflow_id)
    """
    records_filter = dg.AssetRecordsFilter(
        asset_key=IMPORT_ASSET_KEY,
        asset_partitions=[partition_key] if partition_key is not None else None,
        after_storage_id=after_storage_id,
        after_timestamp=after_timestamp,
    )
    cursor: str | None = None
    while True:
        result = instance.fetch_observations(
            records_filter, limit=_PAGE, cursor=cursor, ascending=True
        )
        for record in result.records:
            entry = _decode(record)
            if entry is not None:
                yield entry
        if not result.has_more:
            return
        cursor = result.cursor


def iter_dispatched_workflows(
    instance: dg.DagsterInstance,
    partition_key: str | None = None,
    *,
    after_storage_id: int | None = None,
    after_timestamp: float | None = None,
) -> Iterator[DispatchedWorkflow]:
    """Every chunk observation with a workflow id, oldest first.

    Yields ``(partition_key, list_id, workflow_id, chunk_index, timestamp)``. A replayed answer
    (``idempotency_replayed``) repeats the workflow id of the first import, so the same id can
    come more than once: callers key their state by workflow id.
    """
    for entry in iter_ledger(
        instance, partition_key, after_storage_id=after_storage_id, after_timestamp=after_timestamp
    ):
        if entry.imported and entry.workflow_id:
            yield DispatchedWorkflow(
                entry.partition_key,
                entry.list_id,
                entry.workflow_id,
                entry.chunk_index,
                entry.timestamp,
            )


def latest_source_sha(instance: dg.DagsterInstance, partition_key: str) -> str | None:
    """sha256 of the drop content most recently imported into this partition (any list)."""
    result = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=IMPORT_ASSET_KEY, asset_partitions=[partition_key]),
        limit=20,
        ascending=False,
    )
    for record in result.records:
        entry = _decode(record)
        if entry is not None and entry.imported:
            return entry.source_sha256
    # Failed entries only, or nothing in the latest 20: fall back to a full scan.
    latest: str | None = None
    for entry in iter_ledger(instance, partition_key):
        if entry.imported:
            latest = entry.source_sha256
    return latest
