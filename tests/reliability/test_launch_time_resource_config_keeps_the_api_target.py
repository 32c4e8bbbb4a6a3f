"""Tuning the resource at launch (Launchpad, run config) must not change where data goes.

With ``CLEANLIST_API_KEY`` set the deployment talks to that API. An operator who lowers the
client's rate limit for one run — ``resources: {cleanlist: {config: {rate_limit_per_key: 10}}}``
— must still import into that API, not silently into a local embedded sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from cleanlist_pipeline.testing import SandboxHandle

from .harness import csv_bytes, lead_rows
from .inprocess import InProcessDeployment, environment, failure_message

LIST = "Launch-time config proof"
ROWS = 30


@pytest.fixture
def deployment(cleanlist_sandbox: SandboxHandle, tmp_path: Path) -> Iterator[InProcessDeployment]:
    dep = InProcessDeployment(tmp_path, cleanlist_sandbox.v2, cleanlist_sandbox.key, LIST)
    yield dep
    dep.close()


def test_rate_limit_set_at_launch_still_imports_into_the_configured_api(
    deployment: InProcessDeployment, cleanlist_sandbox: SandboxHandle
) -> None:
    from cleanlist_pipeline.definitions import build_definitions

    deployment.write("tuned.csv", csv_bytes(lead_rows(ROWS, tag="t")))
    deployment.instance.add_dynamic_partitions("csv_drops", ["tuned.csv"])
    with environment(deployment.env):
        job = build_definitions(deployment.settings()).resolve_job_def("cleanlist_import_job")
        result = job.execute_in_process(
            instance=deployment.instance,
            partition_key="tuned.csv",
            raise_on_error=False,
            run_config={"resources": {"cleanlist": {"config": {"rate_limit_per_key": 10}}}},
        )
    assert result.success, failure_message(result)
    lists = {v["name"]: v for v in cleanlist_sandbox.ledger()["lists"].values()}
    assert lists.get(LIST, {}).get("lead_count") == ROWS, (
        "the rows did not reach the API named by CLEANLIST_API_KEY/CLEANLIST_BASE_URL"
    )
    assert not (deployment.home / "cleanlist-sandbox.sqlite").exists(), (
        "an embedded sandbox was started although an API key is configured"
    )
    materialization = (
        deployment.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("cleanlist_csv_import"), asset_partitions=["tuned.csv"]
            ),
            limit=1,
        )
        .records[0]
        .asset_materialization
    )
    assert materialization is not None
    assert materialization.metadata["cleanlist_mode"].value == "api"
