"""Where the sensor finds workflows: Dagster's event log, never a side file.

* the import ledger: chunk observations on the import asset with a ``workflow_id``
  (``ledger.iter_ledger``, read by the instance's import asset key);
* observations on the enrichment asset with ``cleanlist/event = dispatched``, written by the
  enrich-later asset the moment the API answers. The sensor writes ``progress`` and
  ``terminal`` observations there too, and reads ``terminal`` ones back, so a tick whose cursor
  was not saved (daemon killed mid-tick) does not finish a workflow twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg

from cleanlist_pipeline.dagster_layer.enrichment.cursor import EnrichmentCursor
from cleanlist_pipeline.dagster_layer.ledger import iter_ledger
from cleanlist_pipeline.settings import Names

__all__ = [
    "ENRICHMENT_CHECK",
    "EVENT",
    "Dispatch",
    "FinishedLookup",
    "iter_observations",
    "meta_value",
    "read_new_events",
]

ENRICHMENT_CHECK = "enrichment_succeeded"
EVENT = "cleanlist/event"  # metadata key: dispatched | progress | terminal
_PAGE = 1000  # event-log records per read


@dataclass(frozen=True)
class Dispatch:
    """A workflow found in the event log."""

    workflow_id: str
    list_id: str
    source: str


def meta_value(metadata: dict[str, Any], name: str, default: Any = None) -> Any:
    """A metadata entry's plain value (``MetadataValue`` unwrapped)."""
    value = getattr(metadata.get(name), "value", metadata.get(name))
    return default if value is None else value


def iter_observations(
    instance: dg.DagsterInstance,
    records_filter: dg.AssetRecordsFilter | dg.AssetKey,
    *,
    ascending: bool = True,
) -> Iterator[dg.EventLogRecord]:
    """Every observation matching ``records_filter``, paged."""
    cursor: str | None = None
    while True:
        result = instance.fetch_observations(
            records_filter, limit=_PAGE, cursor=cursor, ascending=ascending
        )
        yield from result.records
        if not result.has_more:
            return
        cursor = result.cursor


def read_new_events(
    instance: dg.DagsterInstance, state: EnrichmentCursor, names: Names
) -> tuple[list[Dispatch], set[str]]:
    """Dispatches and terminal workflow ids recorded since the cursor; advances the cursor."""
    dispatches: list[Dispatch] = []
    terminal: set[str] = set()
    # Every ledger entry advances the position, not only those with a workflow: an import-only
    # history would otherwise be read again on every tick.
    for entry in iter_ledger(
        instance, names.import_asset, after_storage_id=state.import_after or None
    ):
        state.import_after = max(state.import_after, entry.storage_id)
        if entry.imported and entry.workflow_id and entry.list_id:
            dispatches.append(
                Dispatch(entry.workflow_id, entry.list_id, f"import:{entry.partition_key}")
            )
    records_filter = dg.AssetRecordsFilter(
        asset_key=names.enrichment_asset, after_storage_id=state.enrich_after or None
    )
    for record in iter_observations(instance, records_filter):
        state.enrich_after = max(state.enrich_after, record.storage_id)
        observation = record.asset_observation
        if observation is None:
            continue
        meta = dict(observation.metadata)
        workflow_id = meta_value(meta, "workflow_id")
        if not workflow_id:
            continue
        kind = meta_value(meta, EVENT)
        if kind == "dispatched":
            list_id = meta_value(meta, "list_id") or record.partition_key
            dispatches.append(Dispatch(str(workflow_id), str(list_id), "enrich-later"))
        elif kind == "terminal":
            terminal.add(str(workflow_id))
    return dispatches, terminal


class FinishedLookup:
    """Is there a terminal observation for a workflow? One event-log read per list and tick."""

    def __init__(self, instance: dg.DagsterInstance, enrichment_asset: dg.AssetKey) -> None:
        self._instance = instance
        self._key = enrichment_asset
        self._by_list: dict[str, set[str]] = {}

    def __call__(self, dispatch: Dispatch) -> bool:
        if dispatch.list_id not in self._by_list:
            records_filter = dg.AssetRecordsFilter(
                asset_key=self._key, asset_partitions=[dispatch.list_id]
            )
            finished: set[str] = set()
            for record in iter_observations(self._instance, records_filter, ascending=False):
                observation = record.asset_observation
                meta = dict(observation.metadata) if observation is not None else {}
                if meta_value(meta, EVENT) == "terminal" and meta_value(meta, "workflow_id"):
                    finished.add(str(meta_value(meta, "workflow_id")))
            self._by_list[dispatch.list_id] = finished
        return dispatch.workflow_id in self._by_list[dispatch.list_id]
