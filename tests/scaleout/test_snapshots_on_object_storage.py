"""Snapshots on object storage: the storage layer writes and finds them in an S3 bucket (moto).

Runs on a Kubernetes or Celery executor share no disk, so snapshots must live in a bucket; the
same ``s3://`` root then serves every worker and every reader (DuckDB, Spark, pandas).
"""

from __future__ import annotations

from datetime import UTC, datetime

from cleanlist_pipeline.storage import latest_snapshot, read_snapshot, write_leads_snapshot

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


def test_snapshot_written_to_a_bucket_is_found_and_read_back(
    moto_s3: S3Endpoint, s3_bucket: str
) -> None:
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
    # The displayed path carries no credentials.
    assert moto_s3.secret_key not in str(result.path)

    found = latest_snapshot(root, "lst_s3proof")
    assert found is not None
    table = read_snapshot(root, "lst_s3proof")
    assert table.num_rows == 250
    assert sorted(table.column("lead_id").to_pylist())[:2] == ["lead_00000", "lead_00001"]
