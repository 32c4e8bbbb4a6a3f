"""The snapshot IO manager: a user's own asset gets the newest snapshot as pandas or pyarrow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest

from cleanlist_pipeline.dagster_layer.snapshots import (
    LEADS_SNAPSHOT_KEY,
    LISTS_PARTITIONS,
    SNAPSHOT_IO_MANAGER_KEY,
    LeadsSnapshotIOManager,
    prefetch,
)
from cleanlist_pipeline.storage import write_leads_snapshot

# Stands in for leads_snapshot in the asset graph; the IO manager only reads files.
snapshot_spec = dg.AssetSpec(
    LEADS_SNAPSHOT_KEY, partitions_def=LISTS_PARTITIONS
).with_io_manager_key(SNAPSHOT_IO_MANAGER_KEY)


def _leads(prefix: str, n: int, email: bool = True) -> list[dict[str, str | None]]:
    return [
        {"lead_id": f"{prefix}{i}", "email": f"p{i}@{prefix}.test" if email else None}
        for i in range(n)
    ]


@pytest.fixture
def root(tmp_path: Path) -> str:
    now = datetime.now(UTC)
    write_leads_snapshot([_leads("old", 2)], str(tmp_path), "L1", now - timedelta(days=1))
    write_leads_snapshot([_leads("a", 3)], str(tmp_path), "L1", now)
    write_leads_snapshot([_leads("b", 2, email=False)], str(tmp_path), "L2", now)
    return str(tmp_path)


def _materialize(asset: dg.AssetsDefinition, root: str, **kw: object) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(LISTS_PARTITIONS.name, ["L1", "L2"])
        return dg.materialize(
            [snapshot_spec, asset],
            selection=[asset.key],
            instance=instance,
            resources={SNAPSHOT_IO_MANAGER_KEY: LeadsSnapshotIOManager(data_dir=root)},
            **kw,
        )


def test_a_pandas_annotated_asset_gets_the_newest_snapshot_of_its_list(root: str) -> None:
    seen: dict[str, object] = {}

    @dg.asset(partitions_def=LISTS_PARTITIONS)
    def icp_scores(leads_snapshot: pd.DataFrame) -> None:
        seen["frame"] = leads_snapshot

    result = _materialize(icp_scores, root, partition_key="L1")
    assert result.success
    frame = seen["frame"]
    assert isinstance(frame, pd.DataFrame)
    assert sorted(frame["lead_id"]) == ["a0", "a1", "a2"]  # yesterday's file is not read


def test_a_pyarrow_annotated_asset_gets_a_table(root: str) -> None:
    seen: dict[str, object] = {}

    @dg.asset(partitions_def=LISTS_PARTITIONS)
    def lead_table(leads_snapshot: pa.Table) -> None:
        seen["table"] = leads_snapshot

    assert _materialize(lead_table, root, partition_key="L2").success
    table = seen["table"]
    assert isinstance(table, pa.Table)
    assert table.column("email").null_count == 2


def test_an_unpartitioned_asset_gets_every_list_with_a_list_id_column(root: str) -> None:
    seen: dict[str, object] = {}

    @dg.asset
    def all_leads(leads_snapshot: pd.DataFrame) -> None:
        seen["frame"] = leads_snapshot

    assert _materialize(all_leads, root).success
    frame = seen["frame"]
    assert isinstance(frame, pd.DataFrame)
    assert frame.groupby("list_id").size().to_dict() == {"L1": 3, "L2": 2}


def test_a_missing_snapshot_fails_with_a_message_naming_the_list(tmp_path: Path) -> None:
    @dg.asset(partitions_def=LISTS_PARTITIONS)
    def icp_scores(leads_snapshot: pd.DataFrame) -> None:
        raise AssertionError("not reached")

    result = _materialize(icp_scores, str(tmp_path), partition_key="L1", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "no snapshot of list L1" in str(failure.step_failure_data.user_failure_data.description)


def test_prefetch_yields_in_order_and_reraises_producer_errors() -> None:
    def pages():
        yield [1]
        yield [2]
        raise RuntimeError("page 3 failed")

    got = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        for page in prefetch(pages()):
            got.append(page)
    assert got == [[1], [2]]


def test_prefetch_stops_its_producer_when_the_consumer_stops() -> None:
    produced: list[int] = []

    def pages():
        for i in range(1000):
            produced.append(i)
            yield i

    for i in prefetch(pages(), depth=2):
        if i == 3:
            break
    assert len(produced) < 10
