"""The import run's own progress lines and its requests, expected against actual.

A million-row drop is ~1,700 chunk steps and about an hour at the API's rate limit, so the run
log says how far it is: after the first chunk, every ``LOG_EVERY_S`` seconds or ``LOG_EVERY_N``
chunks, and after the last, one ``context.log.info`` line such as
``Import progress: 412/1,668 chunks (24.7%), 29.0/min, ETA 43 min``.

Counting: with the in-process executor (the default) every chunk step of a run runs in this
process, so a per-run counter here sees them all. With ``multiprocess`` each step has its own
process; the counter then starts from the run's finished chunk steps in the event log (one query
per process) and the rate is taken since the run started.

The report records ``requests_expected`` (what the plan implies: one list lookup, one estimate
when enrichment is quoted, one call per chunk the ledger does not hold) against
``requests_actual`` (the calls the steps made: a 413 adds the refused call and one per half).
The client's own retries (429, 5xx) are not in either; ``benchmarks/bench_budget.py`` counts
those on the server.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from cleanlist_pipeline.dagster_layer.csv_import.payloads import ChunkResult, PlanSummary
from cleanlist_pipeline.eta import progress_line

__all__ = [
    "LOG_EVERY_N",
    "LOG_EVERY_S",
    "chunk_finished",
    "request_counts",
]

#: Seconds between two progress lines of one run (at 29 requests/min: about 15 chunks).
LOG_EVERY_S = 30.0
#: Chunks between two progress lines, whatever the time (fast targets, multiprocess steps).
LOG_EVERY_N = 50

_lock = threading.Lock()


@dataclass
class _RunProgress:
    total: int
    #: chunks finished in this run (ledger hits included)
    done: int
    #: chunks that called the API: the rate counts only these (ledger hits take no time)
    sent: int
    #: the run's start (epoch seconds)
    started: float
    last_logged_at: float | None = None
    seen: set[int] = field(default_factory=set)


_RUNS: dict[str, _RunProgress] = {}


def _finished_chunk_steps(context: dg.OpExecutionContext) -> int:
    """Chunk steps of this run the event log records as succeeded (other processes' work)."""
    op = context.op.name
    records = context.instance.get_records_for_run(
        context.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS
    ).records
    return sum(1 for r in records if f"{op}[" in (r.event_log_entry.step_key or ""))


def _run_started(context: dg.OpExecutionContext) -> float | None:
    record = context.instance.get_run_record_by_id(context.run_id)
    return record.start_time if record is not None else None


def chunk_finished(
    context: dg.OpExecutionContext, index: int, total: int, *, called_api: bool
) -> str | None:
    """Count chunk ``index`` of ``total`` as done in this run; log a progress line when due.

    Returns the line logged (None when none was due), so callers and tests can see it.
    """
    if total <= 0:
        return None
    now = time.time()
    with _lock:
        run = _RUNS.get(context.run_id)
        if run is None:
            earlier = _finished_chunk_steps(context)
            run = _RUNS[context.run_id] = _RunProgress(
                total=total,
                done=earlier,
                sent=earlier,
                started=_run_started(context) or now,
            )
        if index in run.seen:
            return None
        run.seen.add(index)
        run.done = min(run.done + 1, total)
        run.sent += 1 if called_api else 0
        elapsed = now - run.started
        per_minute = run.sent / elapsed * 60.0 if elapsed > 0 and run.sent else None
        due = (
            run.last_logged_at is None
            or run.done >= total
            or run.done % LOG_EVERY_N == 0
            or now - run.last_logged_at >= LOG_EVERY_S
        )
        if not due:
            return None
        run.last_logged_at = now
        done = run.done
        if done >= total:
            _RUNS.pop(context.run_id, None)
    line = progress_line("Import progress", done, total, "chunks", per_minute=per_minute)
    context.log.info(line)
    return line


def request_counts(summary: PlanSummary, results: list[ChunkResult]) -> dict[str, Any]:
    """Requests the import needed by its plan against those its steps made, by kind."""
    to_send = [t for t in summary.tasks if t.known is None]
    quoted = 1 if summary.dispatch and to_send and summary.credits_budget is not None else 0
    expected = {"list_lookup": 1, "estimate": quoted, "csv_import": len(to_send)}
    sent = 0
    for result in results:
        fresh = [p for p in result.pieces if not p.from_ledger]
        if not fresh:
            continue
        split = any(p.piece != str(result.index) for p in result.pieces)
        # halving after a 413: n pieces are the leaves of a binary tree of 2n - 1 calls
        sent += 2 * len(result.pieces) - 1 if split else len(fresh)
    actual = {"list_lookup": 1, "estimate": quoted, "csv_import": sent}
    return {
        "expected": {**expected, "total": sum(expected.values())},
        "actual": {**actual, "total": sum(actual.values())},
    }
