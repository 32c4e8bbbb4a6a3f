"""Pages of leads (dataclasses, dicts, page objects) come back from the file exactly."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleanlist_pipeline.storage import (
    LEAD_FIELDS,
    LEAD_SCHEMA,
    read_snapshot,
    snapshot_path,
    write_leads_snapshot,
)

from .conftest import Lead, lead_pages, make_lead


def _expected_rows(n: int) -> list[dict]:
    return [asdict(make_lead(i)) for i in range(n)]


@pytest.mark.parametrize("as_dict", [False, True], ids=["dataclasses", "dicts"])
def test_written_rows_read_back_identical(root: str, snapshot_at: datetime, as_dict: bool) -> None:
    result = write_leads_snapshot(lead_pages(250, 100, as_dict=as_dict), root, "lst_1", snapshot_at)

    assert result.path == f"{root}/leads/list_id=lst_1/snapshot_date=2026-03-14/leads.parquet"
    table = pq.read_table(result.path)
    assert table.schema.equals(LEAD_SCHEMA)
    assert table.select(list(LEAD_FIELDS)).to_pylist() == _expected_rows(250)
    assert set(table.column("snapshot_at").to_pylist()) == {snapshot_at}
    assert result.rows == 250 and result.pages == 3
    assert result.bytes == os.path.getsize(result.path)


def test_file_carries_no_partition_columns(root: str, snapshot_at: datetime) -> None:
    result = write_leads_snapshot(lead_pages(5), root, "lst_1", snapshot_at)
    names = pq.read_schema(result.path).names
    assert "list_id" not in names and "snapshot_date" not in names


def test_missing_dict_keys_and_absent_attributes_become_nulls(
    root: str, snapshot_at: datetime
) -> None:
    @dataclass(frozen=True)
    class OldLead:  # an older model without location / linkedin_url / provider
        lead_id: str
        email: str | None

    pages = [[{"lead_id": "a", "email": "x@y.io"}], [OldLead("b", None)], [{"lead_id": "c"}]]
    table = read_snapshot(write_leads_snapshot(pages, root, "lst_1", snapshot_at).path)
    assert table.column("lead_id").to_pylist() == ["a", "b", "c"]
    assert table.column("email").to_pylist() == ["x@y.io", None, None]
    assert table.column("provider").to_pylist() == [None, None, None]


def test_mixed_page_of_dicts_and_objects(root: str, snapshot_at: datetime) -> None:
    page = [asdict(make_lead(0)), make_lead(1), asdict(make_lead(2))]
    table = read_snapshot(write_leads_snapshot([page], root, "lst_1", snapshot_at).path)
    assert table.select(list(LEAD_FIELDS)).to_pylist() == _expected_rows(3)


def test_page_objects_with_leads_attribute(root: str, snapshot_at: datetime) -> None:
    @dataclass(frozen=True)
    class LeadsPage:
        leads: list[Lead]
        cursor: str | None

    pages = (LeadsPage(page, None) for page in lead_pages(30, 10))
    result = write_leads_snapshot(pages, root, "lst_1", snapshot_at)
    assert result.rows == 30 and result.pages == 3


def test_empty_list_writes_a_readable_empty_snapshot(root: str, snapshot_at: datetime) -> None:
    result = write_leads_snapshot(iter([[], []]), root, "lst_empty", snapshot_at)
    table = read_snapshot(result.path)
    assert table.num_rows == 0 and table.schema.equals(LEAD_SCHEMA)
    assert result.email_coverage == 0.0 and result.provider_counts == {}


def test_row_groups_follow_row_group_rows(root: str, snapshot_at: datetime) -> None:
    result = write_leads_snapshot(
        lead_pages(1000, 100), root, "lst_1", snapshot_at, row_group_rows=300
    )
    meta = pq.ParquetFile(result.path).metadata
    # Groups close at the first page boundary at or past 300 rows.
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [300, 300, 300, 100]
    assert result.row_groups == 4


def test_snapshot_date_is_the_utc_day(root: str) -> None:
    # 23:30 at UTC-5 on March 13 is already March 14 in UTC.
    at = datetime(2026, 3, 13, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    result = write_leads_snapshot(lead_pages(3), root, "lst_1", at)
    assert "/snapshot_date=2026-03-14/" in result.path
    assert result.snapshot_at == datetime(2026, 3, 14, 4, 30, tzinfo=UTC)
    assert snapshot_path(root, "lst_1", at) == result.path


def test_naive_snapshot_time_is_refused(root: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        write_leads_snapshot(lead_pages(3), root, "lst_1", datetime(2026, 3, 14, 9, 0))


def test_list_id_with_path_characters_stays_in_its_folder(root: str, snapshot_at: datetime) -> None:
    result = write_leads_snapshot(lead_pages(3), root, "team/a b", snapshot_at)
    assert "/leads/list_id=team%2Fa%20b/snapshot_date=" in result.path
    assert read_snapshot(root, "team/a b").num_rows == 3
    with pytest.raises(ValueError, match="invalid list_id"):
        write_leads_snapshot(lead_pages(3), root, "..", snapshot_at)


def test_wrong_value_type_names_the_field_not_the_value(root: str, snapshot_at: datetime) -> None:
    pages = [[{"lead_id": "a", "phone": 14155550123}]]
    with pytest.raises(TypeError) as info:
        write_leads_snapshot(pages, root, "lst_1", snapshot_at)
    assert "'phone'" in str(info.value) and "14155550123" not in str(info.value)


def test_lead_without_id_is_refused(root: str, snapshot_at: datetime) -> None:
    with pytest.raises(ValueError, match="without lead_id"):
        write_leads_snapshot([[{"lead_id": "a"}, {"email": "x@y.io"}]], root, "lst_1", snapshot_at)


def test_schema_types_match_the_contract() -> None:
    assert [(f.name, str(f.type), f.nullable) for f in LEAD_SCHEMA] == [
        ("lead_id", "string", False),
        *[(name, "string", True) for name in LEAD_FIELDS[1:]],
        ("snapshot_at", "timestamp[us, tz=UTC]", False),
    ]
    assert LEAD_SCHEMA.field("snapshot_at").type == pa.timestamp("us", tz="UTC")


def test_single_leads_instead_of_pages_are_refused(root: str, snapshot_at: datetime) -> None:
    with pytest.raises(TypeError, match="each page must be a list of leads"):
        write_leads_snapshot([make_lead(0), make_lead(1)], root, "lst_1", snapshot_at)
    assert not os.path.exists(f"{root}/leads/list_id=lst_1/snapshot_date=2026-03-14")
