"""The result describes the snapshot for Dagster metadata without exposing personal data."""

from __future__ import annotations

from datetime import datetime

import pytest

from cleanlist_pipeline.storage import write_leads_snapshot

from .conftest import lead_pages, make_lead


def test_coverage_and_provider_counts(root: str, snapshot_at: datetime) -> None:
    # 30 leads: email missing for i % 3 == 0 (10), phone present for even i (15),
    # provider cycles wiza / leadmagic / none.
    result = write_leads_snapshot(lead_pages(30, 7), root, "lst_1", snapshot_at, row_group_rows=10)
    assert result.rows == 30
    assert result.email_coverage == pytest.approx(20 / 30)
    assert result.phone_coverage == pytest.approx(15 / 30)
    assert result.provider_counts == {"(none)": 10, "leadmagic": 10, "wiza": 10}


def test_empty_strings_do_not_count_as_coverage(root: str, snapshot_at: datetime) -> None:
    pages = [[{"lead_id": "a", "email": "", "phone": ""}, {"lead_id": "b", "email": "b@x.io"}]]
    result = write_leads_snapshot(pages, root, "lst_1", snapshot_at)
    assert result.email_coverage == 0.5 and result.phone_coverage == 0.0


def test_preview_is_masked_and_short(root: str, snapshot_at: datetime) -> None:
    result = write_leads_snapshot(lead_pages(20, 3), root, "lst_1", snapshot_at)
    assert len(result.preview) == 5
    first, second = result.preview[0], result.preview[1]
    assert first["lead_id"] == "ld_000000"
    assert first["first_name"] == "A." and first["full_name"] == "A. L."
    assert first["email"] is None and second["email"] == "a***@acme.com"
    assert first["phone"] == "+1******0000"
    assert first["linkedin_url"] == "***"
    assert first["company"] == "Acme"
    shown = repr(result) + repr(result.preview)
    for i in range(20):
        lead = make_lead(i)
        for secret in (lead.email, lead.phone, lead.linkedin_url, lead.full_name):
            if secret:
                assert secret not in shown


def test_preview_skips_duplicates(root: str, snapshot_at: datetime) -> None:
    pages = [[make_lead(0)], [make_lead(0), make_lead(1)]]
    result = write_leads_snapshot(pages, root, "lst_1", snapshot_at)
    assert [row["lead_id"] for row in result.preview] == ["ld_000000", "ld_000001"]


def test_column_schema_for_dagster(root: str, snapshot_at: datetime) -> None:
    result = write_leads_snapshot(lead_pages(2), root, "lst_1", snapshot_at)
    assert result.column_schema[0] == ("lead_id", "string")
    assert result.column_schema[-1] == ("snapshot_at", "timestamp[us, tz=UTC]")
    assert len(result.column_schema) == 12
    assert result.snapshot_date == "2026-03-14" and result.list_id == "lst_1"
