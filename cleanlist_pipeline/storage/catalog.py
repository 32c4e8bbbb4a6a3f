"""Catalog of the lead lists visible to the key: one small Parquet file per UTC day.

``<root>/lead_lists/snapshot_date=<YYYY-MM-DD>/lead_lists.parquet`` with ``LISTS_SCHEMA`` columns.
``created_at`` is kept as the ISO-8601 string the API sent (see ``schema.py`` for why).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cleanlist_pipeline.storage.filesystem import (
    atomic_file,
    display_path,
    file_size,
    resolve_filesystem,
)
from cleanlist_pipeline.storage.layout import lists_catalog_file, utc_snapshot_at
from cleanlist_pipeline.storage.rows import make_column_getter, to_arrow_columns
from cleanlist_pipeline.storage.schema import LIST_FIELDS, LISTS_SCHEMA, column_schema

NO_VISIBILITY = "(none)"
_list_columns = make_column_getter(LIST_FIELDS)
_LIST_TYPES = [LISTS_SCHEMA.field(name).type for name in LIST_FIELDS]


@dataclass(frozen=True)
class CatalogResult:
    """What one catalog write produced."""

    path: str
    rows: int
    bytes: int
    duplicates_dropped: int
    visibility_counts: dict[str, int]
    total_leads: int
    snapshot_at: datetime
    column_schema: list[tuple[str, str]]


def write_lists_catalog(
    lists: Iterable[Any],
    root: str | os.PathLike[str],
    snapshot_at: datetime,
    *,
    allow_insecure: bool = False,
) -> CatalogResult:
    """Write the lists (dicts or ``ListSummary``-like objects) as today's catalog, atomically.

    A second catalog on the same UTC day replaces the first. Repeated ``list_id``s (a cursor that
    shifted while lists were created) keep their first occurrence.
    """
    snapshot_at = utc_snapshot_at(snapshot_at)
    fs, base = resolve_filesystem(root, allow_insecure=allow_insecure)
    final_path = lists_catalog_file(base, snapshot_at)

    seen: set[str] = set()
    kept: list[Any] = []
    duplicates = 0
    for item in lists:
        list_id = (
            item.get("list_id") if isinstance(item, Mapping) else getattr(item, "list_id", None)
        )
        if list_id is None:
            raise ValueError(f"lead list #{len(kept) + duplicates + 1} has no list_id")
        if list_id in seen:
            duplicates += 1
            continue
        seen.add(list_id)
        kept.append(item)

    arrays = to_arrow_columns(_list_columns(kept), LIST_FIELDS, _LIST_TYPES)
    stamp = pa.array([snapshot_at] * len(kept), type=LISTS_SCHEMA.field("snapshot_at").type)
    table = pa.Table.from_arrays([*arrays, stamp], schema=LISTS_SCHEMA)

    with atomic_file(fs, final_path) as tmp_path:
        pq.write_table(table, tmp_path, compression="zstd")

    visibility: dict[str, int] = {}
    for value in table.column("visibility").to_pylist():
        key = NO_VISIBILITY if value is None else value
        visibility[key] = visibility.get(key, 0) + 1
    lead_counts = table.column("lead_count").to_pylist()
    return CatalogResult(
        path=display_path(root, fs, final_path),
        rows=table.num_rows,
        bytes=file_size(fs, final_path),
        duplicates_dropped=duplicates,
        visibility_counts=dict(sorted(visibility.items())),
        total_leads=sum(n for n in lead_counts if n is not None),
        snapshot_at=snapshot_at,
        column_schema=column_schema(LISTS_SCHEMA),
    )
