"""What ``status`` reads besides the API: each drop's state, and the enrichment still pending.

Both come from the instance's event log, so they are right whoever did the work — a
``cleanlist-pipeline run``, the sensor daemon under ``dagster dev``, or a backfill.
"""

from __future__ import annotations

import time

from cleanlist_pipeline.cli.outcomes import PendingWorkflow
from cleanlist_pipeline.cli.runner import Pipeline
from cleanlist_pipeline.dagster_layer.drop_state import DropState, drop_states
from cleanlist_pipeline.dagster_layer.drops import DropScan, scan_drops
from cleanlist_pipeline.dagster_layer.enrichment.cursor import EnrichmentCursor
from cleanlist_pipeline.dagster_layer.enrichment.events import (
    EVENT,
    iter_observations,
    meta_value,
    read_new_events,
)
from cleanlist_pipeline.dagster_layer.lifecycle import load_sensor_cursor

__all__ = ["pending_workflows", "scan_and_state"]


def scan_and_state(pipeline: Pipeline) -> tuple[DropScan, list[DropState]]:
    """The drop folder's drops and each one's state against the ledger."""
    scan = scan_drops(pipeline.settings.drops_dir or "")
    return scan, drop_states(pipeline.instance, pipeline.settings, scan)


def pending_workflows(pipeline: Pipeline) -> list[PendingWorkflow]:
    """Workflows dispatched and not yet terminal, from the event log — whoever evaluates the
    sensor (the daemon or this CLI) — with the last progress seen and, when the CLI's own
    sensor cursor tracks one, when it is polled next."""
    names = pipeline.settings.names
    dispatches, terminal = read_new_events(pipeline.instance, EnrichmentCursor(), names)
    open_dispatches = {d.workflow_id: d for d in dispatches if d.workflow_id not in terminal}
    if not open_dispatches:
        return []
    progress: dict[str, tuple[str, str | None]] = {}
    for record in iter_observations(pipeline.instance, names.enrichment_asset):
        observation = record.asset_observation
        meta = dict(observation.metadata) if observation is not None else {}
        workflow_id = str(meta_value(meta, "workflow_id", ""))
        if workflow_id in open_dispatches and meta_value(meta, EVENT) == "progress":
            progress[workflow_id] = (
                str(meta_value(meta, "status", "pending")),
                meta_value(meta, "processed/total"),
            )
    cursor = EnrichmentCursor.from_json(
        load_sensor_cursor(pipeline.instance_dir, names.enrichment_sensor)
    )
    now = time.time()
    out: list[PendingWorkflow] = []
    for workflow_id, dispatch in open_dispatches.items():
        status, processed = progress.get(workflow_id, ("pending", None))
        tracked = cursor.pending.get(workflow_id)
        out.append(
            PendingWorkflow(
                workflow_id=workflow_id,
                list_id=dispatch.list_id,
                source=dispatch.source,
                status=status,
                processed=processed,
                next_poll_in_s=max(0.0, tracked.next_poll_at - now) if tracked else None,
            )
        )
    return out
