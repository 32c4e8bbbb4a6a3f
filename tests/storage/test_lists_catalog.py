"""The lists catalog: one file per UTC day, atomic, readable next to the lead snapshots."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pyarrow.parquet as pq
import pytest

from cleanlist_pipeline.storage import LISTS_SCHEMA, write_lists_catalog


@dataclass(frozen=True)
class ListSummary:
    list_id: str
    name: str
    lead_count: int
    folder_id: str | None = None
    created_at: str | None = None
    owner_name: str | None = None
    visibility: str | None = None


def _lists() -> list:
    return [
        ListSummary(
            "lst_1", "Q1 webinar", 488, "fld_1", "2026-01-28T14:32:00Z", "Ann Lee", "private"
        ),
        {"list_id": "lst_2", "name": "Expo", "lead_count": 12, "visibility": "organization"},
        ListSummary("lst_3", "Legacy", 0, created_at="2025-06-01T08:00:00+00:00"),
        ListSummary("lst_1", "Q1 webinar", 490),  # cursor shifted: repeated on the next page
    ]


def test_catalog_rows_counts_and_path(root: str, snapshot_at: datetime) -> None:
    result = write_lists_catalog(iter(_lists()), root, snapshot_at)
    assert result.path == f"{root}/lead_lists/snapshot_date=2026-03-14/lead_lists.parquet"
    assert result.rows == 3 and result.duplicates_dropped == 1
    assert result.visibility_counts == {"(none)": 1, "organization": 1, "private": 1}
    assert result.total_leads == 500
    table = pq.read_table(result.path)
    assert table.schema.equals(LISTS_SCHEMA)
    first = table.to_pylist()[0]
    assert first == {
        "list_id": "lst_1",
        "name": "Q1 webinar",
        "owner_name": "Ann Lee",
        "visibility": "private",
        "lead_count": 488,
        "folder_id": "fld_1",
        "created_at": "2026-01-28T14:32:00Z",
        "snapshot_at": snapshot_at,
    }


def test_catalog_same_day_replaces_and_reads_with_duckdb(root: str, snapshot_at: datetime) -> None:
    write_lists_catalog(_lists(), root, snapshot_at - timedelta(days=1))
    write_lists_catalog(_lists(), root, snapshot_at)
    write_lists_catalog(_lists()[:1], root, snapshot_at + timedelta(hours=2))
    rows = duckdb.sql(
        f"""SELECT CAST(snapshot_date AS VARCHAR), count(*),
                   min(TRY_CAST(created_at AS TIMESTAMPTZ)) IS NOT NULL
            FROM read_parquet('{root}/lead_lists/*/*.parquet', hive_partitioning=true)
            GROUP BY ALL ORDER BY ALL"""
    ).fetchall()
    assert rows == [("2026-03-13", 3, True), ("2026-03-14", 1, True)]
    assert sorted(os.listdir(f"{root}/lead_lists/snapshot_date=2026-03-14")) == [
        "lead_lists.parquet"
    ]


def test_catalog_refuses_a_list_without_id(root: str, snapshot_at: datetime) -> None:
    with pytest.raises(ValueError, match="no list_id"):
        write_lists_catalog([{"name": "x"}], root, snapshot_at)
    assert not os.path.exists(f"{root}/lead_lists")


def test_empty_catalog_is_valid(root: str, snapshot_at: datetime) -> None:
    result = write_lists_catalog([], root, snapshot_at)
    assert result.rows == 0 and pq.read_table(result.path).num_rows == 0
