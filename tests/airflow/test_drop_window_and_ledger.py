"""Which drops a run selects, how chunks are grouped past max_map_length, and the object ledger's
first-answer-wins records (no Airflow database needed)."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cleanlist_pipeline.airflow.drop_window import select_drops, window_of_run
from cleanlist_pipeline.airflow.ledger import ChunkRecord, ObjectLedger
from cleanlist_pipeline.airflow.operators import _group_chunks
from cleanlist_pipeline.airflow.trigger import CleanlistEnrichmentTrigger
from cleanlist_pipeline.drop_scan import scan_drops


def _drops(tmp_path: Path) -> Path:
    folder = tmp_path / "drops"
    folder.mkdir()
    for name in ("2025-01-webinar.csv", "2025-02-14-badges.csv", "20250315-refs.csv", "export.csv"):
        (folder / name).write_text("email\na@example.com\n")
    undated = folder / "export.csv"
    when = datetime(2025, 2, 20, 12, tzinfo=UTC).timestamp()
    os.utime(undated, (when, when))
    return folder


@pytest.mark.parametrize(
    ("run_type", "start", "end", "expected"),
    [
        ("backfill", "2025-01-01", "2025-02-01", ["2025-01-webinar.csv"]),
        ("scheduled", "2025-02-01", "2025-03-01", ["2025-02-14-badges.csv", "export.csv"]),
        ("backfill", "2025-03-01", "2025-04-01", ["20250315-refs.csv"]),
        ("manual", "2025-01-01", "2025-02-01", None),  # manual: every drop
        ("scheduled", None, None, None),  # no interval: every drop
    ],
)
def test_runs_select_the_drops_of_their_interval(
    tmp_path: Path, run_type: str, start: str | None, end: str | None, expected: list[str] | None
) -> None:
    scan = scan_drops(_drops(tmp_path))
    window = window_of_run(run_type, start and f"{start}T00:00:00+00:00", end and f"{end}T00:00:00+00:00")
    chosen = [d.key for d in select_drops(scan, window)]
    assert chosen == (expected if expected is not None else sorted(scan.drops))


def test_a_zero_length_interval_is_refused_with_the_timetable_advice() -> None:
    with pytest.raises(ValueError, match="CronDataIntervalTimetable"):
        window_of_run("scheduled", "2025-01-01T05:00:00+00:00", "2025-01-01T05:00:00+00:00")
    assert window_of_run("scheduled", "2025-01-01", "2025-01-01", all_drops=True).everything


def test_chunks_go_several_to_a_task_past_max_map_length() -> None:
    groups = [{"drop": d, "chunks": [{"index": i}]} for d in ("a", "b") for i in range(5)]
    merged = _group_chunks(groups, limit=4)
    assert len(merged) == 4  # a group never mixes drops: 3 + 2 chunks of each
    assert [len(g["chunks"]) for g in merged] == [3, 2, 3, 2]
    assert [g["drop"] for g in merged] == ["a", "a", "b", "b"]
    assert sum(len(g["chunks"]) for g in merged) == 10
    assert _group_chunks(groups, limit=1024) == groups


def _record(key: str, imported: int) -> ChunkRecord:
    return ChunkRecord(
        list_id="list/1",
        source_sha256="ab" * 32,
        idempotency_key=key,
        drop="2025-01-webinar.csv",
        chunk_index=0,
        piece="0",
        chunk_sha256="cd" * 32,
        records=10,
        rows_parsed=10,
        rows_imported=imported,
        rows_skipped=10 - imported,
    )


def test_the_object_ledger_keeps_the_first_answer_of_each_chunk(tmp_path: Path) -> None:
    ledger = ObjectLedger(str(tmp_path / "data"))
    results: list[ChunkRecord] = []

    def put(n: int) -> None:
        results.append(ledger.put(_record("clp-imp-1", n)))

    threads = [threading.Thread(target=put, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = ledger.get("list/1", "ab" * 32, "clp-imp-1")
    assert stored is not None
    assert {r.rows_imported for r in results} == {stored.rows_imported}  # one winner, all see it
    ledger.put(_record("clp-imp-2", 4))
    assert [r.idempotency_key for r in ledger.records("list/1", "ab" * 32)] == [
        "clp-imp-1",
        "clp-imp-2",
    ]
    # one immutable file per chunk next to the data; no temp files left behind
    folder = tmp_path / "data" / "ledger" / "imports" / "list_id=list%2F1" / f"source_sha256={'ab' * 32}"
    assert sorted(p.name for p in folder.iterdir()) == ["clp-imp-1.json", "clp-imp-2.json"]


def test_the_trigger_serializes_ids_and_cursor_only() -> None:
    trigger = CleanlistEnrichmentTrigger(
        ["wf-1", "wf-2"], "cleanlist_default", 3.0, finished={"wf-1": {"status": "completed"}}
    )
    path, kwargs = trigger.serialize()
    assert path == "cleanlist_pipeline.airflow.trigger.CleanlistEnrichmentTrigger"
    assert kwargs == {
        "workflow_ids": ["wf-1", "wf-2"],
        "cleanlist_conn_id": "cleanlist_default",
        "poll_interval": 3.0,
        "finished": {"wf-1": {"status": "completed"}},
    }
