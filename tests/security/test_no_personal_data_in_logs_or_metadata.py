"""No e-mail, phone or name of a lead in log lines or in materialization/observation metadata.

The demo drops hold canary people (unique tokens in every field, including a duplicate and an
unimportable row, whose handling is reported). Searched: the event log (every record, decoded
from the instance's SQLite databases, and every asset event's metadata read through Dagster),
the compute logs, and the stdout/stderr of the runs and sensor ticks. The Parquet snapshots and
the rejects file are *meant* to hold the data and are not searched here.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import DemoRun
from .scan import scan_files, scan_text


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
    files += [p for p in demo.deployment.logs.iterdir()
              if p.is_file() and not p.name.startswith("sandbox")]
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


def test_no_personal_data_in_any_asset_event_metadata(finished_demo: DemoRun) -> None:
    import dagster as dg

    demo = finished_demo
    needles = _needles(demo)
    seen = 0
    with demo.deployment.instance() as instance:
        records = instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_MATERIALIZATION), limit=10_000
        ) + instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_OBSERVATION), limit=10_000
        ) + instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION),
            limit=10_000,
        )
        for record in records:
            entry = record.event_log_entry
            text = (repr(entry.dagster_event.event_specific_data) + (entry.user_message or ""))
            hits = scan_text(text.encode(), needles, f"event {record.storage_id}", "metadata")
            assert not hits, f"{entry.dagster_event.event_type_value}: " + ", ".join(map(str, hits))
            seen += 1
    assert seen >= 5, f"only {seen} asset events: the demo did not run far enough"


def test_snapshots_hold_the_people_so_the_search_can_find_them(finished_demo: DemoRun) -> None:
    """Guard against a blind search: the same needles *are* found where the data belongs."""
    demo = finished_demo
    parquet = [p for p in demo.deployment.data.rglob("*.parquet")]
    assert parquet
    hits, _, _ = scan_files(parquet, _needles(demo))
    assert hits, "the canary people are not in the snapshots: the search would be blind"
