"""No e-mail, phone or name of a lead in log lines or in materialization/observation metadata.

The demo drops hold canary people (unique tokens in every field, including a duplicate and an
unimportable row, whose handling is reported). Searched: the event log (every record, decoded
from the instance's SQLite databases, and every asset event's metadata read through Dagster),
the compute logs, and the stdout/stderr of the runs and sensor ticks. The Parquet snapshots and
the rejects file are *meant* to hold the data and are not searched here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import DemoRun
from .scan import scan_files, scan_text

# They share one demo-style deployment run (about half a minute).
pytestmark = pytest.mark.slow


def _log_and_event_files(demo: DemoRun) -> list[Path]:
    home = demo.deployment.home
    files = []
    for path in home.rglob("*"):
        if not path.is_file() or path.name.startswith("cleanlist-sandbox"):
            continue
        is_db = path.suffix == ".db"
        is_log = "compute_logs" in path.parts or path.suffix in (".out", ".err", ".log")
        if is_db or is_log:
            files.append(path)
    files += [
        p
        for p in demo.deployment.logs.iterdir()
        if p.is_file() and not p.name.startswith("sandbox")
    ]
    return files


def _needles(demo: DemoRun) -> dict[str, bytes]:
    needles: dict[str, bytes] = {}
    for person in demo.people:
        needles.update(person.needles())
    return needles


def test_no_personal_data_in_event_log_or_logs(finished_demo: DemoRun) -> None:
    demo = finished_demo
    files = _log_and_event_files(demo)
    assert any(p.suffix == ".db" for p in files), files
    assert any("compute_logs" in p.parts for p in files), "no compute logs were captured"
    hits, _, _ = scan_files(files, _needles(demo))
    assert not hits, "personal data in logs or the event log:\n" + "\n".join(map(str, hits[:30]))


def _all_event_records(instance: Any) -> Iterator[Any]:
    """Every event record of every run, and the runless ones (sensor observations/checks)."""
    run_ids = [run.run_id for run in instance.get_runs()] + [""]
    for run_id in run_ids:
        cursor = None
        while True:
            page = instance.get_records_for_run(run_id, cursor=cursor, limit=1000)
            yield from page.records
            if not page.has_more:
                break
            cursor = page.cursor


def test_no_personal_data_in_any_event_record_or_asset_metadata(finished_demo: DemoRun) -> None:
    demo = finished_demo
    needles = _needles(demo)
    asset_events = records = 0
    with demo.deployment.instance() as instance:
        for record in _all_event_records(instance):
            entry = record.event_log_entry
            event = entry.dagster_event
            text = repr(event.event_specific_data if event else None) + (entry.user_message or "")
            hits = scan_text(text.encode(), needles, f"event {record.storage_id}", "event data")
            assert not hits, f"{event.event_type_value if event else 'log'}: " + ", ".join(
                map(str, hits)
            )
            records += 1
            if event is not None and event.event_type_value in (
                "ASSET_MATERIALIZATION",
                "ASSET_OBSERVATION",
                "ASSET_CHECK_EVALUATION",
            ):
                asset_events += 1
    assert asset_events >= 5, f"only {asset_events} asset events: the demo did not run far enough"
    assert records > 100


def test_snapshots_hold_the_people_so_the_search_can_find_them(finished_demo: DemoRun) -> None:
    """Guard against a blind search: the same needles *are* found where the data belongs."""
    demo = finished_demo
    parquet = [p for p in demo.deployment.data.rglob("*.parquet")]
    assert parquet
    hits, _, _ = scan_files(parquet, _needles(demo))
    assert hits, "the canary people are not in the snapshots: the search would be blind"
