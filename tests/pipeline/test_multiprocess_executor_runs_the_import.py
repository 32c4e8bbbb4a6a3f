"""The same import runs with one process per step (``multiprocess`` executor config), as a
scale-out deployment would: steps rebuild the definitions from the environment in each process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from tests.dagster_helpers import run_import_in_processes

from .conftest import HEADER, lead_rows

pytestmark = pytest.mark.slow


def test_multiprocess_import_lands_every_record_once(
    cleanlist_sandbox: Any,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "mp.csv").write_text(HEADER + lead_rows(1300))  # 3 chunks
    for name, value in {
        "CLEANLIST_API_KEY": cleanlist_sandbox.key,
        "CLEANLIST_BASE_URL": cleanlist_sandbox.v1,
        "CLEANLIST_DROPS_DIR": str(drops),
        "CLEANLIST_DATA_DIR": str(tmp_path / "data"),
        "CLEANLIST_LIST_NAME": "multiprocess",
    }.items():
        monkeypatch.setenv(name, value)

    run = run_import_in_processes(instance, "mp.csv")
    assert run.success

    lists = cleanlist_sandbox.ledger()["lists"].values()
    assert [v["lead_count"] for v in lists if v["name"] == "multiprocess"] == [1300]
    assert len(run.succeeded_steps) >= 6  # plan, 3 chunks, report, checks
    print(f"multiprocess run: {run.seconds:.1f} s for {len(run.succeeded_steps)} steps")
