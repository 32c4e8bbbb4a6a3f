"""A backfill over sample drops, launched through a running ``dagster dev``'s GraphQL API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from cleanlist_pipeline.dagster_layer.backfill import launch_drops_backfill, wait_for_backfill
from cleanlist_pipeline.dagster_layer.drops import scan_drops
from cleanlist_pipeline.settings import settings_from_env as load_settings
from tests.dagster_helpers import DEFAULT_NAMES

from .conftest import REPO

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_backfill_of_sample_drops_completes(
    cleanlist_sandbox: Any, sample_drops: Path, tmp_path: Path
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    # Three small drops (one with a mapping sidecar) prove the backfill machinery; every chunk
    # is a step process of its own, so the 1.3 MB export alone would add minutes on 2 cores.
    for big in (
        "2025-02-trade-show-badges.csv",
        "2025-04-crm-export.csv",
        "2025-05-research-notes.csv",
    ):
        (sample_drops / big).unlink()
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CLEANLIST_API_KEY": cleanlist_sandbox.key,
        "CLEANLIST_BASE_URL": cleanlist_sandbox.v1,
        "CLEANLIST_DROPS_DIR": str(sample_drops),
        "CLEANLIST_DATA_DIR": str(tmp_path / "data"),
        "CLEANLIST_LIST_NAME": "backfill test",
        "CLEANLIST_NAMESPACE": "backfill-test",
        # this test is about the backfill machinery, not the request budget (proved by the
        # rate-limit tests and benchmarks/bench_budget.py)
        "CLEANLIST_RATE_LIMIT_PER_KEY": "0",
        "CLEANLIST_RATE_LIMIT_PER_ORG": "0",
    }
    dagster = str(Path(sys.executable).parent / "dagster")
    log = (tmp_path / "dagster-dev.log").open("wb")
    proc = subprocess.Popen(
        [
            dagster,
            "dev",
            "-w",
            str(REPO / "dagster_workspace.yaml"),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "dagster-dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "dagster dev did not come up"
            time.sleep(1)

        settings = load_settings(env)
        # max_credits travels as the runs' config (the backfill-wide budget); import-only
        # runs spend nothing, so it only has to be accepted.
        launch = launch_drops_backfill(url, settings, max_credits=1_000_000)
        keys = [d.key for d in scan_drops(sample_drops)]
        assert sorted(launch.partitions) == sorted(keys)

        status = wait_for_backfill(url, launch.backfill_id, timeout=400)
        assert status in ("COMPLETED", "COMPLETED_SUCCESS"), status
        lists = cleanlist_sandbox.ledger()["lists"]
        imported = [v for v in lists.values() if v["name"] == "backfill test"]
        assert imported and imported[0]["lead_count"] > 0
        assert imported[0]["imports_executed"] >= len(keys)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            for key in keys:
                records = instance.fetch_materializations(
                    dg.AssetRecordsFilter(
                        asset_key=DEFAULT_NAMES.import_asset, asset_partitions=[key]
                    ),
                    limit=1,
                ).records
                assert records, f"{key} was not materialized by the backfill"
                run = instance.get_run_by_id(records[0].run_id)
                assert run is not None and run.tags.get("dagster/backfill") == launch.backfill_id
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
