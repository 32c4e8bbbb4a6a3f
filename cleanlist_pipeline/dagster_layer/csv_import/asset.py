"""The import asset: one graph-backed partition per CSV drop, its job and the definitions.

```
plan_drop ──(one DynamicOutput per chunk)──▶ import_chunk[chunk_0] ─┐
    │                                        import_chunk[chunk_1] ─┼─▶ import_report ─▶ materialization
    └────────────────── summary ─────────────────────────────────────┘
```

Every name comes from ``settings.names``: the asset key, the partitions definition, the op names
inside the graph (``plan_drop`` for the default instance, ``emea__plan_drop`` for one named
``emea``), the job, the sensor and the resource key, so two instances load side by side.

Executor: in-process by default, set on the import job (not on ``Definitions``, so two instances
do not clash). Every chunk calls one API key that allows 30 requests/minute (2 s a request), so
running chunks in parallel buys almost nothing, while a multiprocess step costs ~1.5 s of process
start (on a loaded 2-core machine ~5 s: a 3-chunk drop took 36 s multiprocess against ~2 s
in-process). ``execution: {config: {multiprocess: {}}}`` switches to one process per step (several
keys or lists, or a Celery/Kubernetes executor); the ``cleanlist_api`` pool then bounds concurrent
API steps.
"""

# No ``from __future__ import annotations`` here: Dagster reads the ops' parameter annotations
# (config class, context) at definition time.
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import dagster as dg

from cleanlist_pipeline.dagster_layer.attributes import instance_asset_attributes
from cleanlist_pipeline.dagster_layer.checks import build_import_checks
from cleanlist_pipeline.dagster_layer.csv_import.chunk_step import import_task
from cleanlist_pipeline.dagster_layer.csv_import.config import ImportConfig
from cleanlist_pipeline.dagster_layer.csv_import.payloads import (
    ChunkResult,
    ChunkTask,
    PlanSummary,
)
from cleanlist_pipeline.dagster_layer.csv_import.plan_step import plan_drop
from cleanlist_pipeline.dagster_layer.csv_import.progress_log import chunk_finished
from cleanlist_pipeline.dagster_layer.csv_import.report import render_report
from cleanlist_pipeline.dagster_layer.drop_sensor import build_drop_sensor
from cleanlist_pipeline.dagster_layer.partitions import drops_partitions
from cleanlist_pipeline.dagster_layer.resources import cleanlist_of
from cleanlist_pipeline.settings import Settings

__all__ = [
    "build_import_asset",
    "build_import_definitions",
    "build_import_job",
    "cleanlist_executor",
]

API_POOL = "cleanlist_api"

# Dagster's own multi-or-in-process executor with in-process as the default. ``configured`` keeps
# Dagster's validation of the inner config (the permissive outer schema only picks the mode) and
# its requirements (a reconstructable job and a persistent instance only for ``multiprocess``).
cleanlist_executor = dg.multi_or_in_process_executor.configured(
    lambda config: config,
    name="cleanlist_executor",
    config_schema=dg.Field(
        dg.Selector({"in_process": dg.Permissive(), "multiprocess": dg.Permissive()}),
        default_value={"in_process": {}},
    ),
    description="In-process by default (one API key: concurrency buys little, a process costs "
    "~1.5 s); `multiprocess: {}` runs one process per step.",
)


