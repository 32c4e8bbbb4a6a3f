"""What ``status`` reads: the key (who, scopes, balance), each drop's state, and the enrichment
still pending.

Drop states and pending work come from the instance's event log, so they are right whoever did
the work — a ``cleanlist-pipeline run``, the sensor daemon under ``dagster dev``, or a backfill.
The key's scopes come from ``GET /whoami`` (free, needs no scope); ``status`` and ``plan`` name the
ones the connector uses that the key lacks, and what each disables (``api/scopes.py``).
"""

from __future__ import annotations

import time
from typing import Any

from cleanlist_pipeline.api.errors import CleanlistError, InsufficientScopeError
from cleanlist_pipeline.api.scopes import KeyCheck, disabled_by, scopes_of
from cleanlist_pipeline.cli.outcomes import PendingWorkflow
from cleanlist_pipeline.cli.runner import Pipeline
from cleanlist_pipeline.contract import SCOPE_CREDITS_READ, SCOPE_ENRICH_WRITE, SCOPE_LISTS_WRITE
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
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.settings import Settings

__all__ = [
    "KeyCheck",
    "check_key",
    "pending_workflows",
    "plan_consequences",
    "plan_key_check",
    "scan_and_state",
]


def check_key(client: Any, *, balance: bool = True) -> KeyCheck:
    """``GET /whoami`` for who the key is and its scopes, then (when asked and the key has
    ``credits:read``) the balance. A missing scope is reported, not raised; other API errors
    of ``whoami`` are raised, as before (``status`` prints them and exits 1)."""
    who = client.whoami()
    scopes = scopes_of(who)
    missing = {s: disabled_by(s) for s in scopes.missing}
    credits = None
    if balance and SCOPE_CREDITS_READ not in missing:
        try:
            credits = client.credits_balance()
        except InsufficientScopeError as exc:  # whoami did not list scopes, or was out of date
            scope = (exc.required_scopes or [SCOPE_CREDITS_READ])[0]
            missing[scope] = disabled_by(scope)
    return KeyCheck(who, credits, scopes.granted, missing, scopes.error)


def plan_key_check(settings: Settings) -> KeyCheck:
    """The key check for ``plan``: ``whoami`` only (free, sends no drop data), never the
    balance. An error is kept in ``unknown``: the plan itself needs no API."""
    try:
        with CleanlistResource.from_settings(settings).get_client() as client:
            return check_key(client, balance=False)
    except CleanlistError as exc:
        return KeyCheck(unknown=f"{type(exc).__name__}: {exc}")


def plan_consequences(check: KeyCheck, settings: Settings) -> list[str]:
    """What the missing scopes mean for importing these drops with these settings."""
    notes: list[str] = []
    if SCOPE_LISTS_WRITE in check.missing:
        notes.append(f"importing would fail: the key lacks {SCOPE_LISTS_WRITE!r}")
    if settings.enrichment_type is None:
        return notes
    if SCOPE_ENRICH_WRITE in check.missing:
        notes.append(
            f"dispatching {settings.enrichment_type} enrichment would fail: the key lacks "
            f"{SCOPE_ENRICH_WRITE!r}"
        )
    if SCOPE_CREDITS_READ in check.missing:
        notes.append(
            f"the spend guard cannot quote without {SCOPE_CREDITS_READ!r}: "
            + (
                f"with max_credits={settings.max_credits:,} the import would be refused"
                if settings.max_credits is not None
                else "the enrichment would be dispatched unquoted (no max_credits is set)"
            )
        )
    return notes


def scan_and_state(pipeline: Pipeline) -> tuple[DropScan, list[DropState]]:
    """The drop folder's drops and each one's state against the ledger."""
    scan = scan_drops(
        pipeline.settings.drops_dir or "",
        allow_insecure=pipeline.settings.allow_insecure_object_store,
    )
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
