"""Everything after the import: enrichment, snapshots, the lists catalog, the daily schedule.

``build_lifecycle_definitions(settings)`` is merged with the import definitions and the
``cleanlist`` resource in ``cleanlist_pipeline/definitions.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG

from cleanlist_pipeline.dagster_layer.catalog import build_catalog_asset
from cleanlist_pipeline.settings import Settings
from cleanlist_pipeline.dagster_layer.enrichment import (
    PollPolicy,
    build_enrichment_sensor,
    cleanlist_enrichment,
    enrichment_succeeded,
)
from cleanlist_pipeline.dagster_layer.schedules import build_refresh_schedule
from cleanlist_pipeline.dagster_layer.snapshots import (
    LEADS_SNAPSHOT_KEY,
    SNAPSHOT_IO_MANAGER_KEY,
    LeadsSnapshotIOManager,
    build_snapshot_asset,
)

SNAPSHOT_JOB = "cleanlist_snapshot_job"
REFRESH_JOB = "cleanlist_refresh_job"
ENRICH_JOB = "cleanlist_enrich_job"


def build_lifecycle_definitions(
    settings: Settings, *, poll_policy: PollPolicy | None = None
) -> dg.Definitions:
    """Assets, checks, jobs, the enrichment sensor and the daily schedule for ``settings``.

    The ``cleanlist`` resource is not included (``definitions.py`` adds it once for all parts).
    """
    snapshot = build_snapshot_asset(settings.data_dir, settings.embedded)
    catalog = build_catalog_asset(settings.data_dir, settings.embedded)
    snapshot_job = dg.define_asset_job(
        SNAPSHOT_JOB,
        selection=dg.AssetSelection.assets(LEADS_SNAPSHOT_KEY),
        description="Snapshot one list's leads to Parquet (partition = list_id).",
    )
    refresh_job = dg.define_asset_job(
        REFRESH_JOB,
        selection=dg.AssetSelection.assets(LEADS_SNAPSHOT_KEY, catalog.key),
        description="The daily schedule's job: the lists catalog and per-list snapshots.",
    )
    enrich_job = dg.define_asset_job(
        ENRICH_JOB,
        selection=dg.AssetSelection.assets(cleanlist_enrichment.key),
        description="Enrich leads already in a list (partition = list_id).",
    )
    return dg.Definitions(
        assets=[snapshot, catalog, cleanlist_enrichment],
        asset_checks=[enrichment_succeeded],
        jobs=[snapshot_job, refresh_job, enrich_job],
        sensors=[
            build_enrichment_sensor(snapshot_job, embedded=settings.embedded, policy=poll_policy)
        ],
        schedules=[build_refresh_schedule(refresh_job, embedded=settings.embedded)],
        resources={SNAPSHOT_IO_MANAGER_KEY: LeadsSnapshotIOManager(data_dir=settings.data_dir)},
    )


# ---------------------------------------------------------------------------------------------
# Driving a sensor outside the daemon (CLI `run`/`demo`, tests)
# ---------------------------------------------------------------------------------------------

_CURSOR_KEY = "cleanlist.sensor_cursor.{}"


@dataclass
class TickReport:
    """What one daemon-style evaluation of a sensor did."""

    asset_events: list[Any] = field(default_factory=list)
    launched: list[dg.JobExecutionResult] = field(default_factory=list)
    deduplicated_run_keys: list[str] = field(default_factory=list)
    skip_message: str | None = None


def load_sensor_cursor(instance: dg.DagsterInstance, sensor_name: str) -> str | None:
    """The cursor :func:`tick_sensor` saved for ``sensor_name`` in the instance (or ``None``)."""
    key = _CURSOR_KEY.format(sensor_name)
    return instance.run_storage.get_cursor_values({key}).get(key) or None


def _run_key_used(instance: dg.DagsterInstance, sensor_name: str, run_key: str) -> bool:
    # The daemon's own rule: a run key is spent once a run with these two tags exists.
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={SENSOR_NAME_TAG: sensor_name, RUN_KEY_TAG: run_key}),
        limit=1,
    )
    return bool(records)


def tick_sensor(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    sensor_name: str,
    *,
    run_tags: dict[str, str] | None = None,
    run_config: dict[str, Any] | None = None,
) -> TickReport:
    """Evaluate the real sensor definition once against ``instance`` and act on the result
    as Dagster's sensor daemon does: record its asset events, apply its partition requests,
    execute each run request whose run key is unused (in this process, on the instance), and
    keep the cursor in the instance's key-value store for the next call.

    Used where no daemon runs (``cleanlist-pipeline run``/``demo``, tests). It keeps its own
    cursor, separate from the daemon's; the sensor's event-log reading makes either safe.
    """
    sensor = defs.get_repository_def().get_sensor_def(sensor_name)
    cursor = load_sensor_cursor(instance, sensor_name)
    # With an instance *ref* (as the daemon passes) the context can resolve dynamic partitions
    # when it validates the run requests' partition keys.
    with dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        cursor=cursor,
        definitions=defs,
        sensor_name=sensor_name,
        resources=dict(defs.resources or {}),
    ) as context:
        data = sensor.evaluate_tick(context)
    report = TickReport(asset_events=list(data.asset_events), skip_message=data.skip_message)
    for event in data.asset_events:
        instance.report_runless_asset_event(event)
    for request in data.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    for request in data.run_requests or []:
        if request.run_key and _run_key_used(instance, sensor_name, request.run_key):
            report.deduplicated_run_keys.append(request.run_key)
            continue
        job = defs.resolve_job_def(request.job_name or sensor.job_name)
        tags = {**request.tags, **(run_tags or {}), SENSOR_NAME_TAG: sensor_name}
        if request.run_key:
            tags[RUN_KEY_TAG] = request.run_key
        report.launched.append(
            job.execute_in_process(
                instance=instance,
                partition_key=request.partition_key,
                run_config={**dict(request.run_config or {}), **(run_config or {})},
                tags=tags,
                asset_selection=list(request.asset_selection) if request.asset_selection else None,
                raise_on_error=False,
            )
        )
    if data.cursor is not None:
        key = _CURSOR_KEY.format(sensor_name)
        instance.run_storage.set_cursor_values({key: data.cursor})
    return report
