"""Pages of raw API rows (plain dicts) take a one-pass Arrow conversion; the file must not differ.

The client hands the snapshot path the rows as decoded: dicts with every key the API sent, some
missing, maybe unknown extras. Whatever the page holds, the written file, the summary and the
dedupe must be what the same leads as objects give.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import pyarrow.parquet as pq
import pytest

from cleanlist_pipeline.storage import LEAD_FIELDS, read_snapshot, write_leads_snapshot

from .conftest import lead_pages, make_lead


def _as_api_rows(page: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for lead in page:
        row = {k: v for k, v in asdict(lead).items() if v is not None}  # absent, not null
        row["enrichment_meta"] = {"source": "x"}  # an extra field the schema does not know
        rows.append(row)
    return rows


def test_api_rows_write_the_same_file_as_objects(root: str, snapshot_at: datetime) -> None:
    objects = write_leads_snapshot(lead_pages(700, 100), f"{root}/a", "lst_1", snapshot_at)
    dict_pages = [_as_api_rows(page) for page in lead_pages(700, 100)]
    dicts = write_leads_snapshot(dict_pages, f"{root}/b", "lst_1", snapshot_at)
    assert read_snapshot(dicts.path).equals(read_snapshot(objects.path))
    assert (dicts.rows, dicts.email_coverage, dicts.provider_counts, dicts.preview) == (
        objects.rows,
        objects.email_coverage,
        objects.provider_counts,
        objects.preview,
    )


def test_a_page_mixing_dicts_and_objects_is_written_whole(root: str, snapshot_at: datetime) -> None:
    page: list[Any] = [asdict(make_lead(0)), make_lead(1), asdict(make_lead(2))]
    result = write_leads_snapshot([page], root, "lst_1", snapshot_at)
    table = read_snapshot(result.path)
    assert table.column("lead_id").to_pylist() == ["ld_000000", "ld_000001", "ld_000002"]
    assert table.column("email").to_pylist()[1] == "ann.lee1@acme.com"


@pytest.mark.parametrize("bad", [{"lead_id": "b", "title": 7}, ("b", "Ann")])
def test_a_bad_row_among_dicts_is_refused(root: str, snapshot_at: datetime, bad: Any) -> None:
    page = [{"lead_id": "a", "title": "CTO"}, bad]
    with pytest.raises((TypeError, ValueError)) as info:
        write_leads_snapshot([page], root, "lst_1", snapshot_at)
    assert "CTO" not in str(info.value)  # values never appear in the error


def test_repeats_across_row_groups_keep_the_first(root: str, snapshot_at: datetime) -> None:
    pages = [_as_api_rows(p) for p in lead_pages(50, 10)]
    pages.insert(3, _as_api_rows([make_lead(i) for i in (2, 45, 2, 31)]))  # 45, 31 come again
    pages.append(_as_api_rows([make_lead(0), make_lead(49)]))
    result = write_leads_snapshot(pages, root, "lst_1", snapshot_at, row_group_rows=15)
    table = pq.read_table(result.path)
    ids = table.column("lead_id").to_pylist()
    assert len(ids) == len(set(ids)) == 50 == result.rows
    assert ids.index("ld_000045") < ids.index("ld_000030")  # first occurrence kept, not the later
    assert result.duplicates_dropped == 6  # 2 twice in the inserted page, 45, 31, 0, 49
    groups = pq.ParquetFile(result.path).metadata
    assert sum(groups.row_group(i).num_rows for i in range(groups.num_row_groups)) == 50
    assert result.row_groups == groups.num_row_groups
    assert [row["lead_id"] for row in result.preview] == [f"ld_{i:06d}" for i in range(5)]
    assert set(result.preview[0]) == set(LEAD_FIELDS)


def test_a_row_group_of_nothing_but_repeats_writes_no_empty_group(
    root: str, snapshot_at: datetime
) -> None:
    page = _as_api_rows([make_lead(i) for i in range(5)])
    result = write_leads_snapshot([page, page, page], root, "lst_1", snapshot_at, row_group_rows=5)
    meta = pq.ParquetFile(result.path).metadata
    assert (result.rows, result.duplicates_dropped, meta.num_row_groups) == (5, 10, 1)
