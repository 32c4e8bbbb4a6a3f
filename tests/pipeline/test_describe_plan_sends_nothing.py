"""``describe_plan`` (``cleanlist-pipeline plan``) reports each drop and sends nothing."""

from __future__ import annotations

from dataclasses import replace

from cleanlist_pipeline.dagster_layer.csv_import import describe_plan

from .conftest import HEADER, Pipeline, lead_rows


def test_plan_reports_chunks_rejects_and_credits_without_calls(pipeline: Pipeline) -> None:
    p = pipeline
    (p.drops / "a.csv").write_text(HEADER + lead_rows(700) + "Ann,Lee,person1@example.com,X,Y\n")
    (p.drops / "empty.csv").write_bytes(b"")
    before = sum(p.sandbox.ledger()["requests"].values())

    plans = {
        d["path"]: d for d in describe_plan(p.drops, replace(p.settings, enrichment_type="full"))
    }

    a = plans["a.csv"]
    assert a["data_records"] == 701
    assert len(a["chunks"]) == 2
    assert a["column_mapping"]["email"] == "email"
    assert a["removed_duplicates"] == [702]  # record numbers: header = 1
    assert a["rows_to_send"] == 700
    assert a["estimated_credits"] == 700 * 11
    assert a["estimated_credits_by_type"]["partial"] == 700
    assert "empty.csv" in plans["empty.csv"]["error"]
    assert sum(p.sandbox.ledger()["requests"].values()) == before
