"""Snapshots on object storage: the storage layer writes and finds them in an S3 bucket (moto).

Runs on a Kubernetes or Celery executor share no disk, so snapshots must live in a bucket; the
same ``s3://`` root then serves every worker and every reader (DuckDB, Spark, pandas).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from cleanlist_pipeline.storage import latest_snapshot, read_snapshot, write_leads_snapshot
from cleanlist_pipeline.uris import UnsafeURIError

from .conftest import S3Endpoint


def _pages(n: int) -> list[list[dict]]:
    leads = [
        {
            "lead_id": f"lead_{i:05d}",
            "first_name": f"F{i}",
            "last_name": f"L{i}",
            "email": f"p{i}@example.com",
            "phone": None,
            "company": "Co",
            "title": "Eng",
        }
        for i in range(n)
    ]
    return [leads[i : i + 100] for i in range(0, n, 100)]


#: Credentials that would be a leak anywhere they appeared (moto accepts any).
ACCESS_KEY = "AKIASNAPSHOTCANARY00"
SECRET_KEY = "snapshot-canary-secret-3f9a"


def test_snapshot_written_to_a_bucket_is_found_and_read_back(
    moto_s3: S3Endpoint, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The credentials the writer really uses, from the environment as pyarrow reads them.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    root = (
        f"s3://{s3_bucket}/cleanlist?endpoint_override={moto_s3.host_port}&scheme=http"
        f"&region={moto_s3.region}"
    )
    result = write_leads_snapshot(
        _pages(250), root, "lst_s3proof", datetime(2026, 11, 26, 12, tzinfo=UTC)
    )
    assert result.rows == 250

    objects = moto_s3.client().list_objects_v2(Bucket=s3_bucket)["Contents"]
    keys = [o["Key"] for o in objects]
    assert any(
        k.startswith("cleanlist/leads/list_id=lst_s3proof/") and k.endswith(".parquet")
        for k in keys
    ), keys
    assert not any("/." in k for k in keys), f"temporary objects left behind: {keys}"

    found = latest_snapshot(root, "lst_s3proof")
    assert found is not None
    # Nothing the pipeline shows or writes carries the credentials it wrote with: not the
    # paths (metadata, logs), not the object keys, not the Parquet file's own metadata.
    file_meta = pq.read_metadata(found.split("?", 1)[0].removeprefix("s3://"), filesystem=_fs(root))
    shown = [str(result.path), found, *keys, repr(file_meta.metadata)]
    assert not [t for t in shown if ACCESS_KEY in t or SECRET_KEY in t], shown
    table = read_snapshot(root, "lst_s3proof")
    assert table.num_rows == 250
    assert sorted(table.column("lead_id").to_pylist())[:2] == ["lead_00000", "lead_00001"]


def _fs(root: str):  # -> pyarrow FileSystem of the root (credentials from the environment)
    from cleanlist_pipeline.storage import resolve_filesystem

    return resolve_filesystem(root)[0]


def test_credentials_in_the_root_uri_are_refused_and_never_printed(
    moto_s3: S3Endpoint, s3_bucket: str
) -> None:
    """A root URI that carries credentials (``s3://KEY:SECRET@bucket/…``) would put them in every
    path the pipeline shows: refused before any object is written, without repeating them."""
    root = (
        f"s3://{ACCESS_KEY}:{SECRET_KEY}@{s3_bucket}/cleanlist"
        f"?endpoint_override={moto_s3.host_port}&scheme=http&region={moto_s3.region}"
    )
    with pytest.raises(UnsafeURIError, match="carries credentials") as info:
        write_leads_snapshot(_pages(10), root, "lst_creds", datetime(2026, 11, 26, tzinfo=UTC))
    message = str(info.value)
    assert ACCESS_KEY not in message and SECRET_KEY not in message, message
    assert f"s3://{s3_bucket}/cleanlist" in message
    assert "Contents" not in moto_s3.client().list_objects_v2(Bucket=s3_bucket)
    with pytest.raises(UnsafeURIError):
        latest_snapshot(root, "lst_creds")
