"""The same definitions on a Postgres-backed instance (``deploy/dagster.yaml`` verbatim).

Two partitions import at the same time, each run with the multiprocess executor (one process per
step). The ``cleanlist_api`` pool (limit 2, set as deploy/README.md says) caps the import steps
in flight across *both* runs, and the client's shared rate limiter keeps the one API key under
the sandbox's 6 requests/minute — counted by the sandbox itself, which would also have answered
429 to any excess. The test takes a little over a minute by design: the two runs need more
requests than one minute allows, so the limiter must hold some back until the window moves.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from reliability.harness import (
    REPO,
    Deployment,
    csv_bytes,
    kill_group,
    lead_rows,
    list_lead_ids,
    parse_outcome,
    sandbox_process,
)

from .services import PostgresServer

RPM = 6
ROWS = 120
ROWS_PER_CHUNK = 40  # → 3 chunks per partition: > RPM requests in all, so the limiter must act
POOL_LIMIT = 2  # deploy/README.md: dagster instance concurrency set cleanlist_api 2


def _step_intervals(instance: Any, run_id: str) -> list[tuple[float, float, str]]:
    import dagster as dg

    starts: dict[str, float] = {}
    out = []
    records = instance.get_records_for_run(
        run_id,
        of_type={
            dg.DagsterEventType.STEP_START,
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
            dg.DagsterEventType.STEP_UP_FOR_RETRY,
        },
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        key = event.step_key
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[key] = record.event_log_entry.timestamp
        elif key in starts:
            out.append((starts.pop(key), record.event_log_entry.timestamp, f"{run_id[:8]}:{key}"))
    return out


def _max_overlap(intervals: list[tuple[float, float, str]]) -> int:
    edges = sorted(
        [(s, 1) for s, _, _ in intervals] + [(e, -1) for _, e, _ in intervals],
        key=lambda x: (x[0], x[1]),
    )
    now = best = 0
    for _, delta in edges:
        now += delta
        best = max(best, now)
    return best


@pytest.mark.slow
def test_two_partitions_on_postgres_share_the_pool_and_the_rate_limit(
    postgres_server: PostgresServer, postgres_url: str, tmp_path: Path
) -> None:
    import dagster as dg

    db_name = postgres_url.rsplit("/", 1)[1]
    (tmp_path / "sandbox").mkdir()
    with sandbox_process(tmp_path / "sandbox", rpm_key=RPM, rpm_org=0) as sandbox:
        deployment = Deployment(
            root=tmp_path / "deploy",
            base_url=sandbox.v2,
            api_key=sandbox.key,
            list_name="Scale-out proof",
            dagster_yaml=(REPO / "deploy" / "dagster.yaml").read_text(),
            extra_env={
                "DAGSTER_PG_HOST": postgres_server.host,
                "DAGSTER_PG_PORT": str(postgres_server.port),
                "DAGSTER_PG_DB": db_name,
                "DAGSTER_PG_USERNAME": postgres_server.user,
                "DAGSTER_PG_PASSWORD": "",
                "DAGSTER_COMPUTE_LOG_DIR": str(tmp_path / "compute-logs"),
            },
            # The client configured like the key: RPM per key; the org limit is off in the
            # sandbox, keep it out of the way here too.
            resource_config={"rate_limit_per_key": RPM, "rate_limit_per_org": 10 * RPM},
        )
        # Each import takes 2 s at the API, so API steps of both runs are in flight for long
        # stretches: without the pool, four would overlap (two runs, two processes each).
        sandbox.admin(
            "POST",
            "/faults",
            json={
                "seed": 1,
                "rules": [{"method": "POST", "path": "csv-import", "latency_ms": 2000}],
            },
        )
        keys = [
            deployment.add_drop(f"scale/{name}.csv", csv_bytes(lead_rows(ROWS, tag=name)))
            for name in ("p1", "p2")
        ]
        with deployment.instance() as instance:
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        # The deployment step deploy/README.md prescribes, with Dagster's own CLI.
        done = subprocess.run(
            [
                str(Path(sys.executable).with_name("dagster")),
                "instance",
                "concurrency",
                "set",
                "cleanlist_api",
                str(POOL_LIMIT),
            ],
            env=deployment.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]

        started = time.monotonic()
        spawned = [
            deployment.spawn(key, config={"max_rows_per_chunk": ROWS_PER_CHUNK}, multiprocess=True)
            for key in keys
        ]
        outcomes = []
        try:
            for proc, out, err in spawned:
                proc.wait(300)
                outcomes.append(
                    parse_outcome(proc.returncode, out, err, time.monotonic() - started)
                )
        finally:
            for proc, _, _ in spawned:
                if proc.poll() is None:
                    kill_group(proc)
        for outcome in outcomes:
            assert outcome.success, outcome.failure_text

        ledger = sandbox.ledger()
        # The sandbox never had to refuse a request, and never counted more than RPM in a minute.
        assert ledger["rate_limited"] == {}, ledger["rate_limited"]
        per_minute = [
            n for buckets in ledger["requests_per_minute"].values() for n in buckets.values()
        ]
        assert per_minute and max(per_minute) <= RPM, ledger["requests_per_minute"]
        total = sum(ledger["requests"].values())
        assert total > RPM, f"only {total} requests: the limiter was never needed"

        ((list_id, info),) = [
            (k, v) for k, v in ledger["lists"].items() if v["name"] == deployment.list_name
        ]
        assert info["lead_count"] == 2 * ROWS
        ids = list_lead_ids(sandbox.v2, sandbox.key, list_id)
        assert len(ids) == len(set(ids)) == 2 * ROWS

        with deployment.instance() as instance:
            intervals = []
            spans = []
            for outcome in outcomes:
                steps = [
                    i
                    for i in _step_intervals(instance, outcome.run_id)
                    if "import_chunk" in i[2] or "plan_drop" in i[2]
                ]
                assert len(steps) == 1 + ROWS // ROWS_PER_CHUNK, steps
                intervals += steps
                spans.append((min(s for s, _, _ in steps), max(e for _, e, _ in steps)))
                run = instance.get_run_by_id(outcome.run_id)
                assert run.status == dg.DagsterRunStatus.SUCCESS
            info_pool = instance.event_log_storage.get_concurrency_info("cleanlist_api")
        assert info_pool.slot_count == POOL_LIMIT
        assert _max_overlap(intervals) <= POOL_LIMIT, sorted(intervals)
        # Both partitions were importing at the same time (their step spans overlap).
        (a0, a1), (b0, b1) = spans
        assert a0 < b1 and b0 < a1, spans
