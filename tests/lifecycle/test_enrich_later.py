"""Enrich later: leads already in a list, the whole list or only those missing data, with the
spend guard; the enrichment sensor watches what it starts."""

from __future__ import annotations

import time
from typing import Any

import dagster as dg

from cleanlist_pipeline.dagster_layer.enrichment import ENRICHMENT_CHECK, ENRICHMENT_KEY, EVENT
from cleanlist_pipeline.dagster_layer.lifecycle import ENRICH_JOB

from .conftest import QUIET, Pipeline


def _enrich(pipeline: Pipeline, list_id: str, **config: Any) -> dg.ExecuteInProcessResult:
    if not pipeline.instance.has_dynamic_partition("cleanlist_lists", list_id):
        pipeline.instance.add_dynamic_partitions("cleanlist_lists", [list_id])
    return pipeline.defs.resolve_job_def(ENRICH_JOB).execute_in_process(
        instance=pipeline.instance,
        partition_key=list_id,
        run_config={"ops": {"cleanlist_enrichment": {"config": config}}, **QUIET},
        raise_on_error=False,
    )


def _meta(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (materialization,) = result.asset_materializations_for_node("cleanlist_enrichment")
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def _tick_until_snapshot(pipeline: Pipeline, timeout: float = 60) -> list[Any]:
    events: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = pipeline.tick()
        events += report.asset_events
        if report.launched:
            assert all(r.success for r in report.launched)
            return events
        time.sleep(0.3)
    raise AssertionError("no snapshot was requested")


def test_enriching_a_whole_list_is_quoted_dispatched_and_watched_by_the_sensor(
    pipeline: Pipeline, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("enrich later", 1200)
    result = _enrich(pipeline, list_id, enrichment_type="phone_only", max_credits=12_000)
    assert result.success
    meta = _meta(result)
    (workflow_id,) = meta["workflow_ids"]
    assert meta["leads_submitted"] == 1200 and meta["estimated_cost"] == 12_000
    assert meta["mode"] == "whole-list"
    ledger = cleanlist_sandbox.ledger()
    assert ledger["workflows"][workflow_id]["list_id"] == list_id

    events = _tick_until_snapshot(pipeline)
    (terminal,) = [
        e
        for e in events
        if isinstance(e, dg.AssetObservation) and e.metadata[EVENT].value == "terminal"
    ]
    assert terminal.metadata["workflow_id"].value == workflow_id
    charged = cleanlist_sandbox.ledger()["workflows"][workflow_id]["credits_charged"]
    assert terminal.metadata["credits_charged"].value == charged
    assert terminal.metadata["phones_found"].value * 10 == charged


def test_only_missing_sends_just_the_leads_without_an_email_page_by_page(
    pipeline: Pipeline, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("half enriched", 1100)
    with cleanlist_sandbox.client() as client:
        leads: list[dict[str, Any]] = []
        cursor = None
        while True:
            body = client.get(
                f"/lead-lists/{list_id}/leads",
                params={"limit": 500, **({"cursor": cursor} if cursor else {})},
            ).json()
            leads += body["leads"]
            cursor = body.get("cursor")
            if not cursor:
                break
    missing = sum(1 for lead in leads if not lead.get("email"))

    result = _enrich(pipeline, list_id, enrichment_type="partial", only_missing=True)
    assert result.success
    meta = _meta(result)
    assert meta["mode"] == "missing-only"
    assert meta["leads_submitted"] == missing
    assert len(meta["workflow_ids"]) == 3  # one cohort per page of 500

    events = _tick_until_snapshot(pipeline)
    finished = {
        e.metadata["workflow_id"].value
        for e in events
        if isinstance(e, dg.AssetObservation) and e.metadata[EVENT].value == "terminal"
    }
    assert finished == set(meta["workflow_ids"])


def test_the_spend_guard_refuses_a_quote_over_max_credits_and_dispatches_nothing(
    pipeline: Pipeline, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("too expensive", 800)
    before = cleanlist_sandbox.ledger()["workflows"]
    for config in (
        {"enrichment_type": "full", "max_credits": 1000},
        {"enrichment_type": "full", "max_credits": 1000, "only_missing": True},
    ):
        result = _enrich(pipeline, list_id, **config)
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert "max-credits 1000" in failure.step_failure_data.user_failure_data.description
    assert cleanlist_sandbox.ledger()["workflows"] == before
    assert pipeline.instance.fetch_observations(ENRICHMENT_KEY, limit=10).records == []


def test_a_failed_workflow_becomes_a_failed_check_and_still_gets_its_snapshot(
    pipeline: Pipeline, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("will fail", 300)
    cleanlist_sandbox.settings(fail_next_workflow=True)
    result = _enrich(pipeline, list_id, enrichment_type="partial")
    assert result.success
    events = _tick_until_snapshot(pipeline)
    (check,) = [e for e in events if isinstance(e, dg.AssetCheckEvaluation)]
    assert check.check_name == ENRICHMENT_CHECK and not check.passed
    assert check.metadata["status"].value == "failed"
    assert check.metadata["list_id"].value == list_id
    assert "ended failed" in (check.description or "")
    history = pipeline.instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(ENRICHMENT_KEY, ENRICHMENT_CHECK), limit=5
    )
    assert history[0].status.value == "FAILED"
