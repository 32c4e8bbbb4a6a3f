"""Arrow schemas of the files this package writes.

Every lead field of the API's ``LeadRow`` is a nullable string except ``lead_id``; ``snapshot_at``
is the moment the snapshot was taken (the same value on every row of one file). Partition values
(``list_id``, ``snapshot_date``) live in the directory names only: a file column of the same name
makes ``pandas.read_parquet(<root>/leads)`` fail on the clash with the hive partition field.
"""

from __future__ import annotations

import pyarrow as pa

from cleanlist_pipeline.contract import LEAD_FIELDS

__all__ = [
    "LEAD_FIELDS",
    "LEAD_SCHEMA",
    "LISTS_SCHEMA",
    "LIST_FIELDS",
    "SNAPSHOT_AT_TYPE",
    "column_schema",
]


SNAPSHOT_AT_TYPE = pa.timestamp("us", tz="UTC")

LEAD_SCHEMA = pa.schema(
    [pa.field("lead_id", pa.string(), nullable=False)]
    + [pa.field(name, pa.string()) for name in LEAD_FIELDS[1:]]
    + [pa.field("snapshot_at", SNAPSHOT_AT_TYPE, nullable=False)]
)

LIST_FIELDS: tuple[str, ...] = (
    "list_id",
    "name",
    "owner_name",
    "visibility",
    "lead_count",
    "folder_id",
    "created_at",
)

# ``created_at`` stays the API's ISO-8601 string as given: the catalog never fails or loses a value
# on a timestamp format the API may change; `TRY_CAST(created_at AS TIMESTAMPTZ)` in DuckDB or
# `pd.to_datetime(..., utc=True)` types it when needed.
LISTS_SCHEMA = pa.schema(
    [
        pa.field("list_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("owner_name", pa.string()),
        pa.field("visibility", pa.string()),
        pa.field("lead_count", pa.int64()),
        pa.field("folder_id", pa.string()),
        pa.field("created_at", pa.string()),
        pa.field("snapshot_at", SNAPSHOT_AT_TYPE, nullable=False),
    ]
)


def column_schema(schema: pa.Schema) -> list[tuple[str, str]]:
    """``(name, type)`` pairs, e.g. for Dagster's ``dagster/column_schema`` metadata.

    >>> column_schema(LEAD_SCHEMA)[-1]
    ('snapshot_at', 'timestamp[us, tz=UTC]')
    """
    return [(field.name, str(field.type)) for field in schema]
