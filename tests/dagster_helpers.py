"""What the import tests read back from Dagster, shared by ``tests/pipeline`` and ``tests/scaleout``:
a partition's materialization metadata, the failure a user sees, and a run with one process per
step."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository

from cleanlist_pipeline.settings import Names

#: The default instance's names (``cleanlist_csv_import``, ``csv_drops``, ``cleanlist_import_job``).
DEFAULT_NAMES = Names()


def materialization(
    instance: dg.DagsterInstance, key: str, asset_key: dg.AssetKey | None = None
) -> dict[str, Any]:
    """The latest import materialization's metadata for partition ``key``, as plain values."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=asset_key or DEFAULT_NAMES.import_asset, asset_partitions=[key]
        ),
        limit=1,
    ).records
    assert records, f"partition {key} was never materialized"
    meta = records[0].asset_materialization.metadata  # type: ignore[union-attr]
    return {k: getattr(v, "value", v) for k, v in meta.items()}


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The description of the first failed step (what a user reads in the UI)."""
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            data = event.step_failure_data
            desc = data.user_failure_data.description if data.user_failure_data else None
            return desc or (data.error.message if data.error else "")
    return ""


@dataclass(frozen=True)
class ProcessRun:
    """How a run with one process per step ended."""

    success: bool
    #: Step keys of every STEP_SUCCESS event, e.g. ``cleanlist_csv_import.import_chunk[chunk_0]``.
    succeeded_steps: list[str]
    seconds: float


def reconstructable_job(module: str, job_name: str) -> ReconstructableJob:
    """``module:defs``'s job as a step process would load it, freshly from the environment.

    Dagster keeps the last reconstructed job in an ``lru_cache`` keyed by equal pointers, so a
    second test in the same worker would get the first test's definitions (its sandbox, drops
    and IO-manager folder) without this.
    """
    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()
    return ReconstructableRepository.for_module(module, "defs").get_reconstructable_job(job_name)


def run_import_in_processes(
    instance: dg.DagsterInstance,
    partition_key: str,
    max_concurrent: int = 2,
    *,
    module: str = "tests.env_definitions",
    names: Names = DEFAULT_NAMES,
) -> ProcessRun:
    """Run the import job for ``partition_key`` on the ``multiprocess`` executor, as a scale-out
    deployment would: each step process rebuilds the definitions from ``module``'s ``defs`` (by
    default ``tests.env_definitions``) and the ``CLEANLIST_*`` environment the caller has set."""
    instance.add_dynamic_partitions(names.partitions_drops, [partition_key])
    job = reconstructable_job(module, names.import_job)
    started = time.monotonic()
    with dg.execute_job(
        job,
        instance=instance,
        run_config={"execution": {"config": {"multiprocess": {"max_concurrent": max_concurrent}}}},
        tags={"dagster/partition": partition_key},
    ) as result:
        steps = [
            e.step_key or "" for e in result.all_events if e.event_type_value == "STEP_SUCCESS"
        ]
        return ProcessRun(result.success, steps, time.monotonic() - started)
