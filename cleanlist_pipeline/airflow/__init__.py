"""The Airflow 3 provider for Cleanlist (``pip install 'cleanlist-pipeline[airflow]'``).

A hook on an Airflow connection, operators that plan a drop and import it as mapped chunk tasks
with a durable ledger, an enrich-later operator, a deferrable enrichment sensor with its trigger,
and a snapshot operator. It reuses the orchestrator-free layers (``api``, ``ingest``,
``storage``, ``drop_scan``, ``settings``, ``spend_rules``) and imports no Dagster.

Names are loaded lazily, so ``import cleanlist_pipeline.airflow`` (which Airflow does for the
provider entry point) stays cheap.

========================================  ==============================================
``CleanlistHook``                         ``hook.py`` — connection → ``CleanlistClient``
``CleanlistPlanDropsOperator``            ``operators.py`` — drops → small chunk specs
``CleanlistImportChunksOperator``         ``operators.py`` — one mapped task per chunk group
``CleanlistImportReportOperator``         ``report.py`` — sums up, fails on failed chunks
``CleanlistEnrichOperator``               ``enrich.py`` — enrich-later with the spend guard
``CleanlistEnrichmentSensor``             ``sensor.py`` — deferrable by default
``CleanlistEnrichmentTrigger``            ``trigger.py`` — async polling in the triggerer
``CleanlistSnapshotOperator``             ``snapshot.py`` — list → Parquet (Hive layout)
========================================  ==============================================
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CleanlistHook": "hook",
    "CleanlistPlanDropsOperator": "operators",
    "CleanlistImportChunksOperator": "operators",
    "CleanlistImportReportOperator": "report",
    "CleanlistEnrichOperator": "enrich",
    "CleanlistEnrichmentSensor": "sensor",
    "CleanlistEnrichmentTrigger": "trigger",
    "CleanlistSnapshotOperator": "snapshot",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