def build_import_asset(settings: Settings) -> dg.AssetsDefinition:
    """The graph-backed import asset of ``settings``' instance."""
    names = settings.names
    resource_keys = {names.resource}
    op_tags = {"kind": "cleanlist"}

    @dg.op(
        name=names.op("plan_drop"),
        out={"chunks": dg.DynamicOut(ChunkTask), "summary": dg.Out(PlanSummary)},
        tags=op_tags,
        pool=API_POOL,
        required_resource_keys=resource_keys,
    )
    def plan_drop_op(
        context: dg.OpExecutionContext, config: ImportConfig
    ) -> Iterator[dg.Output | dg.DynamicOutput]:
        """Plan one drop: target list, ledger, chunk manifest, spend guard."""
        summary = plan_drop(context, settings, config, cleanlist_of(context, names))
        # each chunk step knows the plan's size, for its "412/1,668 chunks" progress line
        summary.tasks = [replace(t, chunks_total=len(summary.tasks)) for t in summary.tasks]
        yield dg.Output(summary, "summary")
        for task in summary.tasks:
            yield dg.DynamicOutput(
                task, output_name="chunks", mapping_key=f"chunk_{task.chunk.index}"
            )

    @dg.op(
        name=names.op("import_chunk"),
        tags=op_tags,
        pool=API_POOL,
        required_resource_keys=resource_keys,
    )
    def import_chunk_op(context: dg.OpExecutionContext, task: ChunkTask) -> ChunkResult:
        """Import one chunk (or find it in the ledger); record the API's answer at once."""
        cleanlist = cleanlist_of(context, names)
        result = import_task(context, settings, cleanlist, task, use_plan_knowledge=True)
        called_api = any(not p.from_ledger for p in result.pieces)
        chunk_finished(context, task.chunk.index, task.chunks_total, called_api=called_api)
        return result

    @dg.op(
        name=names.op("import_report"),
        tags=op_tags,
        pool=API_POOL,
        required_resource_keys=resource_keys,
    )
    def import_report_op(
        context: dg.OpExecutionContext, summary: PlanSummary, results: list[ChunkResult]
    ) -> dg.Output[dict[str, Any]]:
        """Summarise the partition's import for people (markdown) and for the UI's plots.

        Completeness first: a re-execution of a run killed mid-flight can reach this step
        without chunk steps Dagster never started (it re-runs the steps it saw fail, not the
        mapped steps that had not begun), so any planned chunk without a result is imported
        here, through the same ledger check, before the materialization is recorded.
        """
        cleanlist = cleanlist_of(context, names)
        done = {r.index for r in results}
        missing = [t for t in summary.tasks if t.chunk.index not in done]
        if missing:
            context.log.warning(
                f"{len(missing)} planned chunk(s) have no step result in this run "
                f"({', '.join(str(t.chunk.index) for t in missing[:20])}); importing them here."
            )
            results = [
                *results,
                *(
                    import_task(context, settings, cleanlist, t, use_plan_knowledge=False)
                    for t in missing
                ),
            ]
        output = render_report(summary, results, cleanlist)
        meta = {k: getattr(v, "value", v) for k, v in output.metadata.items()}
        context.log.info(
            f"Import of {summary.path} finished: {len(results)} chunk(s); "
            f"{meta['requests_actual']} request(s) made, "
            f"{meta['requests_expected']} expected by the plan."
        )
        return output

    plan_name = names.op("plan_drop")

    @dg.config_mapping
    def _config(config: ImportConfig) -> dict[str, Any]:
        return {plan_name: {"config": config.model_dump()}}

    @dg.graph_asset(
        key=names.import_asset,
        **instance_asset_attributes(settings),
        partitions_def=drops_partitions(names),
        config=_config,
        kinds={"cleanlist", "csv"},
        description="One CSV drop imported into a Cleanlist lead list, one step per chunk.",
    )
    def cleanlist_csv_import() -> Any:
        chunks, summary = plan_drop_op()
        return import_report_op(summary, chunks.map(import_chunk_op).collect())

    return cleanlist_csv_import


def build_import_job(settings: Settings) -> Any:
    """The job the drop sensor and the CLI target: the import asset and its checks, on the
    in-process-by-default executor."""
    names = settings.names
    return dg.define_asset_job(
        names.import_job,
        selection=dg.AssetSelection.assets(names.import_asset),
        executor_def=cleanlist_executor,
        description=f"Import one CSV drop (a {names.partitions_drops} partition) into a "
        "Cleanlist lead list.",
    )


def build_import_definitions(settings: Settings) -> dg.Definitions:
    """Asset, checks, job and drop sensor of ``settings``' instance (the resource, under
    ``settings.names.resource``, comes from ``build_definitions``)."""
    job = build_import_job(settings)
    return dg.Definitions(
        assets=[build_import_asset(settings)],
        asset_checks=build_import_checks(settings.names),
        jobs=[job],
        sensors=[build_drop_sensor(settings, job)],
    )
