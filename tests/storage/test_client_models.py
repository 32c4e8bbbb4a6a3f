"""The API client's own models (frozen, slotted dataclasses with extras) snapshot as they come."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime

from cleanlist_pipeline.api.models import Lead, LeadsPage, ListSummary
from cleanlist_pipeline.storage import (
    LEAD_FIELDS,
    read_snapshot,
    write_leads_snapshot,
    write_lists_catalog,
)

from .conftest import make_lead


def _page(start: int, stop: int, cursor: str | None) -> LeadsPage:
    leads = [asdict(make_lead(i)) | {"unknown_new_field": "x"} for i in range(start, stop)]
    body = {"list_id": "lst_1", "leads": leads, "total": 25, "cursor": cursor, "task_id": "cl-t"}
    return LeadsPage.from_json(body)


def test_leads_pages_from_the_client(root: str, snapshot_at: datetime) -> None:
    pages = [_page(0, 10, "10"), _page(8, 20, "20"), _page(20, 25, None)]  # 8, 9 repeated
    result = write_leads_snapshot(iter(pages), root, "lst_1", snapshot_at)
    assert result.rows == 25 and result.duplicates_dropped == 2
    table = read_snapshot(result.path)
    assert table.column_names == [*LEAD_FIELDS, "snapshot_at"]
    assert table.select(list(LEAD_FIELDS)).to_pylist() == [asdict(make_lead(i)) for i in range(25)]


def test_list_summaries_from_the_client(root: str, snapshot_at: datetime) -> None:
    lists = [
        ListSummary.from_json(
            {"list_id": "lst_1", "name": "A", "lead_count": 3, "visibility": "shared"}
        ),
        ListSummary.from_json({"list_id": "lst_2", "name": "B", "lead_count": 4}),
    ]
    result = write_lists_catalog(lists, root, snapshot_at)
    assert result.rows == 2 and result.total_leads == 7
    assert result.visibility_counts == {"(none)": 1, "shared": 1}


def test_snapshot_columns_are_the_client_lead_fields() -> None:
    # storage keeps its own copy of the LeadRow field list (it imports no HTTP client): this
    # keeps the two from drifting apart.
    assert tuple(f.name for f in fields(Lead) if f.name != "extra") == LEAD_FIELDS
