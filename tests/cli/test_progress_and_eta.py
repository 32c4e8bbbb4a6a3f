"""How long it will take, before and during: `plan`'s request estimate, the CLI's progress
(a live bar on a terminal, plain periodic lines elsewhere) and the import run's own log lines
and expected-vs-actual request metadata."""

from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import dagster as dg
import pytest

from cleanlist_pipeline.cli.progress import Progress
from cleanlist_pipeline.contract import LEADS_PAGE_SIZE_MAX, RATE_LIMIT_PER_KEY
from cleanlist_pipeline.dagster_layer.csv_import import build_import_definitions
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.settings import Settings
from tests.dagster_helpers import materialization

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "cleanlist-pipeline"
DROPS = REPO / "sample_data" / "drops"
HEADER = "first_name,last_name,email,company_name,job_title\n"


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, as a shell's stdout does."""

    def isatty(self) -> bool:
        return True


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _drop(folder: Path, name: str, rows: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = HEADER + "".join(
        f"First{i},Last{i},person{i}@example.com,Company {i % 97},Engineer\n" for i in range(rows)
    )
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def _env(tmp_path: Path, sandbox: Any | None = None) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANLIST_")}
    env["DAGSTER_HOME"] = str(home)
    env["CLEANLIST_DATA_DIR"] = str(tmp_path / "data")
    if sandbox is not None:
        env["CLEANLIST_API_KEY"] = sandbox.key
        env["CLEANLIST_BASE_URL"] = sandbox.v1
        env["CLEANLIST_RATE_LIMIT_PER_KEY"] = "0"
    return env


# --- the progress display ----------------------------------------------------------------------


def test_progress_on_a_terminal_draws_a_live_bar_with_rate_and_eta() -> None:
    stream, clock = _Terminal(), _Clock()
    with Progress("importing big.csv", "chunks", total=1668, stream=stream, clock=clock) as bar:
        clock.now += 60
        bar.update(29)
        clock.now += 60
        bar.update(58)
    out = stream.getvalue()
    assert "\x1b[" in out and "━" in out  # drawn in place by rich, not printed line by line
    assert "importing big.csv" in out
    assert "58/1,668 chunks (3.5%), 29.0/min, ETA 55 min" in out
    assert "importing big.csv: " not in out  # no plain log lines on a terminal


def test_lines_printed_while_a_bar_is_live_go_above_it_not_over_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = _Terminal()
    with Progress("enrichment", "workflows", total=3, stream=stream) as bar:
        bar.update(1)
        click.echo("    tick 1: workflow w1 completed")  # as the sensor's tick lines are printed
        bar.update(3)
    out = stream.getvalue()
    # the bar's line cleared, the line printed whole, the bar drawn again below it
    assert "\r\x1b[2K    tick 1: workflow w1 completed\nenrichment " in out
    assert "3/3 workflows (100.0%)" in out
    assert capsys.readouterr().out == ""


def test_progress_off_a_terminal_prints_plain_lines_every_ten_seconds_and_a_last_one() -> None:
    stream, clock = io.StringIO(), _Clock()
    with Progress("importing big.csv", "chunks", total=1668, stream=stream, clock=clock) as bar:
        for done in range(1, 31):
            clock.now += 2.0  # 30 chunks a minute
            bar.update(done)
    lines = stream.getvalue().splitlines()
    assert "\x1b[" not in stream.getvalue()
    assert lines[0] == "importing big.csv: 5/1,668 chunks (0.3%), 30.0/min, ETA 55 min"
    assert lines[1] == "importing big.csv: 10/1,668 chunks (0.6%), 30.0/min, ETA 55 min"
    assert len(lines) == 7  # at 10, 20 … 60 s, then the last line with the time taken
    assert lines[-1] == "importing big.csv: 30/1,668 chunks (1.8%), 30.0/min, ETA 54 min — 60 s"


def test_progress_leaves_ledger_hits_out_of_the_rate() -> None:
    stream, clock = io.StringIO(), _Clock()
    with Progress("importing a.csv", "chunks", total=100, stream=stream, clock=clock) as bar:
        bar.skip(50)  # found in the ledger: no time spent
        clock.now += 60
        bar.advance(10)
        assert bar.per_minute == 10.0
        assert bar.line() == "importing a.csv: 60/100 chunks (60.0%), 10.0/min, ETA 4 min"


# --- plan: requests and time -------------------------------------------------------------------


def test_plan_prints_each_drops_requests_and_the_time_they_take_at_the_rate_limit(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from cleanlist_pipeline.cli.commands import main

    # the environment's CLEANLIST_* settings unset for the command (None unsets in CliRunner)
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CLEANLIST_")}
    runner = CliRunner()
    args = ["plan", "--drops", str(DROPS), "--enrichment", "full"]
    done = runner.invoke(main, args, env=env)
    assert done.exit_code == 0, done.output
    as_json = runner.invoke(main, [*args, "--json"], env=env)
    items = {i["partition_key"]: i for i in json.loads(as_json.stdout)}
    per_minute = RATE_LIMIT_PER_KEY - 1  # the default safety margin of one request
    out = done.stdout
    assert f"{per_minute:.1f}/min (30 per key, 60 per organization per 60 s" in out
    total = 0
    for key, item in items.items():
        chunks = len(item["chunks"])
        # a list lookup, an estimate, one call per chunk, at least one status poll per workflow
        needed = 1 + 1 + chunks + chunks
        assert item["requests"]["total"] == needed
        seconds = round(needed / per_minute * 60)
        line = next(line for line in out.splitlines() if line.startswith(f"  {key}: "))
        assert line.startswith(f"  {key}: {needed:,} requests ≈ {seconds} s at 29.0/min"), line
        assert f"{chunks} chunk(s)" in line
        total += needed
    crm = items["2025-04-crm-export.csv"]
    assert crm["requests"]["chunks"] == len(crm["chunks"]) >= 12
    rows = sum(i["rows_to_send"] for i in items.values())
    snapshot = 1 + math.ceil(rows / LEADS_PAGE_SIZE_MAX)
    total += snapshot
    assert f"snapshot of the list: {snapshot} requests" in out
    minutes = math.floor(total / per_minute)
    assert f"  total: {total} requests ≈ {minutes} min at 29.0/min" in out


# --- run: periodic progress lines off a terminal -------------------------------------------------


@pytest.mark.slow  # a whole `run` in a subprocess: ~10 s alone, ~20 s on a loaded machine
def test_run_off_a_terminal_prints_periodic_progress_lines(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    drops = tmp_path / "drops"
    _drop(drops, "five-chunks.csv", 5 * 600)  # 600 rows per chunk: five chunks
    # each chunk takes ≥ 0.6 s, so the CLI's event-log reader sees the chunks arrive
    cleanlist_sandbox.set_faults([{"method": "POST", "path": "csv-import", "latency_ms": 600}])
    done = subprocess.run(
        [str(SCRIPT), "run", "--drops", str(drops), "--list-name", "progress test"],
        capture_output=True,
        text=True,
        env=_env(tmp_path, cleanlist_sandbox),
        timeout=180,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("importing five")]
    counts = [int(m.group(1)) for line in lines if (m := re.search(r": (\d)/5 chunks", line))]
    assert len(counts) >= 3, done.stderr  # some while it runs, and the last one
    assert counts == sorted(counts) and counts[-1] == 5
    assert re.search(r"/min, ETA \d+ s$", lines[0]), lines
    assert re.search(r"5/5 chunks \(100\.0%\), [\d.]+/min — \d+ s$", lines[-1]), lines
    snapshot = [line for line in done.stderr.splitlines() if line.startswith("snapshot of list")]
    assert snapshot and snapshot[-1].split(": ")[1].startswith("6/6 pages (100.0%)")
    assert "3000 imported" in done.stdout


# --- the import run's own log and metadata -------------------------------------------------------


def test_import_run_logs_progress_with_eta_and_records_expected_vs_actual_requests(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    drops = tmp_path / "drops"
    _drop(drops, "three.csv", 3 * 600)
    settings = Settings(
        api_key=cleanlist_sandbox.key,
        base_url=cleanlist_sandbox.v1,
        rate_limit_per_key=0,
        state_dir=str(tmp_path / "state"),
        drops_dir=str(drops),
        data_dir=str(tmp_path / "data"),
        list_name="progress log test",
    )
    names = settings.names
    defs = dg.Definitions.merge(
        build_import_definitions(settings),
        dg.Definitions(resources={names.resource: CleanlistResource.from_settings(settings)}),
    )
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        instance.add_dynamic_partitions(names.partitions_drops, ["three.csv"])
        result = defs.resolve_job_def(names.import_job).execute_in_process(
            instance=instance, partition_key="three.csv", raise_on_error=False
        )
        assert result.success
        messages = [e.user_message for e in instance.all_logs(result.run_id)]
        meta = materialization(instance, "three.csv", names.import_asset)
    progress = [m for m in messages if m.startswith("Import progress: ")]
    assert re.fullmatch(
        r"Import progress: 1/3 chunks \(33\.3%\), [\d.]+/min, ETA \d+ s", progress[0]
    )
    assert re.fullmatch(r"Import progress: 3/3 chunks \(100\.0%\), [\d.,]+/min", progress[-1])
    assert (
        "Import of three.csv finished: 3 chunk(s); 4 request(s) made, 4 expected by the plan."
        in messages
    )
    # a list lookup and three chunks; no enrichment, so no estimate
    assert meta["requests_expected"] == 4 and meta["requests_actual"] == 4
    assert meta["requests"]["actual"] == {
        "list_lookup": 1,
        "estimate": 0,
        "csv_import": 3,
        "total": 4,
    }
    assert "Requests: 4 made by the steps, 4 expected by the plan" in meta["report"]
    requests = cleanlist_sandbox.ledger()["requests"]
    assert requests.get("POST /lead-lists/{list_id}/csv-import") == 3
