"""Pages of leads → deduplicated Arrow row groups → an open ``ParquetWriter``.

The per-page work (one struct ``pa.array`` over the page's dicts, hashing ids) costs ~1.2 µs per
lead; a page decoded from JSON to Arrow already (``json_pages.ArrowLeadsPage``, what the snapshot
paths hand over) only has its ids hashed. A row group is deduplicated and encoded once ``row_group_rows`` leads are pending (encoding
~0.6 µs per lead, without the GIL), so memory holds at most one row group of compact Arrow arrays
plus the page in hand.

Everything runs in the caller's thread. Moving the conversion to the thread that fetches and
decodes the pages, handing the GIL over after every page (``time.sleep(0)``), or a smaller
interpreter switch interval were measured no better on the 2-core target (GIL hand-offs with the
decoding thread cost about what the overlap gains).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cleanlist_pipeline.storage.dedupe import Hashes, LeadIdDeduper, hash_ids
from cleanlist_pipeline.storage.json_pages import ArrowLeadsPage
from cleanlist_pipeline.storage.rows import (
    dict_rows_to_arrow,
    make_column_getter,
    page_rows,
    struct_type,
    to_arrow_columns,
)
from cleanlist_pipeline.storage.schema import LEAD_FIELDS, LEAD_SCHEMA, SNAPSHOT_AT_TYPE

PREVIEW_ROWS = 5
NO_PROVIDER = "(none)"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STRING_TYPES = [LEAD_SCHEMA.field(name).type for name in LEAD_FIELDS]
_lead_columns = make_column_getter(LEAD_FIELDS)
_LEAD_STRUCT = struct_type(LEAD_FIELDS, _STRING_TYPES)
_LEAD_ID = operator.itemgetter("lead_id")


class LeadRowGroupBuilder:
    """Accumulate pages and write full row groups to ``writer``; gather the summary figures."""

    def __init__(
        self, writer: pq.ParquetWriter, snapshot_at: datetime, row_group_rows: int
    ) -> None:
        self._writer = writer
        self._snapshot_at = snapshot_at
        self._row_group_rows = row_group_rows
        self._stamp = _constant_timestamps(snapshot_at, row_group_rows)
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._hashes: list[Hashes] = []
        self.deduper = LeadIdDeduper()
        self.preview: list[dict[str, str | None]] = []
        self.pages = 0
        self.row_groups = 0
        self.rows = 0
        self.emails = 0
        self.phones = 0
        self.providers: dict[str, int] = {}

    def add_page(self, page: Any) -> None:
        """Queue one page's rows; deduplicates and writes a row group once enough are queued.

        ``page`` is a list of leads (dicts or objects), a ``LeadsPage``, or an
        ``ArrowLeadsPage`` (columns already decoded by ``json_pages.decode_leads_page``).
        """
        self.pages += 1
        ids: Iterable[Any]
        if isinstance(page, ArrowLeadsPage):  # decoded from JSON by pyarrow: typed already
            arrays = page.arrays
            n = len(page)
            if n == 0:
                return
            ids = arrays[0].to_pylist()
            self._queue(arrays, ids, n)
            return
        rows = page_rows(page)
        n = len(rows)
        if n == 0:
            return
        arrays = dict_rows_to_arrow(rows, _LEAD_STRUCT)
        if arrays is None:
            columns = _lead_columns(rows)
            arrays = to_arrow_columns(columns, LEAD_FIELDS, _STRING_TYPES)
            ids = columns[0]
        else:
            ids = map(_LEAD_ID, rows)  # every row has one: a missing key is null, refused below
        self._queue(arrays, ids, n)

    def _queue(self, arrays: list[pa.Array], ids: Iterable[Any], n: int) -> None:
        if arrays[0].null_count:
            raise ValueError(f"page {self.pages} holds a lead without lead_id")
        self._hashes.append(hash_ids(ids, n))
        if n > len(self._stamp):
            self._stamp = _constant_timestamps(self._snapshot_at, n)
        self._pending.append(
            pa.RecordBatch.from_arrays([*arrays, self._stamp[:n]], schema=LEAD_SCHEMA)
        )
        self._pending_rows += n
        if self._pending_rows >= self._row_group_rows:
            self.flush()

    def flush(self) -> None:
        """Deduplicate the queued rows and write them as one row group (nothing if none remain).

        Ids are checked a row group at a time: one vectorised pass over 50,000 hashes costs a
        fraction of 100 passes over 500.
        """
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending, schema=LEAD_SCHEMA)
        keep = self.deduper.admit_hashes(np.concatenate(self._hashes))
        self._pending, self._hashes, self._pending_rows = [], [], 0
        if keep is not None:
            table = table.filter(pa.array(keep))
        if table.num_rows == 0:
            return
        if len(self.preview) < PREVIEW_ROWS:
            head = table.slice(0, PREVIEW_ROWS - len(self.preview)).select(list(LEAD_FIELDS))
            self.preview.extend(head.to_pylist())
        self._count(table)
        self._writer.write_table(table, row_group_size=table.num_rows)
        self.row_groups += 1

    def coverage(self, count: int) -> float:
        """``count`` as a fraction of the rows written (0.0 for an empty snapshot)."""
        return count / self.rows if self.rows else 0.0

    def _count(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        self.emails += _non_empty(table.column("email"))
        self.phones += _non_empty(table.column("phone"))
        for item in pc.value_counts(table.column("provider")).to_pylist():
            key = NO_PROVIDER if item["values"] is None else item["values"]
            self.providers[key] = self.providers.get(key, 0) + item["counts"]


def _non_empty(column: pa.ChunkedArray) -> int:
    return int(pc.sum(pc.greater(pc.utf8_length(column), 0)).as_py() or 0)


def _constant_timestamps(snapshot_at: datetime, n: int) -> pa.Array:
    # One array sliced per batch (zero-copy); Parquet run-length encodes the constant to nothing.
    micros = (snapshot_at - _EPOCH) // timedelta(microseconds=1)
    return pa.array(np.full(n, micros, dtype=np.int64), type=pa.int64()).view(SNAPSHOT_AT_TYPE)
