"""The import ledger, read back from Dagster's event log.

Every chunk step records the API's answer at once as an ``AssetObservation`` on the import asset
for its partition (``ledger_codec.py`` defines the record). Those observations *are* the ledger:
they survive a run that later fails or is killed, they live in the instance's event log (Postgres
in production, never a local file), and re-runs, checks, the drop sensor, the CLI and the
enrichment sensor all read them from here.

Every reader names the import asset's key: a deployment may hold several pipeline instances, each
with its own import asset (``settings.names.import_asset``) and so its own ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import dagster as dg

from cleanlist_pipeline.dagster_layer.ledger_codec import ChunkObservation, decode_fields

__all__ = [
    "DispatchedWorkflow",
    "LedgerEntry",
    "iter_dispatched_workflows",
    "iter_ledger",
    "latest_source_sha",
]

_PAGE = 1000


@dataclass(frozen=True, kw_only=True)
class LedgerEntry(ChunkObservation):
    """One chunk observation, decoded, with where it sits in the event log."""

    storage_id: int
    timestamp: float
    run_id: str
    partition_key: str


class DispatchedWorkflow(NamedTuple):
    """An enrichment workflow a chunk import started (for the enrichment sensor)."""

    partition_key: str
    list_id: str
    workflow_id: str
    chunk_index: int
    timestamp: float


def _decode(record: dg.EventLogRecord) -> LedgerEntry | None:
    observation = record.asset_observation
    if observation is None:
        return None
    meta = dict(observation.metadata)
    fields = decode_fields(meta)
    if fields["entry"] not in ("chunk", "chunk_failed"):
        return None
    return LedgerEntry(
        storage_id=record.storage_id,
        timestamp=record.timestamp,
        run_id=record.run_id,
        partition_key=record.partition_key or "",
        **fields,
    )


def iter_ledger(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    partition_key: str | None = None,
    *,
    after_storage_id: int | None = None,
    after_timestamp: float | None = None,
) -> Iterator[LedgerEntry]:
    """Ledger entries of the import asset ``asset_key``, oldest first, for one partition (or
    all), paged from the event log.

    >>> for e in iter_ledger(instance, settings.names.import_asset, "jan.csv"):  # doctest: +SKIP
    ...     print(e.chunk_index, e.rows_imported, e.workflow_id)
    """
    records_filter = dg.AssetRecordsFilter(
        asset_key=asset_key,
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
    asset_key: dg.AssetKey,
    partition_key: str | None = None,
    *,
    after_storage_id: int | None = None,
    after_timestamp: float | None = None,
) -> Iterator[DispatchedWorkflow]:
    """Every chunk observation with a workflow id, oldest first.

    A replayed answer (``idempotency_replayed``) repeats the workflow id of the first import, so
    the same id can come more than once: callers key their state by workflow id.
    """
    for entry in iter_ledger(
        instance,
        asset_key,
        partition_key,
        after_storage_id=after_storage_id,
        after_timestamp=after_timestamp,
    ):
        if entry.imported and entry.workflow_id:
            yield DispatchedWorkflow(
                entry.partition_key,
                entry.list_id,
                entry.workflow_id,
                entry.chunk_index,
                entry.timestamp,
            )


def latest_source_sha(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_key: str
) -> str | None:
    """sha256 of the drop content most recently imported into this partition (any list)."""
    result = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition_key]),
        limit=20,
        ascending=False,
    )
    for record in result.records:
        entry = _decode(record)
        if entry is not None and entry.imported:
            return entry.source_sha256
    # Failed entries only, or nothing in the latest 20: fall back to a full scan.
    latest: str | None = None
    for entry in iter_ledger(instance, asset_key, partition_key):
        if entry.imported:
            latest = entry.source_sha256
    return latest
