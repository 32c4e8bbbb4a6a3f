"""Re-executing a failed import run from failure redoes only the failed chunk steps (Dagster's
own re-execution), and the list ends with every row once."""

from __future__ import annotations

import dagster as dg
import pytest

from tests.dagster_helpers import reconstructable_job

from .conftest import HEADER, Pipeline, failure_message, lead_rows
from .test_failed_run_keeps_its_ledger import CALLS, FailingResource

pytestmark = pytest.mark.slow


def test_reexecution_from_failure_imports_only_the_failed_chunks(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = pipeline
    (p.drops / "re.csv").write_text(HEADER + lead_rows(1800))  # 3 chunks of 600
    CALLS["csv_import"] = 0
    failed = p.run(
        "re.csv",
        {"step_retry_seconds": 0},
        resource=FailingResource(**p.resource_kwargs, ok_imports=1),
    )
    assert not failed.success and p.lead_count() == 600

    for name, value in {
        "CLEANLIST_API_KEY": p.sandbox.key,
        "CLEANLIST_BASE_URL": p.sandbox.v1,
        "CLEANLIST_DROPS_DIR": str(p.drops),
        "CLEANLIST_DATA_DIR": p.settings.data_dir,
        "CLEANLIST_LIST_NAME": p.settings.list_name or "",
        "CLEANLIST_NAMESPACE": p.settings.namespace,
    }.items():
        monkeypatch.setenv(name, value)
    job = reconstructable_job("tests.env_definitions", "cleanlist_import_job")
    requests = p.csv_requests()
    options = dg.ReexecutionOptions.from_failure(failed.run_id, p.instance)
    with dg.execute_job(job, instance=p.instance, reexecution_options=options) as result:
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        executed = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert not any("chunk_0]" in step for step in executed)  # succeeded before: not redone
    assert {
        "cleanlist_csv_import.import_chunk[chunk_1]",
        "cleanlist_csv_import.import_chunk[chunk_2]",
    } <= executed
    assert p.csv_requests() == requests + 2
    assert p.lead_count() == 1800
    assert "did not answer" in failure_message(failed)
