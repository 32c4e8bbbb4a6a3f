"""Two import instances in one code location (two drop folders, two lists) load side by side,
import independently, and keep separate partitions and ledgers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dagster as dg

from cleanlist_pipeline.dagster_layer.csv_import import build_import_definitions
from cleanlist_pipeline.dagster_layer.ledger import iter_ledger

from .conftest import HEADER, Pipeline, lead_rows, make_resource


def test_two_instances_import_into_their_own_lists(pipeline: Pipeline, tmp_path: Path) -> None:
    p = pipeline
    emea_drops = tmp_path / "emea_drops"
    emea_drops.mkdir()
    emea = replace(p.settings, name="emea", drops_dir=str(emea_drops), list_name="emea list")
    (p.drops / "same.csv").write_text(HEADER + lead_rows(4))
    (emea_drops / "same.csv").write_text(HEADER + lead_rows(6, start=500))

    defs = dg.Definitions.merge(
        build_import_definitions(p.settings),
        build_import_definitions(emea),
        dg.Definitions(
            resources={
                p.settings.names.resource: p.resource,
                emea.names.resource: make_resource(emea),
            }
        ),
    )
    defs.resolve_asset_graph()  # no clashing op, job, sensor or resource names
    for sensor in ("cleanlist_drop_sensor", "emea__cleanlist_drop_sensor"):
        assert defs.resolve_sensor_def(sensor).name == sensor

    for settings in (p.settings, emea):
        names = settings.names
        p.instance.add_dynamic_partitions(names.partitions_drops, ["same.csv"])
        result = defs.resolve_job_def(names.import_job).execute_in_process(
            instance=p.instance, partition_key="same.csv", raise_on_error=False
        )
        assert result.success

    lists = {v["name"]: v["lead_count"] for v in p.sandbox.ledger()["lists"].values()}
    assert lists["pipeline tests"] == 4 and lists["emea list"] == 6
    assert p.instance.get_dynamic_partitions("emea__csv_drops") == ["same.csv"]
    default_ledger = list(iter_ledger(p.instance, p.settings.names.import_asset, "same.csv"))
    emea_ledger = list(iter_ledger(p.instance, emea.names.import_asset, "same.csv"))
    assert [e.rows_imported for e in default_ledger] == [4]
    assert [e.rows_imported for e in emea_ledger] == [6]
    assert emea.names.import_asset == dg.AssetKey(["emea", "cleanlist_csv_import"])
