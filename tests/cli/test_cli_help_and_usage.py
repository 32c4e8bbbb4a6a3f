"""`cleanlist-pipeline --help` on every command, and exit status 2 on usage errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cleanlist_pipeline.cli import main

COMMANDS = ["run", "demo", "plan", "backfill", "enrich", "snapshot", "status"]
SCRIPT = Path(sys.executable).parent / "cleanlist-pipeline"


def test_top_level_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: main {command}" in result.output or f"{command} [OPTIONS]" in result.output


def test_run_help_names_its_options() -> None:
    output = CliRunner().invoke(main, ["run", "--help"]).output
    for option in (
        "--drops",
        "--list-name",
        "--enrichment",
        "--max-credits",
        "--mapping",
        "--data-dir",
    ):
        assert option in output
    assert "partial|phone_only|full" in output


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--list-name", "x"],  # --drops missing
        ["run", "--drops", "/does/not/exist", "--list-name", "x"],
        ["enrich", "--list-id", "L1", "--type", "everything"],
        ["enrich", "--list-id", "L1", "--type", "full", "--max-credits", "-5"],
        ["snapshot"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output


def test_a_mapping_file_that_is_not_a_json_object_is_a_usage_error(tmp_path: Path) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    mapping = tmp_path / "mapping.json"
    mapping.write_text('["email"]')
    result = CliRunner().invoke(
        main, ["run", "--drops", str(drops), "--list-name", "x", "--mapping", str(mapping)]
    )
    assert result.exit_code == 2
    assert "--mapping" in result.output


def test_demo_refuses_a_real_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEANLIST_API_KEY", "clapi_not_a_real_key")
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 2
    assert "embedded sandbox" in result.output


def test_the_installed_console_script_runs_and_reports_usage_errors_with_2() -> None:
    ok = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "snapshot" in ok.stdout
    bad = subprocess.run([str(SCRIPT), "snapshot"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "--list-id" in bad.stderr
