"""Same-day replacement, retention of the last N days, and finding the latest snapshot."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pyarrow.parquet as pq
import pytest

from cleanlist_pipeline.storage import latest_snapshot, read_snapshot, write_leads_snapshot

from .conftest import lead_pages


def _days(root: str, list_id: str) -> list[str]:
    return sorted(os.listdir(f"{root}/leads/list_id={list_id}"))


def test_second_snapshot_same_day_replaces_the_first(root: str, snapshot_at: datetime) -> None:
    first = write_leads_snapshot(lead_pages(30), root, "lst_1", snapshot_at)
    second = write_leads_snapshot(lead_pages(12), root, "lst_1", snapshot_at + timedelta(hours=3))
    assert first.path == second.path
    assert pq.read_table(second.path).num_rows == 12
    assert os.listdir(os.path.dirname(second.path)) == ["leads.parquet"]


def test_retention_keeps_the_last_n_days_of_that_list_only(
    root: str, snapshot_at: datetime
) -> None:
    for days_ago in (9, 5, 3, 2, 1):
        write_leads_snapshot(lead_pages(3), root, "lst_1", snapshot_at - timedelta(days=days_ago))
    write_leads_snapshot(lead_pages(3), root, "lst_2", snapshot_at - timedelta(days=9))
    os.makedirs(f"{root}/leads/list_id=lst_1/notes")  # not a snapshot folder: never touched

    result = write_leads_snapshot(lead_pages(3), root, "lst_1", snapshot_at, retention_days=3)

    assert _days(root, "lst_1") == [
        "notes",
        "snapshot_date=2026-03-12",
        "snapshot_date=2026-03-13",
        "snapshot_date=2026-03-14",
    ]
    assert _days(root, "lst_2") == ["snapshot_date=2026-03-05"]
    assert sorted(os.path.basename(p) for p in result.removed_snapshots) == [
        "snapshot_date=2026-03-05",
        "snapshot_date=2026-03-09",
        "snapshot_date=2026-03-11",
    ]


def test_retention_must_keep_at_least_one_day(root: str, snapshot_at: datetime) -> None:
    with pytest.raises(ValueError, match="retention_days"):
        write_leads_snapshot(lead_pages(3), root, "lst_1", snapshot_at, retention_days=0)
    assert not os.path.exists(f"{root}/leads")


def test_latest_snapshot_is_the_newest_finished_day(root: str, snapshot_at: datetime) -> None:
    assert latest_snapshot(root, "lst_1") is None
    write_leads_snapshot(lead_pages(5), root, "lst_1", snapshot_at - timedelta(days=2))
    newest = write_leads_snapshot(lead_pages(7), root, "lst_1", snapshot_at - timedelta(days=1))
    # A folder for today with no finished file yet (a write in progress) is passed over.
    os.makedirs(f"{root}/leads/list_id=lst_1/snapshot_date=2026-03-14")
    assert latest_snapshot(root, "lst_1") == newest.path
    assert read_snapshot(root, "lst_1").num_rows == 7
    assert latest_snapshot(root, "lst_other") is None
    with pytest.raises(FileNotFoundError, match="lst_other"):
        read_snapshot(root, "lst_other")
