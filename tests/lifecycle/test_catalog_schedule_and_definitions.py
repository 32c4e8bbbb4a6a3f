"""The lists catalog, the daily schedule, and what the definitions expose in each mode."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest

from cleanlist_pipeline.dagster_layer.enrichment import SENSOR_NAME
from cleanlist_pipeline.dagster_layer.lifecycle import REFRESH_JOB, build_lifecycle_definitions
from cleanlist_pipeline.dagster_layer.schedules import SCHEDULE_NAME
from cleanlist_pipeline.dagster_layer.snapshots import local_path
from cleanlist_pipeline.settings import settings_from_env as load_settings

from .conftest import QUIET, Pipeline


def test_the_catalog_lists_every_accessible_list_with_counts_per_visibility(
    pipeline: Pipeline, cleanlist_sandbox: Any
) -> None:
    mine = cleanlist_sandbox.seed_list("catalogued", 42)
    result = pipeline.defs.resolve_job_def(REFRESH_JOB).execute_in_process(
        instance=pipeline.instance, asset_selection=[dg.AssetKey("lead_lists")], run_config=QUIET
    )
    (materialization,) = result.asset_materializations_for_node("lead_lists")
    meta = materialization.metadata
    assert meta["dagster/uri"].value.startswith("file://")
    path = Path(local_path(meta["dagster/uri"].value))
    day = datetime.now(UTC).date().isoformat()
    assert path == pipeline.data / "lead_lists" / f"snapshot_date={day}" / "lead_lists.parquet"
    table = pq.read_table(path)
    for column in ("list_id", "owner_name", "visibility", "lead_count", "folder_id", "created_at"):
        assert column in table.column_names
    rows = {r["list_id"]: r for r in table.to_pylist()}
    assert rows[mine]["lead_count"] == 42 and rows[mine]["visibility"] == "private"
    per_visibility = meta["lists_per_visibility"].value
    assert sum(per_visibility.values()) == len(rows) == meta["dagster/row_count"].value
    assert {"private", "organization", "shared"} <= set(per_visibility)


def test_the_daily_schedule_refreshes_the_catalog_and_every_tracked_list(
    pipeline: Pipeline,
) -> None:
    pipeline.instance.add_dynamic_partitions("cleanlist_lists", ["L1", "L2"])
    (schedule,) = [s for s in pipeline.defs.schedules or [] if s.name == SCHEDULE_NAME]
    when = datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    with dg.build_schedule_context(
        instance=pipeline.instance, scheduled_execution_time=when
    ) as context:
        requests = list(schedule(context))
    assert [(r.asset_selection, r.partition_key) for r in requests] == [
        ([dg.AssetKey("lead_lists")], None),
        ([dg.AssetKey("leads_snapshot")], "L1"),
        ([dg.AssetKey("leads_snapshot")], "L2"),
    ]
    assert len({r.run_key for r in requests}) == 3
    assert all("2026-03-01" in r.run_key for r in requests)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, "RUNNING"), ({"CLEANLIST_API_KEY": "clapi_x"}, "STOPPED")],
)
def test_sensor_and_schedule_run_by_default_only_on_the_embedded_sandbox(
    environ: dict[str, str], expected: str
) -> None:
    defs = build_lifecycle_definitions(load_settings(environ))
    (sensor,) = [s for s in defs.sensors or [] if s.name == SENSOR_NAME]
    (schedule,) = [s for s in defs.schedules or [] if s.name == SCHEDULE_NAME]
    assert sensor.default_status.value == expected
    assert schedule.default_status.value == expected


def test_the_loaded_definitions_show_assets_checks_sensors_and_schedule() -> None:
    from cleanlist_pipeline.definitions import build_definitions

    defs = build_definitions(load_settings({}))
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"cleanlist_csv_import", "cleanlist_enrichment", "leads_snapshot", "lead_lists"} <= keys
    checks = {k.name for k in graph.asset_check_keys}
    assert {"enrichment_succeeded", "row_count_matches_list"} <= checks
    assert {s.name for s in defs.sensors or []} >= {SENSOR_NAME, "cleanlist_drop_sensor"}
    assert SCHEDULE_NAME in {s.name for s in defs.schedules or []}
