"""The drop sensor registers new files as partitions and requests one run each; an identical
re-drop does nothing; a changed drop is reported and not run."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import dagster as dg

from cleanlist_pipeline.dagster_layer.drop_sensor import evaluate_drops
from cleanlist_pipeline.dagster_layer.drops import file_sha256
from cleanlist_pipeline.settings import Settings

from .conftest import HEADER, Pipeline, lead_rows

DROP_SENSOR_NAME = Settings().names.drop_sensor  # the default instance's: cleanlist_drop_sensor


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> object:
    sensor = defs.resolve_sensor_def(DROP_SENSOR_NAME)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return sensor(context)


def test_sensor_registers_new_files_and_requests_one_run_each(pipeline: Pipeline) -> None:
    p = pipeline
    (p.drops / "a.csv").write_text(HEADER + lead_rows(3))
    (p.drops / "2024").mkdir()
    (p.drops / "2024" / "b.csv").write_text(HEADER + lead_rows(3, start=50))
    defs = p.definitions()

    result = _tick(defs, p.instance, None)
    assert isinstance(result, dg.SensorResult)
    by_key = {r.partition_key: r for r in result.run_requests}
    assert set(by_key) == {"a.csv", "2024/b.csv"}
    assert by_key["a.csv"].run_key == f"a.csv@{file_sha256(p.drops / 'a.csv')}"
    (add,) = result.dynamic_partitions_requests
    assert sorted(add.partition_keys) == ["2024/b.csv", "a.csv"]
    assert add.partitions_def_name == "csv_drops"

    # Nothing new: the next tick (with the returned cursor) skips.
    p.register("a.csv", "2024/b.csv")
    again = _tick(defs, p.instance, result.cursor)
    assert isinstance(again, dg.SkipReason)

    # An identical re-drop (same bytes, new mtime) requests nothing either.
    (p.drops / "a.csv").write_text(HEADER + lead_rows(3))
    redrop = _tick(defs, p.instance, result.cursor)
    assert isinstance(redrop, dg.SkipReason)


def test_changed_drop_is_reported_not_run(pipeline: Pipeline) -> None:
    p = pipeline
    (p.drops / "a.csv").write_text(HEADER + lead_rows(3))
    assert p.run("a.csv").success
    defs = p.definitions()
    first = _tick(defs, p.instance, None)
    # Already imported with these bytes: registered, not run again.
    assert isinstance(first, dg.SkipReason)
    cursor = json.dumps({"files": {}})
    (p.drops / "a.csv").write_text(HEADER + lead_rows(4))
    changed = _tick(defs, p.instance, cursor)
    assert isinstance(changed, dg.SkipReason)
    assert "changed since its last import" in (changed.skip_message or "")


def test_sensor_default_status_follows_mode(pipeline: Pipeline) -> None:
    real = pipeline.definitions().resolve_sensor_def(DROP_SENSOR_NAME)
    assert real.default_status == dg.DefaultSensorStatus.STOPPED
    embedded: Settings = replace(pipeline.settings, api_key=None)
    pipeline.settings = embedded
    assert (
        pipeline.definitions().resolve_sensor_def(DROP_SENSOR_NAME).default_status
        == dg.DefaultSensorStatus.RUNNING
    )


def test_refused_drop_is_reported_once(pipeline: Pipeline, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(HEADER + lead_rows(2))
    os.symlink(outside, pipeline.drops / "sneaky.csv")
    defs = pipeline.definitions()
    first = _tick(defs, pipeline.instance, None)
    assert isinstance(first, dg.SkipReason) and "sneaky.csv" in (first.skip_message or "")
    cursor = json.loads(evaluate_drops(pipeline.instance, pipeline.settings, None)[3])
    second = _tick(defs, pipeline.instance, json.dumps(cursor))
    assert isinstance(second, dg.SkipReason) and "sneaky.csv" not in (second.skip_message or "")
