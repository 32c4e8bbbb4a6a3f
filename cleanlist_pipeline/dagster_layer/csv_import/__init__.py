"""The CSV import: config, plan step, chunk step, report, and the graph-backed asset.

| module | role |
|---|---|
| ``config`` | ``ImportConfig`` (run config) and the rules that read it |
| ``payloads`` | what steps pass each other: ``ChunkTask``, ``ChunkResult``, ``PlanSummary`` |
| ``plan_step`` | target list, immutable-drop rules, chunk manifest, spend guard, rejects |
| ``chunk_step`` | one chunk: ledger check, send, 413 split, ledger observation |
| ``ledger_match`` | what the ledger already holds for a chunk |
| ``failures`` | API errors as step failures; stopping a backfill |
| ``report`` | the materialization people read |
| ``asset`` | the asset, its job and executor, ``build_import_definitions`` |
| ``describe`` | ``describe_plan`` for ``cleanlist-pipeline plan`` (sends nothing) |
"""

from cleanlist_pipeline.dagster_layer.csv_import.asset import (
    build_import_asset,
    build_import_definitions,
    build_import_job,
    cleanlist_executor,
)
from cleanlist_pipeline.dagster_layer.csv_import.config import ImportConfig
from cleanlist_pipeline.dagster_layer.csv_import.describe import describe_plan

__all__ = [
    "ImportConfig",
    "build_import_asset",
    "build_import_definitions",
    "build_import_job",
    "cleanlist_executor",
    "describe_plan",
]
