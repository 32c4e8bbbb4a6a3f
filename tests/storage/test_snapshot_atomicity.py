"""A snapshot that fails half-way leaves the previous one intact and no temporary files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cleanlist_pipeline.storage import latest_snapshot, write_leads_snapshot

from .conftest import lead_pages


class FetchFailed(RuntimeError):
    pass


def _failing_pages(n_ok: int) -> Iterator[list]:
    yield from lead_pages(n_ok * 100, 100)
    raise FetchFailed("page fetch failed")


def _all_files(root: str) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files
    )


def test_failure_mid_write_keeps_the_previous_snapshot(root: str, snapshot_at: datetime) -> None:
    before = write_leads_snapshot(lead_pages(50), root, "lst_1", snapshot_at)
    content = Path(before.path).read_bytes()

    with pytest.raises(FetchFailed):
        write_leads_snapshot(_failing_pages(5), root, "lst_1", snapshot_at, row_group_rows=200)

    assert Path(before.path).read_bytes() == content
    assert _all_files(root) == [
        "leads/list_id=lst_1/snapshot_date=2026-03-14/leads.parquet",
    ]
    assert pq.read_table(before.path).num_rows == 50


def test_failed_first_snapshot_leaves_no_folder_behind(root: str, snapshot_at: datetime) -> None:
    os.makedirs(root)
    with pytest.raises(FetchFailed):
        write_leads_snapshot(_failing_pages(2), root, "lst_new", snapshot_at)
    assert _all_files(root) == []
    assert os.listdir(root) == []
    assert latest_snapshot(root, "lst_new") is None


def test_bad_row_mid_stream_also_leaves_nothing(root: str, snapshot_at: datetime) -> None:
    pages = [*lead_pages(200, 100), [{"lead_id": "x", "email": 42}]]
    with pytest.raises(TypeError):
        write_leads_snapshot(pages, root, "lst_1", snapshot_at)
    assert _all_files(root) == []
