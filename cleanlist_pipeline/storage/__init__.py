"""Parquet storage of lead snapshots and the lists catalog (no Dagster, no HTTP).

Layout under a root (local folder or object-store URI), hive-partitioned for DuckDB, pandas,
Polars and Spark::

    <root>/leads/list_id=<id>/snapshot_date=<YYYY-MM-DD>/leads.parquet
    <root>/lead_lists/snapshot_date=<YYYY-MM-DD>/lead_lists.parquet
"""

from __future__ import annotations

from cleanlist_pipeline.storage.catalog import CatalogResult, write_lists_catalog
from cleanlist_pipeline.storage.dedupe import LeadIdDeduper
from cleanlist_pipeline.storage.filesystem import resolve_filesystem
from cleanlist_pipeline.storage.masking import mask_email, mask_lead, mask_name, mask_phone
from cleanlist_pipeline.storage.schema import (
    LEAD_FIELDS,
    LEAD_SCHEMA,
    LIST_FIELDS,
    LISTS_SCHEMA,
    column_schema,
)
from cleanlist_pipeline.storage.snapshot import (
    SnapshotResult,
    latest_snapshot,
    read_snapshot,
    snapshot_path,
    write_leads_snapshot,
)

__all__ = [
    "LEAD_FIELDS",
    "LEAD_SCHEMA",
    "LISTS_SCHEMA",
    "LIST_FIELDS",
    "CatalogResult",
    "LeadIdDeduper",
    "SnapshotResult",
    "column_schema",
    "latest_snapshot",
    "mask_email",
    "mask_lead",
    "mask_name",
    "mask_phone",
    "read_snapshot",
    "resolve_filesystem",
    "snapshot_path",
    "write_leads_snapshot",
    "write_lists_catalog",
]
