"""`status` and `plan` name the scopes the key lacks and what that disables; a key without
`credits:read` no longer makes `status` fail, and `plan` still sends no drop data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cleanlist_pipeline.api.scopes import CONNECTOR_SCOPES
from cleanlist_pipeline.cli import main

HEADER = "first_name,last_name,email,company_name,job_title\n"


@pytest.fixture
def cli_env(tmp_path: Path, cleanlist_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's environment pointed at the sandbox process; returns a drop folder."""
    for name in [k for k in os.environ if k.startswith("CLEANLIST_")]:
        monkeypatch.delenv(name)
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("CLEANLIST_BASE_URL", cleanlist_sandbox.v2)
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "leads.csv").write_text(HEADER + "Ann,Lee,ann.lee@example.com,Acme,CEO\n")
    return drops


def _key_without(sandbox: Any, *scopes: str) -> str:
    return str(sandbox.add_key([s for s in CONNECTOR_SCOPES if s not in scopes]))


def _invoke(args: list[str], key: str, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.setenv("CLEANLIST_API_KEY", key)
    return CliRunner().invoke(main, args)


def test_status_with_a_key_without_credits_read_succeeds_and_says_what_is_disabled(
    cli_env: Path, cleanlist_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _key_without(cleanlist_sandbox, "credits:read")
    result = _invoke(["status", "--drops", str(cli_env)], key, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "API check FAILED" not in result.output
    assert "missing scopes:" in result.output
    assert "credits:read — disables the spend guard's quote" in result.output
    assert "balance:" not in result.output
    assert "leads.csv: not imported" in result.output
    assert key not in result.output


def test_status_lists_every_missing_scope_and_none_for_a_full_key(
    cli_env: Path, cleanlist_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _key_without(cleanlist_sandbox, "lists:read", "enrich:read")
    lacking = _invoke(["status", "--drops", str(cli_env)], key, monkeypatch)
    assert lacking.exit_code == 0, lacking.output
    assert "lists:read — disables snapshots" in lacking.output
    assert "enrich:read — disables watching enrichment workflows" in lacking.output
    assert "lists:write —" not in lacking.output

    full = _invoke(["status", "--drops", str(cli_env)], cleanlist_sandbox.key, monkeypatch)
    assert full.exit_code == 0, full.output
    assert "missing scopes: none" in full.output
    assert "balance:" in full.output


def test_plan_says_a_key_without_credits_read_makes_max_credits_refuse_and_sends_no_data(
    cli_env: Path, cleanlist_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _key_without(cleanlist_sandbox, "credits:read", "lists:write")
    monkeypatch.setenv("CLEANLIST_ENRICHMENT_TYPE", "partial")
    monkeypatch.setenv("CLEANLIST_MAX_CREDITS", "100")
    before = dict(cleanlist_sandbox.ledger()["requests"])
    result = _invoke(["plan", "--drops", str(cli_env)], key, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "credits:read — disables the spend guard's quote" in result.output
    assert "with max_credits=100 the import would be refused" in result.output
    assert "importing would fail: the key lacks 'lists:write'" in result.output
    after = cleanlist_sandbox.ledger()["requests"]
    sent = {route: n - before.get(route, 0) for route, n in after.items()}
    assert {route for route, n in sent.items() if n} == {"GET /whoami"}


def test_plan_without_max_credits_says_the_enrichment_goes_unquoted(
    cli_env: Path, cleanlist_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _key_without(cleanlist_sandbox, "credits:read")
    monkeypatch.setenv("CLEANLIST_ENRICHMENT_TYPE", "full")
    result = _invoke(["plan", "--drops", str(cli_env)], key, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "the enrichment would be dispatched unquoted" in result.output
    assert "importing would fail" not in result.output
