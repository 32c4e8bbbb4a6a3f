"""The spend guard fails before importing anything, with the numbers."""

from __future__ import annotations

from .conftest import HEADER, Pipeline, failure_message, lead_rows


def test_estimate_above_max_credits_fails_before_importing(pipeline: Pipeline) -> None:
    p = pipeline
    (p.drops / "paid.csv").write_text(HEADER + lead_rows(40))
    result = p.run(
        "paid.csv",
        {"dispatch_enrichment": True, "enrichment_type": "full", "max_credits": 100},
    )
    assert not result.success
    message = failure_message(result)
    assert "Spend guard" in message
    assert "440" in message  # 40 rows x 11 credits
    assert "100" in message and "Nothing was imported" in message
    assert p.imports_executed() == 0 and p.csv_requests() == 0
    assert p.sandbox.ledger()["credits"]["charged_total"] == 0


def test_dispatch_within_budget_records_workflows_in_the_ledger(pipeline: Pipeline) -> None:
    from cleanlist_pipeline.dagster_layer.ledger import iter_dispatched_workflows

    p = pipeline
    (p.drops / "paid.csv").write_text(HEADER + lead_rows(40))
    result = p.run("paid.csv", {"dispatch_enrichment": True, "enrichment_type": "partial"})
    assert result.success, failure_message(result)
    meta = p.materialization("paid.csv")
    assert meta["credits_estimated"] == 40
    workflows = list(iter_dispatched_workflows(p.instance, p.settings.names.import_asset))
    assert [w.partition_key for w in workflows] == ["paid.csv"]
    assert workflows[0].workflow_id in meta["workflow_ids"]
    assert workflows[0].list_id == meta["list_id"]
