"""Enrichment: the sensor that watches workflows, and the enrich-later asset that starts them.

* ``cursor.py`` — the sensor's state (``EnrichmentCursor``, ``TrackedWorkflow``) and ``PollPolicy``;
* ``events.py`` — where workflows are found: the import ledger and the enrichment asset's
  observations in Dagster's event log;
* ``tick.py`` — one tick (``run_tick``): adopt, poll within budget, record, request snapshots;
* ``sensor.py`` — the sensor definition around a tick;
* ``enrich_later.py`` — ``EnrichConfig`` and the enrichment asset (``POST /enrichment/bulk`` or
  ``/by-task``, quoted and spend-guarded);
* ``checks.py`` — the ``enrichment_succeeded`` check.

Every builder takes the instance's ``Settings``; names come from ``settings.names``.
``ENRICHMENT_KEY`` and ``SENSOR_NAME`` are the *default* instance's.
"""

from __future__ import annotations

from cleanlist_pipeline.dagster_layer.enrichment.checks import build_enrichment_check
from cleanlist_pipeline.dagster_layer.enrichment.cursor import (
    EnrichmentCursor,
    PollPolicy,
    TrackedWorkflow,
    snapshot_run_key,
)
from cleanlist_pipeline.dagster_layer.enrichment.enrich_later import (
    EnrichConfig,
    build_enrich_later_asset,
    needs_enrichment,
)
from cleanlist_pipeline.dagster_layer.enrichment.events import (
    ENRICHMENT_CHECK,
    EVENT,
    Dispatch,
    FinishedLookup,
    read_new_events,
)
from cleanlist_pipeline.dagster_layer.enrichment.sensor import build_enrichment_sensor
from cleanlist_pipeline.dagster_layer.enrichment.tick import TickOutcome, run_tick
from cleanlist_pipeline.settings import Names

__all__ = [
    "ENRICHMENT_CHECK",
    "ENRICHMENT_KEY",
    "EVENT",
    "SENSOR_NAME",
    "Dispatch",
    "EnrichConfig",
    "EnrichmentCursor",
    "FinishedLookup",
    "PollPolicy",
    "TickOutcome",
    "TrackedWorkflow",
    "build_enrich_later_asset",
    "build_enrichment_check",
    "build_enrichment_sensor",
    "needs_enrichment",
    "read_new_events",
    "run_tick",
    "snapshot_run_key",
]

#: The default instance's enrichment asset key and sensor name (``settings.names`` otherwise).
ENRICHMENT_KEY = Names().enrichment_asset
SENSOR_NAME = Names().enrichment_sensor
