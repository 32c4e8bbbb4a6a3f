"""Flags become one Settings on top of the environment; `status` reads drops and pending work
from the event log; the CLI keeps its Dagster instance where the settings say."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cleanlist_pipeline.cli import main

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "cleanlist-pipeline"
SAMPLE = REPO / "sample_data" / "drops" / "2025-01-acme-webinar.csv"


def _run(args: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=300, cwd=cwd
    )


def _env(tmp_path: Path, sandbox: Any) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANLIST_")}
    env.update(DAGSTER_HOME=str(home), CLEANLIST_API_KEY=sandbox.key, CLEANLIST_BASE_URL=sandbox.v2)
    return env


def _small_drop(folder: Path, rows: int = 40) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)[: rows + 1]
    drop = folder / "webinar.csv"
    drop.write_text("".join(lines), encoding="utf-8")
    return drop


def test_run_imports_into_the_flag_list_and_status_follows_the_drop(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    drops = tmp_path / "drops"
    drop = _small_drop(drops)
    env = _env(tmp_path, cleanlist_sandbox)
    # The environment names another list; --list-name replaces that choice as a whole.
    env["CLEANLIST_LIST_ID"] = "list-from-the-environment"
    done = _run(
        ["run", "--drops", str(drops), "--list-name", "CLI run", "--data-dir", str(tmp_path / "d")],
        env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "every row accounted for" in done.stdout
    (list_id,) = re.findall(r"^list (\S+)$", done.stdout, flags=re.MULTILINE)
    assert list_id != "list-from-the-environment"
    assert cleanlist_sandbox.imports(list_id), "the drop went to the list named by the flag"

    status = _run(["status", "--drops", str(drops)], env)
    assert status.returncode == 0, status.stderr[-2000:]
    assert re.search(r"webinar\.csv: imported: \d+ rows in 1 chunk\(s\)", status.stdout)

    with drop.open("a", encoding="utf-8") as f:
        f.write("Late,Entry,late.entry@example.com,Example,example.com,CEO,,Canada\n")
    changed = _run(["status", "--drops", str(drops)], env)
    assert "webinar.csv: CHANGED since its last import" in changed.stdout


def test_status_lists_a_workflow_no_sensor_has_polled_yet(
    tmp_path: Path, cleanlist_sandbox: Any
) -> None:
    list_id = cleanlist_sandbox.seed_list("CLI pending", 50)
    env = _env(tmp_path, cleanlist_sandbox)
    enrich = _run(["enrich", "--list-id", list_id, "--type", "partial", "--no-wait"], env)
    assert enrich.returncode == 0, enrich.stderr[-2000:]
    (workflow_id,) = cleanlist_sandbox.ledger()["workflows"]
    status = _run(["status"], env)
    assert "pending enrichment workflows:" in status.stdout
    assert f"{workflow_id} (list {list_id}, enrich-later)" in status.stdout


def test_a_command_reads_the_environment_and_writes_none_of_it(
    tmp_path: Path, cleanlist_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without DAGSTER_HOME the instance lives in the per-user state directory, and nothing
    the command does (flags included) is written back into the process environment."""
    for name in [k for k in os.environ if k.startswith("CLEANLIST_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("CLEANLIST_API_KEY", cleanlist_sandbox.key)
    monkeypatch.setenv("CLEANLIST_BASE_URL", cleanlist_sandbox.v2)
    monkeypatch.chdir(tmp_path)
    drops = tmp_path / "drops"
    _small_drop(drops)
    before = dict(os.environ)

    result = CliRunner().invoke(main, ["status", "--drops", str(drops)])

    assert result.exit_code == 0, result.output
    assert "webinar.csv: not imported" in result.output
    assert dict(os.environ) == before
    instance_dir = tmp_path / "state" / "cleanlist-pipeline"
    assert f"DAGSTER_HOME is not set; the Dagster instance is in {instance_dir}" in result.output
    assert (instance_dir / "history").is_dir() or (instance_dir / "storage").is_dir()
    assert not (tmp_path / ".dagster_home").exists()
    shutil.rmtree(tmp_path / "state", ignore_errors=True)
