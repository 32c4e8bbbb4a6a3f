"""Everything after the import: enrichment, snapshots, the lists catalog, the schedule — and
driving a sensor where no daemon runs.

``build_lifecycle_definitions(settings)`` is merged with the import definitions and the
instance's resource by ``cleanlist_pipeline.definitions.build_definitions``. Every name comes
from ``settings.names``, so several instances merge into one code location.

Asset graph of one instance (keys of the default instance)::

    cleanlist_csv_import (by drop) ──AllPartitionMapping──▶ leads_snapshot (by list)
    cleanlist_enrichment (by list) ──identity────────────▶ leads_snapshot (by list)
    lead_lists (unpartitioned, no edges)
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from cleanlist_pipeline.dagster_layer.catalog import build_catalog_asset
from cleanlist_pipeline.dagster_layer.enrichment import (
    PollPolicy,
    build_enrich_later_asset,
    build_enrichment_check,
    build_enrichment_sensor,
)
from cleanlist_pipeline.dagster_layer.schedules import build_refresh_schedule
from cleanlist_pipeline.dagster_layer.snapshots import LeadsSnapshotIOManager, build_snapshot_asset
from cleanlist_pipeline.settings import Names, Settings

__all__ = [
    "ENRICH_JOB",
    "REFRESH_JOB",
    "SNAPSHOT_JOB",
    "TickReport",
    "build_lifecycle_definitions",
    "load_sensor_cursor",
    "sensor_cursor_path",
    "tick_sensor",
]

#: The default instance's job names (``settings.names`` otherwise).
SNAPSHOT_JOB = Names().snapshot_job
REFRESH_JOB = Names().refresh_job
ENRICH_JOB = Names().enrich_job

RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"


def build_lifecycle_definitions(
    settings: Settings, *, poll_policy: PollPolicy | None = None
) -> dg.Definitions:
    """Assets, checks, jobs, the enrichment sensor and the schedule of one instance.

    The instance's Cleanlist resource is not included (``build_definitions`` adds it once for
    all parts); the snapshot IO manager is, under ``settings.names.io_manager``.
    """
    names = settings.names
    snapshot = build_snapshot_asset(settings)
    catalog = build_catalog_asset(settings)
    enrich_later = build_enrich_later_asset(settings)
    snapshot_job = dg.define_asset_job(
        names.snapshot_job,
        selection=dg.AssetSelection.assets(names.snapshot_asset),
        description="Snapshot one list's leads to Parquet (partition = list_id).",
    )
    refresh_job = dg.define_asset_job(
        names.refresh_job,
        selection=dg.AssetSelection.assets(names.snapshot_asset, names.catalog_asset),
        description="The schedule's job: the lists catalog and per-list snapshots.",
    )
    enrich_job = dg.define_asset_job(
        names.enrich_job,
        selection=dg.AssetSelection.assets(names.enrichment_asset),
        description="Enrich leads already in a list (partition = list_id).",
    )
    return dg.Definitions(
        assets=[snapshot, catalog, enrich_later],
        asset_checks=[build_enrichment_check(settings)],
        jobs=[snapshot_job, refresh_job, enrich_job],
        sensors=[build_enrichment_sensor(settings, snapshot_job, policy=poll_policy)],
        schedules=[build_refresh_schedule(settings, refresh_job)],
        resources={
            names.io_manager: LeadsSnapshotIOManager(
                data_dir=settings.data_dir,
                allow_insecure_object_store=settings.allow_insecure_object_store,
                partitions_def_name=names.partitions_lists,
            )
        },
    )


# ---------------------------------------------------------------------------------------------
# Driving a sensor outside the daemon (CLI `run`/`demo`, tests)
# ---------------------------------------------------------------------------------------------
#
# The cursor lives in a small JSON file per sensor under a state folder the caller names
# (``settings.state_dir``: $DAGSTER_HOME by default). Dagster 1.13 has no public key-value store
# on the instance (the daemon keeps its sensor cursors in instigator state, which is not public
# either). A file is all this needs: the driver runs in one process on one machine, and the
# sensor re-reads the event log, so a lost or stale file costs polls, never correctness.


@dataclass
class TickReport:
    """What one daemon-style evaluation of a sensor did."""

    asset_events: list[Any] = field(default_factory=list)
    launched: list[dg.ExecuteInProcessResult] = field(default_factory=list)
    deduplicated_run_keys: list[str] = field(default_factory=list)
    skip_message: str | None = None


@dataclass
class _Evaluation:
    """A sensor's answer, whatever shape its function returned."""

    run_requests: list[dg.RunRequest] = field(default_factory=list)
    asset_events: list[Any] = field(default_factory=list)
    partition_requests: list[Any] = field(default_factory=list)
    skip_message: str | None = None
    cursor: str | None = None


