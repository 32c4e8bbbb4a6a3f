"""A run SIGKILLed (whole process group) after some chunks imported, then resumed.

The run is a real subprocess with the multiprocess executor; the kill hits the run's process and
its step children at once, as an OOM kill or a lost node would. Nothing in the run gets a chance
to clean up. After the run is marked failed (as run monitoring does), re-executing from failure
with the parent's tags, and then re-running the whole partition, must both finish with the list
holding every row exactly once.
"""

from __future__ import annotations

import pytest

from cleanlist_pipeline.testing import SandboxHandle

from .harness import (
    Deployment,
    csv_bytes,
    find_list,
    kill_group,
    lead_rows,
    list_emails,
    list_lead_ids,
    wait_for,
)

ROWS = 400
ROWS_PER_CHUNK = 100  # → 4 chunks


def _imports_for(sandbox: SandboxHandle, name: str) -> list[dict]:
    lists = sandbox.ledger()["lists"]
    ids = [lid for lid, info in lists.items() if info["name"] == name]
    return sandbox.imports(ids[0]) if ids else []


@pytest.mark.slow
def test_killed_run_resumes_from_failure_and_reruns_without_duplicates(
    deployment: Deployment, cleanlist_sandbox: SandboxHandle
) -> None:
    import dagster as dg

    rows = lead_rows(ROWS, tag="k")
    partition = deployment.add_drop("crash/leads.csv", csv_bytes(rows))
    # Slow imports down so the kill lands mid-run, with chunks both done and in flight.
    cleanlist_sandbox.set_faults([{"method": "POST", "path": "csv-import", "latency_ms": 1500}])

    proc, _out, err = deployment.spawn(
        partition, config={"max_rows_per_chunk": ROWS_PER_CHUNK}, multiprocess=True
    )
    try:
        wait_for(
            lambda: len(_imports_for(cleanlist_sandbox, deployment.list_name)) >= 1,
            timeout=120,
            what="the first chunk import",
            interval=0.05,
        )
    finally:
        kill_group(proc)
    before = _imports_for(cleanlist_sandbox, deployment.list_name)
    assert 1 <= len(before) < ROWS // ROWS_PER_CHUNK, (
        f"the kill must land mid-run; sandbox saw {len(before)} imports. stderr: "
        f"{err.read_text(errors='replace')[-2000:]}"
    )
    cleanlist_sandbox.clear_faults()

    with deployment.instance() as instance:
        runs = instance.get_runs()
        assert len(runs) == 1
        killed = runs[0]
        assert killed.tags.get("dagster/partition") == partition
        # Nobody told Dagster the run died: it still looks alive until monitoring notices.
        assert killed.status == dg.DagsterRunStatus.STARTED
        instance.report_run_failed(killed)
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE

    problems: list[str] = []
    # The killed run needed the multiprocess executor (step children outliving their parent is
    # the hard case); resuming in-process is what a quick manual fix does, and it is faster.
    resumed = deployment.run(reexecute_from=killed.run_id)
    assert resumed.success, resumed.failure_text
    with deployment.instance() as instance:
        run = instance.get_run_by_id(resumed.run_id)
        assert run.parent_run_id == killed.run_id
        assert run.tags.get("dagster/partition") == partition
    list_id, _ = find_list(cleanlist_sandbox.ledger(), deployment.list_name)
    problems += _list_problems("after re-execution from failure", cleanlist_sandbox, list_id, rows)

    # A full re-run of the partition (what a backfill or a click on "Materialize" does).
    again = deployment.run(partition, config={"max_rows_per_chunk": ROWS_PER_CHUNK})
    assert again.success, again.failure_text
    problems += _list_problems("after the full re-run", cleanlist_sandbox, list_id, rows)
    executed: dict[str, int] = {}
    for item in cleanlist_sandbox.imports(list_id):
        if not item["replayed"]:
            key = item["idempotency_key_hash"]
            executed[key] = executed.get(key, 0) + 1
    if len(executed) != ROWS // ROWS_PER_CHUNK or set(executed.values()) != {1}:
        problems.append(f"executed imports per chunk key: {executed}")
    assert not problems, "\n".join(problems)


def _list_problems(when: str, sandbox: SandboxHandle, list_id: str, rows: list[dict]) -> list[str]:
    """What is wrong with the list's content compared with the drop (empty: nothing)."""
    problems = []
    emails = list_emails(sandbox.v2, sandbox.key, list_id)
    expected = {r["email"] for r in rows}
    missing = expected - set(emails)
    if missing:
        problems.append(f"{when}: {len(missing)} of {len(rows)} rows missing from the list")
    if len(emails) != len(set(emails)):
        problems.append(f"{when}: {len(emails) - len(set(emails))} duplicate rows in the list")
    ids = list_lead_ids(sandbox.v2, sandbox.key, list_id)
    if len(ids) != len(set(ids)):
        problems.append(f"{when}: duplicate lead ids")
    count = sandbox.ledger()["lists"][list_id]["lead_count"]
    if count != len(rows):
        problems.append(f"{when}: lead_count {count}, expected {len(rows)}")
    return problems
