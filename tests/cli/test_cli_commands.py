"""`plan`, `snapshot` and `status` as a user runs them: the installed script in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "cleanlist-pipeline"
DROPS = REPO / "sample_data" / "drops"


def _run(args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO
    )


def _env(tmp_path: Path, sandbox: Any | None = None) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANLIST_")}
    env["DAGSTER_HOME"] = str(home)
    if sandbox is not None:
        env["CLEANLIST_API_KEY"] = sandbox.key
        env["CLEANLIST_BASE_URL"] = sandbox.v2
    return env


def test_plan_lists_every_drop_with_chunks_rejects_and_credits(tmp_path: Path) -> None:
    done = _run(["plan", "--drops", str(DROPS)], _env(tmp_path))
    assert done.returncode == 0, done.stderr
    for drop in DROPS.glob("*.csv"):
        assert drop.name in done.stdout
    assert "chunk(s)" in done.stdout and "rejected before sending" in done.stdout
    assert "full" in done.stdout and "credits" in done.stdout


def test_plan_as_json_counts_the_big_drop_in_several_chunks(tmp_path: Path) -> None:
    done = _run(["plan", "--drops", str(DROPS), "--json"], _env(tmp_path))
    assert done.returncode == 0, done.stderr
    items = {item["partition_key"]: item for item in json.loads(done.stdout)}
    assert set(items) == {p.name for p in DROPS.glob("*.csv")}
    crm = items["2025-04-crm-export.csv"]
    assert crm["data_records"] == 7000 and len(crm["chunks"]) >= 12


def test_plan_of_an_empty_folder_prints_nothing_and_succeeds(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _run(["plan", "--drops", str(empty), "--json"], _env(tmp_path))
    assert done.returncode == 0 and json.loads(done.stdout) == []


def test_snapshot_prints_the_path_of_a_parquet_file_that_exists(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("CLI snapshot", 1234)
    data = tmp_path / "data"
    done = _run(
        ["snapshot", "--list-id", list_id, "--data-dir", str(data)],
        _env(tmp_path, cleanlist_sandbox),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.exists() and path.is_relative_to(data)
    assert f"list_id={list_id}" in str(path)
    assert pq.ParquetFile(path).metadata.num_rows == 1234


def test_snapshot_of_an_unknown_list_fails_with_exit_1(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    done = _run(
        ["snapshot", "--list-id", "no-such-list", "--data-dir", str(tmp_path / "d")],
        _env(tmp_path, cleanlist_sandbox),
    )
    assert done.returncode == 1
    assert "no-such-list" in done.stderr


def test_status_shows_the_key_scopes_balance_and_drops(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    done = _run(["status", "--drops", str(DROPS)], _env(tmp_path, cleanlist_sandbox))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "scopes:" in done.stdout and "lists:read" in done.stdout
    assert "balance:" in done.stdout
    assert "2025-01-acme-webinar.csv: not imported" in done.stdout
    assert "pending enrichment workflows: none" in done.stdout
    assert cleanlist_sandbox.key not in done.stdout + done.stderr


def test_enrich_dispatches_waits_through_the_sensor_and_snapshots(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("CLI enrich", 600)
    data = tmp_path / "data"
    done = _run(
        [
            "enrich",
            "--list-id",
            list_id,
            "--type",
            "partial",
            "--max-credits",
            "600",
            "--data-dir",
            str(data),
        ],
        _env(tmp_path, cleanlist_sandbox),
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert "dispatched 1 workflow(s) for 600 leads" in done.stdout
    assert "sensor requested the snapshot" in done.stdout
    parquet = next(line.split()[-1] for line in done.stdout.splitlines() if "parquet:" in line)
    assert Path(parquet).exists()
    (workflow,) = cleanlist_sandbox.ledger()["workflows"].values()
    assert f"credits charged {workflow['credits_charged']}" in done.stdout


def test_enrich_over_max_credits_is_refused_with_exit_1(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("CLI guard", 600)
    done = _run(
        ["enrich", "--list-id", list_id, "--type", "full", "--max-credits", "10"],
        _env(tmp_path, cleanlist_sandbox),
    )
    assert done.returncode == 1
    assert "max-credits 10" in done.stderr
    assert cleanlist_sandbox.ledger()["workflows"] == {}
