"""End to end: sample drops imported with enrichment, the real sensor ticking on a real instance,
progress observed, the snapshot requested once and equal to the sandbox's list."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pandas as pd
import pyarrow.dataset as ds

from cleanlist_pipeline.dagster_layer.enrichment import (
    ENRICHMENT_CHECK,
    ENRICHMENT_KEY,
    EVENT,
    SENSOR_NAME,
)
from cleanlist_pipeline.dagster_layer.lifecycle import load_sensor_cursor, save_sensor_cursor
from cleanlist_pipeline.storage import latest_snapshot, read_snapshot

from .conftest import Pipeline


def _sandbox_leads(sandbox: Any, list_id: str) -> dict[str, tuple[str | None, str | None]]:
    leads: dict[str, tuple[str | None, str | None]] = {}
    cursor = None
    with httpx.Client(
        base_url=sandbox.v2, headers={"Authorization": f"Bearer {sandbox.key}"}, timeout=30
    ) as client:
        while True:
            params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            body = client.get(f"/lead-lists/{list_id}/leads", params=params).json()
            for lead in body["leads"]:
                leads[lead["lead_id"]] = (lead.get("email"), lead.get("phone"))
            cursor = body.get("cursor")
            if not cursor:
                return leads


def _observations(instance: dg.DagsterInstance, kind: str) -> list[dict[str, Any]]:
    records = instance.fetch_observations(ENRICHMENT_KEY, limit=10_000).records
    out = []
    for record in records:
        meta = {k: getattr(v, "value", v) for k, v in record.asset_observation.metadata.items()}
        if meta.get(EVENT) == kind:
            out.append(meta)
    return out


def _snapshot_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return [r for r in instance.get_runs() if r.tags.get("dagster/sensor_name") == SENSOR_NAME]


def _tick_until_idle(pipeline: Pipeline, timeout: float = 90) -> list[Any]:
    reports = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = pipeline.tick()
        reports.append(report)
        cursor = load_sensor_cursor(pipeline.state_dir, SENSOR_NAME) or "{}"
        if '"pending": {}' in cursor and '"finished": {}' in cursor:
            return reports
        time.sleep(0.3)
    raise AssertionError("the sensor did not finish the workflows in time")


def test_sample_drops_reach_parquet_through_the_enrichment_sensor(
    pipeline: Pipeline, cleanlist_sandbox: Any
) -> None:
    results = pipeline.import_all(enrichment="full")
    assert all(r.success for r in results)
    list_ids = {
        r.asset_materializations_for_node("cleanlist_csv_import")[0].metadata["list_id"].value
        for r in results
    }
    (list_id,) = list_ids
    workflows = {
        wid
        for r in results
        for wid in r.asset_materializations_for_node("cleanlist_csv_import")[0]
        .metadata["workflow_ids"]
        .value
    }
    assert workflows, "the imports dispatched enrichment"

    reports = _tick_until_idle(pipeline)

    progress = _observations(pipeline.instance, "progress") + _observations(
        pipeline.instance, "terminal"
    )
    assert {m["workflow_id"] for m in progress} == workflows
    terminal = _observations(pipeline.instance, "terminal")
    assert sorted(m["workflow_id"] for m in terminal) == sorted(workflows)  # each exactly once
    assert all("/" in m["processed/total"] for m in terminal)
    ledger = cleanlist_sandbox.ledger()
    charged = sum(ledger["workflows"][w]["credits_charged"] for w in workflows)
    assert sum(m["credits_charged"] for m in terminal) == charged > 0
    checks = pipeline.instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(ENRICHMENT_KEY, ENRICHMENT_CHECK), limit=100
    )
    assert len(checks) == len(workflows)

    launched = [r for report in reports for r in report.launched]
    assert len(launched) == 1 and launched[0].success
    assert launched[0].dagster_run.tags["dagster/partition"] == list_id
    assert len(_snapshot_runs(pipeline.instance)) == 1

    # The snapshot equals the sandbox's list: same lead ids, emails and phones.
    expected = _sandbox_leads(cleanlist_sandbox, list_id)
    table = read_snapshot(str(pipeline.data), list_id)
    got = {
        row["lead_id"]: (row["email"], row["phone"])
        for row in table.select(["lead_id", "email", "phone"]).to_pylist()
    }
    assert got == expected
    assert any(email for email, _ in got.values()) and any(phone for _, phone in got.values())

    path = latest_snapshot(str(pipeline.data), list_id)
    assert path is not None and Path(path).exists()
    assert f"list_id={list_id}" in path and "snapshot_date=" in path

    # Readers of the root folder: pandas, pyarrow.dataset (hive), DuckDB.
    leads_root = pipeline.data / "leads"
    frame = pd.read_parquet(leads_root)
    assert set(frame["lead_id"]) == set(expected)
    assert set(frame["list_id"].astype(str)) == {list_id}
    dataset = ds.dataset(leads_root, format="parquet", partitioning="hive")
    assert dataset.count_rows() == len(expected)
    assert "snapshot_date" in dataset.schema.names
    ((count, lists),) = duckdb.sql(
        f"SELECT count(*), count(DISTINCT list_id) FROM read_parquet("
        f"'{leads_root}/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert (count, lists) == (len(expected), 1)


def test_the_sensor_forgets_nothing_and_finishes_nothing_twice_across_restarts(
    pipeline: Pipeline, cleanlist_sandbox: Any
) -> None:
    cleanlist_sandbox.settings(enrich_seconds=3600)  # hold the workflows running
    results = pipeline.import_all(enrichment="partial")
    assert all(r.success for r in results)
    first = pipeline.tick()
    assert first.launched == []
    saved = load_sensor_cursor(pipeline.state_dir, SENSOR_NAME)
    assert saved and '"pending": {}' not in saved

    # A restarted daemon starts from the saved cursor: every workflow is still pending.
    (sensor,) = [s for s in pipeline.defs.sensors or [] if s.name == SENSOR_NAME]
    cleanlist_sandbox.advance_clock(7200)  # now every workflow is terminal

    def evaluate(cursor: str | None) -> Any:
        with dg.build_sensor_context(
            instance=pipeline.instance,
            cursor=cursor,
            definitions=pipeline.defs,
            resources=dict(pipeline.defs.resources or {}),
        ) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        return result

    # The daemon records this evaluation's events, then dies before saving the cursor or
    # launching the run it asked for.
    time.sleep(1.1)  # past every workflow's next poll time
    lost = evaluate(saved)
    for event in lost.asset_events:
        pipeline.instance.report_runless_asset_event(event)
    finished_once = [e for e in lost.asset_events if isinstance(e, dg.AssetObservation)]
    assert finished_once and len(lost.run_requests) == 1

    # Restarted again from the same saved cursor: nothing is finished twice, and it asks for
    # the very same snapshot run (same run key), which the daemon then launches once.
    save_sensor_cursor(pipeline.state_dir, SENSOR_NAME, saved)
    again = pipeline.tick()
    terminal_again = [e for e in again.asset_events if isinstance(e, dg.AssetObservation)]
    assert terminal_again == []
    assert len(again.launched) == 1 and again.launched[0].success
    assert again.launched[0].dagster_run.tags["dagster/run_key"] == lost.run_requests[0].run_key

    # A daemon that lost its cursor altogether re-reads the event log: still nothing twice.
    save_sensor_cursor(pipeline.state_dir, SENSOR_NAME, None)
    fresh = pipeline.tick()
    assert fresh.asset_events == [] and fresh.launched == []
    later = pipeline.tick()
    assert later.launched == [] and later.deduplicated_run_keys == []

    terminal = _observations(pipeline.instance, "terminal")
    workflow_ids = [m["workflow_id"] for m in terminal]
    assert len(workflow_ids) == len(set(workflow_ids)) == len(finished_once)
    assert len(_snapshot_runs(pipeline.instance)) == 1
