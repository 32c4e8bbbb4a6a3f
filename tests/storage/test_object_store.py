"""Snapshots on an object store (S3 API served by moto on loopback) and via file:// URIs."""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from cleanlist_pipeline.storage import (
    filesystem,
    latest_snapshot,
    read_snapshot,
    resolve_filesystem,
    write_leads_snapshot,
    write_lists_catalog,
)

from .conftest import lead_pages


@pytest.fixture
def s3_root(s3_server: str, request: pytest.FixtureRequest) -> str:
    # One prefix per test keeps tests independent on the shared module-scoped server.
    return f"s3://snapshots/{request.node.name}?endpoint_override={s3_server}&scheme=http&region=us-east-1"


def _keys(s3_root: str) -> list[str]:
    """Objects under the root's prefix as the bucket lists them, bar empty folder markers.

    (pyarrow leaves a ``folder/`` marker when it deletes the last object under a prefix, by
    design; readers such as DuckDB globs, pyarrow datasets and Spark pass over them.)
    """
    _fs, base = resolve_filesystem(s3_root)
    bucket, prefix = base.split("/", 1)
    endpoint = s3_root.split("endpoint_override=")[1].split("&")[0]
    s3 = boto3.client("s3", endpoint_url=f"http://{endpoint}")
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/")
    keys = [o["Key"][len(prefix) + 1 :] for o in listing.get("Contents", [])]
    return sorted(k for k in keys if not k.endswith("/"))


def _local_temp_files() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), ".cleanlist-snapshot.*")))


def test_snapshot_round_trip_on_s3(s3_root: str, s3_server: str, snapshot_at: datetime) -> None:
    result = write_leads_snapshot(lead_pages(120, 50), s3_root, "lst_1", snapshot_at)

    prefix = result.path.split("?")[0]
    assert prefix.startswith("s3://snapshots/")
    assert prefix.endswith("/leads/list_id=lst_1/snapshot_date=2026-03-14/leads.parquet")
    assert result.rows == 120 and result.bytes > 0
    # Exactly one object: the staging object it was uploaded as is gone.
    assert _keys(s3_root) == ["leads/list_id=lst_1/snapshot_date=2026-03-14/leads.parquet"]
    assert latest_snapshot(s3_root, "lst_1") == result.path
    assert read_snapshot(result.path).num_rows == 120
    assert read_snapshot(s3_root, "lst_1").column("lead_id")[0].as_py() == "ld_000000"

    fs, base = resolve_filesystem(s3_root)
    dataset = ds.dataset(f"{base}/leads", filesystem=fs, format="parquet", partitioning="hive")
    assert dataset.to_table().column("list_id").unique().to_pylist() == ["lst_1"]


def test_replacement_and_retention_on_s3(s3_root: str, snapshot_at: datetime) -> None:
    for days_ago in (4, 1):
        write_leads_snapshot(
            lead_pages(5), s3_root, "lst_1", snapshot_at - timedelta(days=days_ago)
        )
    write_leads_snapshot(lead_pages(5), s3_root, "lst_1", snapshot_at)
    result = write_leads_snapshot(lead_pages(8), s3_root, "lst_1", snapshot_at, retention_days=2)

    assert _keys(s3_root) == [
        "leads/list_id=lst_1/snapshot_date=2026-03-13/leads.parquet",
        "leads/list_id=lst_1/snapshot_date=2026-03-14/leads.parquet",
    ]
    assert read_snapshot(result.path).num_rows == 8
    assert [p.split("?")[0].rsplit("/", 1)[1] for p in result.removed_snapshots] == [
        "snapshot_date=2026-03-10"
    ]


def test_failed_snapshot_uploads_nothing_and_cleans_local_temp(
    s3_root: str, snapshot_at: datetime
) -> None:
    before = write_leads_snapshot(lead_pages(10), s3_root, "lst_1", snapshot_at)
    temp_before = _local_temp_files()

    def pages() -> Iterator[list[Any]]:
        yield from lead_pages(300, 100)
        raise ConnectionError("page fetch failed")

    with pytest.raises(ConnectionError):
        write_leads_snapshot(pages(), s3_root, "lst_1", snapshot_at)
    with pytest.raises(ConnectionError):
        write_leads_snapshot(pages(), s3_root, "lst_2", snapshot_at)

    assert read_snapshot(before.path).num_rows == 10
    assert _keys(s3_root) == ["leads/list_id=lst_1/snapshot_date=2026-03-14/leads.parquet"]
    assert _local_temp_files() == temp_before


def test_credentials_in_the_root_uri_are_refused_unprinted(
    s3_server: str, snapshot_at: datetime
) -> None:
    """A root URI with credentials would be printed in metadata and messages: refused before
    anything is written, and the refusal does not repeat the secret (issue 11, case 8)."""
    query = f"?endpoint_override={s3_server}&scheme=http&region=us-east-1"
    root = f"s3://testing:s3cr3t-value@snapshots/creds{query}"
    with pytest.raises(ValueError, match="carries credentials") as caught:
        write_leads_snapshot(lead_pages(3), root, "lst_1", snapshot_at)
    assert "s3cr3t-value" not in str(caught.value) and "testing:" not in str(caught.value)
    assert _keys(f"s3://snapshots/creds{query}") == []


def test_lists_catalog_on_s3(s3_root: str, snapshot_at: datetime) -> None:
    result = write_lists_catalog([{"list_id": "lst_1", "lead_count": 2}], s3_root, snapshot_at)
    assert _keys(s3_root) == ["lead_lists/snapshot_date=2026-03-14/lead_lists.parquet"]
    assert read_snapshot(result.path).num_rows == 1


def test_file_uri_root_is_a_local_root(tmp_path: Path, snapshot_at: datetime) -> None:
    root = (tmp_path / "lake").as_uri()
    fs, base = resolve_filesystem(root)
    assert isinstance(fs, pafs.LocalFileSystem) and base == str(tmp_path / "lake")
    result = write_leads_snapshot(lead_pages(4), root, "lst_1", snapshot_at)
    assert (
        result.path == f"{tmp_path}/lake/leads/list_id=lst_1/snapshot_date=2026-03-14/leads.parquet"
    )
    assert os.stat(result.path).st_mode & 0o777 == 0o600
    assert latest_snapshot(root, "lst_1") == result.path


def test_resolve_filesystem_for_paths_and_uris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fs, base = resolve_filesystem("data/")
    assert isinstance(fs, pafs.LocalFileSystem) and base == f"{tmp_path}/data"
    fs, base = resolve_filesystem("s3://bucket/some/prefix/?region=us-east-1")
    assert fs.type_name == "s3" and base == "bucket/some/prefix"
    with pytest.raises(ValueError, match="empty"):
        resolve_filesystem("")


def test_upload_cut_short_keeps_the_previous_object(
    s3_root: str, snapshot_at: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = write_leads_snapshot(lead_pages(10), s3_root, "lst_1", snapshot_at)

    def copy_half_then_fail(src: Any, dst: Any, length=0) -> None:
        dst.write(src.read(100))
        raise KeyboardInterrupt  # e.g. the run is terminated while uploading

    monkeypatch.setattr(filesystem.shutil, "copyfileobj", copy_half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        write_leads_snapshot(lead_pages(300, 100), s3_root, "lst_1", snapshot_at)
    monkeypatch.undo()

    assert read_snapshot(before.path).num_rows == 10
    assert _keys(s3_root) == ["leads/list_id=lst_1/snapshot_date=2026-03-14/leads.parquet"]
