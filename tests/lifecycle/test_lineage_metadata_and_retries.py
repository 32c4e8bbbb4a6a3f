"""What the UI shows of the lifecycle before anything runs — edges, column schema, pool, retry
policy — per instance, and which failures are retried."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from cleanlist_pipeline.api.errors import (
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    TransportError,
    ValidationError,
)
from cleanlist_pipeline.dagster_layer.enrichment import (
    Dispatch,
    EnrichmentCursor,
    PollPolicy,
    run_tick,
)
from cleanlist_pipeline.dagster_layer.lifecycle import (
    load_sensor_cursor,
    save_sensor_cursor,
    sensor_cursor_path,
)
from cleanlist_pipeline.dagster_layer.step_retry import is_transient
from cleanlist_pipeline.definitions import build_definitions
from cleanlist_pipeline.settings import Names, Settings
from cleanlist_pipeline.storage import LEAD_SCHEMA

from .conftest import QUIET, Pipeline
from .fakes import Clock, FakeStatusAPI, finished

INSTANCES = [Settings(), Settings(name="emea")]


def _spec(defs: dg.Definitions, key: dg.AssetKey) -> dg.AssetSpec:
    (spec,) = [s for s in defs.resolve_all_asset_specs() if s.key == key]
    return spec


@pytest.mark.parametrize("settings", INSTANCES, ids=["default", "emea"])
def test_the_snapshot_depends_on_every_drop_import_and_on_its_lists_enrichment(
    settings: Settings,
) -> None:
    names = settings.names
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    snapshot = graph.get(names.snapshot_asset)
    assert snapshot.parent_keys == {names.import_asset, names.enrichment_asset}
    assert graph.get(names.catalog_asset).parent_keys == set()
    # A drop key is not a list id: every drop maps to each list, never drop key == list id.
    mapping = graph.get_partition_mapping(names.snapshot_asset, names.import_asset)
    assert isinstance(mapping, dg.AllPartitionMapping)
    enrichment = graph.get_partition_mapping(names.snapshot_asset, names.enrichment_asset)
    assert isinstance(enrichment, dg.IdentityPartitionMapping)
    deps = {d.asset_key: d.partition_mapping for d in _spec(defs, names.snapshot_asset).deps}
    assert isinstance(deps[names.import_asset], dg.AllPartitionMapping)


def test_two_instances_merge_with_edges_only_inside_each_instance() -> None:
    default, emea = (s.names for s in INSTANCES)
    defs = dg.Definitions.merge(*(build_definitions(s) for s in INSTANCES))
    graph = defs.resolve_asset_graph()
    assert graph.get(emea.snapshot_asset).parent_keys == {emea.import_asset, emea.enrichment_asset}
    assert graph.get(default.snapshot_asset).parent_keys == {
        default.import_asset,
        default.enrichment_asset,
    }
    sensors = {s.name for s in defs.sensors or []}
    assert {default.enrichment_sensor, emea.enrichment_sensor} <= sensors
    schedules = {s.name for s in defs.schedules or []}
    assert {default.schedule, emea.schedule} <= schedules


def test_the_snapshot_spec_carries_the_column_schema_and_location_before_any_run() -> None:
    settings = Settings(name="emea", data_dir="s3://bucket/cleanlist")
    spec = _spec(build_definitions(settings), settings.names.snapshot_asset)
    schema = spec.metadata["dagster/column_schema"]
    assert [c.name for c in schema.columns] == LEAD_SCHEMA.names
    uri = spec.metadata["dagster/uri"]
    assert getattr(uri, "value", uri) == "s3://bucket/cleanlist/leads"
    assert {"cleanlist", "parquet"} <= set(spec.kinds)
    assert spec.group_name == settings.group_name


def test_owners_tags_and_group_come_from_settings() -> None:
    settings = Settings(
        name="emea", group_name="growth", owners=("team:growth",), tags=(("region", "emea"),)
    )
    defs = build_definitions(settings)
    for key in (
        settings.names.snapshot_asset,
        settings.names.catalog_asset,
        settings.names.enrichment_asset,
    ):
        spec = _spec(defs, key)
        assert spec.group_name == "growth"
        assert list(spec.owners) == ["team:growth"]
        assert spec.tags.get("region") == "emea"


@pytest.mark.parametrize("settings", INSTANCES, ids=["default", "emea"])
def test_every_asset_that_calls_the_api_is_pooled_and_retried_with_backoff_and_jitter(
    settings: Settings,
) -> None:
    names = settings.names
    defs = build_definitions(settings)
    for key in (names.snapshot_asset, names.catalog_asset, names.enrichment_asset):
        op = defs.get_assets_def(key).op
        assert op.pool == "cleanlist_api", key
        policy = op.retry_policy
        assert policy is not None and policy.max_retries >= 1, key
        assert policy.backoff == dg.Backoff.EXPONENTIAL and policy.jitter == dg.Jitter.PLUS_MINUS


def test_only_failures_a_retry_can_heal_are_retried() -> None:
    transport = TransportError("reset", method="GET", path="/x", cause_type="ReadError")
    lost = OutcomeUnknownError("lost", method="POST", path="/x", cause_type="ReadError")
    assert is_transient(transport)
    assert is_transient(ServerError("busy", status=503))
    assert is_transient(RateLimitedError("slow down", status=429))
    assert is_transient(OSError("disk full for a moment"))
    assert not is_transient(lost)  # the call may have run: repeating it could pay twice
    assert not is_transient(AuthenticationError("bad key", status=401))
    assert not is_transient(NotFoundError("no such list", status=404))
    assert not is_transient(ValidationError("bad request", status=400))


def test_a_list_the_key_cannot_see_fails_the_snapshot_once_without_retries(
    pipeline: Pipeline,
) -> None:
    pipeline.instance.add_dynamic_partitions("cleanlist_lists", ["no-such-list"])
    job = pipeline.defs.resolve_job_def("cleanlist_snapshot_job")
    result = job.execute_in_process(
        instance=pipeline.instance,
        partition_key="no-such-list",
        run_config=QUIET,
        raise_on_error=False,
    )
    assert not result.success
    kinds = [e.event_type_value for e in result.all_events]
    assert "STEP_UP_FOR_RETRY" not in kinds and kinds.count("STEP_FAILURE") == 1


def test_the_sensors_snapshot_request_selects_only_the_instances_snapshot() -> None:
    names = Names("emea")
    api, state = FakeStatusAPI(), EnrichmentCursor()
    api.statuses["wf-1"] = [finished("wf-1")]
    outcome = run_tick(
        state,
        [Dispatch("wf-1", "L1", "import:drop.csv")],
        set(),
        api,
        PollPolicy(),
        now=Clock(),
        names=names,
    )
    (request,) = outcome.run_requests
    assert request.partition_key == "L1"
    assert list(request.asset_selection or []) == [names.snapshot_asset]
    keys = {getattr(e, "asset_key", None) for e in outcome.asset_events}
    assert keys == {names.enrichment_asset}


def test_the_driver_keeps_each_sensors_cursor_in_its_own_file(tmp_path: Any) -> None:
    assert load_sensor_cursor(tmp_path, "a") is None
    save_sensor_cursor(tmp_path, "a", '{"v": 1}')
    save_sensor_cursor(tmp_path, "emea__a", '{"v": 2}')
    assert load_sensor_cursor(tmp_path, "a") == '{"v": 1}'
    assert load_sensor_cursor(tmp_path, "emea__a") == '{"v": 2}'
    sensor_cursor_path(tmp_path, "a").write_text("not json")
    assert load_sensor_cursor(tmp_path, "a") is None  # a damaged file: start over, safely
    save_sensor_cursor(tmp_path, "emea__a", None)
    assert load_sensor_cursor(tmp_path, "emea__a") is None


def test_the_driver_acts_on_every_shape_a_sensor_may_return(tmp_path: Any) -> None:
    from cleanlist_pipeline.dagster_layer.lifecycle import tick_sensor

    @dg.asset
    def ping() -> None:
        return None

    job = dg.define_asset_job("ping_job", selection=[ping])

    @dg.sensor(target=job)
    def yields_requests(context: dg.SensorEvaluationContext) -> Any:
        context.update_cursor("after-yield")
        yield dg.RunRequest(run_key="k1")
        yield dg.RunRequest(run_key="k1")  # the same key again: launched once

    @dg.sensor(target=job)
    def skips(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        return dg.SkipReason("nothing to do")

    @dg.sensor(target=job)
    def returns_a_list(context: dg.SensorEvaluationContext) -> list[dg.RunRequest]:
        return [dg.RunRequest(run_key=f"r{context.cursor or 0}")]

    defs = dg.Definitions(
        assets=[ping], jobs=[job], sensors=[yields_requests, skips, returns_a_list]
    )
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        first = tick_sensor(defs, instance, "yields_requests", state_dir=tmp_path)
        assert len(first.launched) == 1 and first.launched[0].success
        assert first.deduplicated_run_keys == ["k1"]  # the same key twice in one tick
        assert load_sensor_cursor(tmp_path, "yields_requests") == "after-yield"
        again = tick_sensor(defs, instance, "yields_requests", state_dir=tmp_path)
        assert again.launched == [] and again.deduplicated_run_keys == ["k1", "k1"]
        runs = instance.get_run_records(
            filters=dg.RunsFilter(tags={"dagster/sensor_name": "yields_requests"})
        )
        assert [r.dagster_run.tags["dagster/run_key"] for r in runs] == ["k1"]
        skipped = tick_sensor(defs, instance, "skips", state_dir=tmp_path)
        assert skipped.skip_message == "nothing to do" and skipped.launched == []
        listed = tick_sensor(defs, instance, "returns_a_list", state_dir=tmp_path)
        assert [r.success for r in listed.launched] == [True]
