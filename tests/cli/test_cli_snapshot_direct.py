"""`cleanlist-pipeline snapshot` as a user runs it: the file it writes directly, without a Dagster
run, and `--record`, which runs the `leads_snapshot` asset on the instance instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "cleanlist-pipeline"

#: Runs the command in-process with an exit hook that reports which heavy modules got imported.
_WITH_MODULE_REPORT = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('IMPORTED dagster=%s pandas=%s' % ("
    "'dagster' in sys.modules, 'pandas' in sys.modules), file=sys.stderr))\n"
    "from cleanlist_pipeline.cli import main\n"
    "sys.argv = ['cleanlist-pipeline', *sys.argv[1:]]\n"
    "main()\n"
)


def _env(tmp_path: Path, sandbox: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANLIST_")}
    env["DAGSTER_HOME"] = str(tmp_path / "dagster_home")
    env["CLEANLIST_API_KEY"] = sandbox.key
    env["CLEANLIST_BASE_URL"] = sandbox.v2
    env.update(extra)
    return env


def _snapshot(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITH_MODULE_REPORT, "snapshot", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )


def test_snapshot_writes_every_lead_once_typed_and_compressed_without_dagster_or_pandas(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("direct snapshot", 2600, enriched_fraction=0.5)
    data = tmp_path / "data"
    done = _snapshot(
        ["--list-id", list_id, "--data-dir", str(data)], _env(tmp_path, cleanlist_sandbox)
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "IMPORTED dagster=False pandas=False" in done.stderr
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.is_relative_to(data) and f"list_id={list_id}" in str(path)
    table = pq.read_table(path)
    assert table.num_rows == 2600
    assert pc.count_distinct(table.column("lead_id")).as_py() == 2600
    assert str(table.schema.field("snapshot_at").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("email").type) == "string"
    meta = pq.ParquetFile(path).metadata
    assert meta.row_group(0).column(0).compression != "UNCOMPRESSED"
    assert "2600 leads" in done.stderr
    assert "6/6 pages" in done.stderr  # the progress line's last count
    assert cleanlist_sandbox.key not in done.stdout + done.stderr


def test_a_failure_mid_list_exits_1_and_keeps_the_earlier_snapshot(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("direct snapshot, failing", 1500)
    data = tmp_path / "data"
    env = _env(tmp_path, cleanlist_sandbox)
    first = _snapshot(["--list-id", list_id, "--data-dir", str(data)], env)
    assert first.returncode == 0, first.stderr[-2000:]
    path = Path(first.stdout.strip().splitlines()[-1])
    before = path.read_bytes()

    # Every page request now fails, retries included (get_list still answers): the writer has
    # opened its temporary file when the error comes.
    cleanlist_sandbox.set_faults(
        [{"method": "GET", "path": "/leads", "p_503": 1.0, "retry_after_s": 0.01}]
    )
    failed = _snapshot(["--list-id", list_id, "--data-dir", str(data)], env)
    assert failed.returncode == 1
    assert f"snapshot of list {list_id} failed" in failed.stderr
    assert "503" in failed.stderr
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["leads.parquet"]


def test_record_runs_the_asset_on_the_instance(tmp_path: Path, cleanlist_sandbox: Any) -> None:
    import dagster as dg

    list_id = cleanlist_sandbox.seed_list("recorded snapshot", 300)
    data = tmp_path / "data"
    env = _env(tmp_path, cleanlist_sandbox)
    (tmp_path / "dagster_home").mkdir()
    done = _snapshot(["--list-id", list_id, "--data-dir", str(data), "--record"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "IMPORTED dagster=True" in done.stderr
    assert pq.ParquetFile(done.stdout.strip().splitlines()[-1]).metadata.num_rows == 300
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "dagster_home")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("leads_snapshot"))
    assert event is not None and event.asset_materialization is not None
    assert event.asset_materialization.partition == list_id