def sensor_cursor_path(state_dir: str | os.PathLike[str], sensor_name: str) -> Path:
    """Where :func:`tick_sensor` keeps ``sensor_name``'s cursor under ``state_dir``."""
    return Path(state_dir) / "sensor-cursors" / f"{sensor_name}.json"


def load_sensor_cursor(state_dir: str | os.PathLike[str], sensor_name: str) -> str | None:
    """The cursor :func:`tick_sensor` saved for ``sensor_name`` (or ``None``)."""
    try:
        data = json.loads(sensor_cursor_path(state_dir, sensor_name).read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    cursor = data.get("cursor") if isinstance(data, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None


def save_sensor_cursor(
    state_dir: str | os.PathLike[str], sensor_name: str, cursor: str | None
) -> None:
    """Replace ``sensor_name``'s saved cursor atomically (``None``/empty forgets it)."""
    path = sensor_cursor_path(state_dir, sensor_name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{sensor_name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"sensor": sensor_name, "cursor": cursor or None}, out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sensor(defs: dg.Definitions, name: str) -> dg.SensorDefinition:
    for sensor in defs.sensors or []:
        if sensor.name == name:
            return sensor
    known = sorted(s.name for s in defs.sensors or [])
    raise dg.DagsterInvariantViolationError(
        f"no sensor named {name!r}; the definitions hold {known}"
    )


def _collect(value: Any, into: _Evaluation) -> None:
    """Fold a sensor function's return value (or one item a generator yielded) into ``into``."""
    if value is None:
        return
    if isinstance(value, dg.SensorResult):
        into.run_requests.extend(value.run_requests or [])
        into.asset_events.extend(value.asset_events or [])
        into.partition_requests.extend(value.dynamic_partitions_requests or [])
        if value.skip_reason is not None:
            into.skip_message = value.skip_reason.skip_message
        if value.cursor is not None:
            into.cursor = value.cursor
    elif isinstance(value, dg.RunRequest):
        into.run_requests.append(value)
    elif isinstance(value, dg.SkipReason):
        into.skip_message = value.skip_message
    elif isinstance(value, (dg.AddDynamicPartitionsRequest, dg.DeleteDynamicPartitionsRequest)):
        into.partition_requests.append(value)
    elif isinstance(value, (list, tuple)) or hasattr(value, "__next__"):
        for item in value:
            _collect(item, into)
    else:
        raise dg.DagsterInvariantViolationError(
            f"a sensor returned {type(value).__name__}, which tick_sensor cannot act on"
        )


def _evaluate(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    sensor: dg.SensorDefinition,
    cursor: str | None,
) -> _Evaluation:
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=defs,
        sensor_name=sensor.name,
        resources=dict(defs.resources or {}),
    ) as context:
        evaluation = _Evaluation(cursor=cursor)
        # Invoked directly, a sensor returns what its function returns; a function that calls
        # context.update_cursor() instead of returning a cursor leaves it on the context.
        _collect(sensor(context), evaluation)
        if evaluation.cursor == cursor and context.cursor != cursor:
            evaluation.cursor = context.cursor
    return evaluation


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
    state_dir: str | os.PathLike[str],
    run_tags: dict[str, str] | None = None,
    run_config: dict[str, Any] | None = None,
) -> TickReport:
    """Evaluate the real sensor definition once against ``instance`` and act on the result
    as Dagster's sensor daemon does: record its asset events, apply its partition requests,
    execute each run request whose run key is unused (in this process, on the instance), and
    keep the cursor under ``state_dir`` (see :func:`sensor_cursor_path`) for the next call.

    Used where no daemon runs (``cleanlist-pipeline run``/``demo``, tests). It keeps its own
    cursor, separate from the daemon's; the sensor's event-log reading makes either safe.
    """
    sensor = _sensor(defs, sensor_name)
    cursor = load_sensor_cursor(state_dir, sensor_name)
    data = _evaluate(defs, instance, sensor, cursor)
    report = TickReport(asset_events=list(data.asset_events), skip_message=data.skip_message)
    for event in data.asset_events:
        instance.report_runless_asset_event(event)
    for request in data.partition_requests:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    for request in data.run_requests:
        if request.run_key and _run_key_used(instance, sensor_name, request.run_key):
            report.deduplicated_run_keys.append(request.run_key)
            continue
        job = defs.resolve_job_def(request.job_name or sensor.job.name)
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
        save_sensor_cursor(state_dir, sensor_name, data.cursor)
    return report
