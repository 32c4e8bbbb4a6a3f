"""The same import runs with one process per step (``multiprocess`` executor config), as a
scale-out deployment would: steps rebuild the definitions from the environment in each process,
hand each other small payloads through the configured IO manager, and read their chunk's bytes
from the drop itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from tests.dagster_helpers import run_import_in_processes

from .conftest import HEADER, lead_rows

pytestmark = pytest.mark.slow

ROWS = 1300  # 3 chunks


def test_multiprocess_import_lands_every_record_once(
    cleanlist_sandbox: Any,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "mp.csv").write_text(HEADER + lead_rows(ROWS, pad=40))
    io_dir = tmp_path / "shared-io"
    for name, value in {
        "CLEANLIST_API_KEY": cleanlist_sandbox.key,
        "CLEANLIST_BASE_URL": cleanlist_sandbox.v1,
        "CLEANLIST_DROPS_DIR": str(drops),
        "CLEANLIST_DATA_DIR": str(tmp_path / "data"),
        "CLEANLIST_LIST_NAME": "multiprocess",
        "CLEANLIST_TEST_IO_DIR": str(io_dir),
    }.items():
        monkeypatch.setenv(name, value)

    run = run_import_in_processes(instance, "mp.csv")
    assert run.success

    lists = cleanlist_sandbox.ledger()["lists"].values()
    assert [v["lead_count"] for v in lists if v["name"] == "multiprocess"] == [ROWS]
    assert len(run.succeeded_steps) >= 6  # plan, 3 chunks, report, checks
    print(f"multiprocess run: {run.seconds:.1f} s for {len(run.succeeded_steps)} steps")

    # Every step output went through the configured IO manager's base dir, none to the
    # instance's local storage (which the default IO manager would use)...
    written = [p for p in io_dir.rglob("*") if p.is_file()]
    assert written, "nothing was written under the configured IO-manager base dir"
    local_storage = Path(instance.root_directory) / "storage"
    assert not [p for p in local_storage.rglob("*") if "cleanlist_csv_import" in str(p)]
    # ...and the chunk payloads name their chunk by manifest instead of carrying its rows: no
    # lead's data is in them, and each is a small fraction of the drop it describes.
    drop_size = (drops / "mp.csv").stat().st_size
    tasks = [p for p in written if "chunk_" in str(p) and "plan_drop" in str(p)]
    assert len(tasks) == 3, [str(p.relative_to(io_dir)) for p in written]
    for task in tasks:
        payload = task.read_bytes()
        assert b"@example.com" not in payload and b"Engineerxxxx" not in payload
        assert len(payload) < drop_size / 10, (task.name, len(payload), drop_size)
