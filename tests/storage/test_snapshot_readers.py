"""A root holding several lists and days reads as one hive-partitioned dataset everywhere."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pytest

from cleanlist_pipeline.storage import write_leads_snapshot

from .conftest import lead_pages


@pytest.fixture
def populated_root(root: str, snapshot_at: datetime) -> str:
    write_leads_snapshot(lead_pages(40, prefix="a"), root, "lst_a", snapshot_at)
    write_leads_snapshot(lead_pages(25, prefix="a"), root, "lst_a", snapshot_at - timedelta(days=1))
    write_leads_snapshot(lead_pages(10, prefix="b"), root, "lst_b", snapshot_at)
    return root


def test_pandas_reads_the_whole_leads_root(populated_root: str) -> None:
    df = pd.read_parquet(f"{populated_root}/leads")
    assert len(df) == 75
    counts = df.groupby([df["list_id"].astype(str), df["snapshot_date"].astype(str)]).size()
    assert counts.to_dict() == {
        ("lst_a", "2026-03-13"): 25,
        ("lst_a", "2026-03-14"): 40,
        ("lst_b", "2026-03-14"): 10,
    }


def test_pyarrow_dataset_with_hive_partitioning(populated_root: str) -> None:
    dataset = ds.dataset(f"{populated_root}/leads", format="parquet", partitioning="hive")
    table = dataset.to_table(filter=(ds.field("list_id") == "lst_a"))
    assert table.num_rows == 65
    assert {"list_id", "snapshot_date", "lead_id", "snapshot_at"} <= set(table.column_names)


def test_duckdb_reads_with_hive_partitioning(populated_root: str) -> None:
    rows = duckdb.sql(
        f"""SELECT list_id, CAST(snapshot_date AS VARCHAR) AS day, count(*) AS n,
                   count(email) AS with_email
            FROM read_parquet('{populated_root}/leads/*/*/*.parquet', hive_partitioning=true)
            GROUP BY ALL ORDER BY ALL"""
    ).fetchall()
    assert rows == [
        ("lst_a", "2026-03-13", 25, 16),
        ("lst_a", "2026-03-14", 40, 26),
        ("lst_b", "2026-03-14", 10, 6),
    ]


def test_hidden_temporary_files_are_not_read(populated_root: str) -> None:
    # A write in progress leaves a dot-file beside the snapshot; readers must skip it.
    folder = f"{populated_root}/leads/list_id=lst_b/snapshot_date=2026-03-14"
    with open(f"{folder}/.leads.parquet.abc.tmp", "wb") as fh:
        fh.write(b"PAR1 partial")
    assert len(pd.read_parquet(f"{populated_root}/leads")) == 75
    assert ds.dataset(f"{populated_root}/leads", partitioning="hive").count_rows() == 75
    n = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{populated_root}/leads/*/*/*.parquet')"
    ).fetchall()
    assert n == [(75,)]
