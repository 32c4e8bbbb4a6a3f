"""One `Settings` from the environment and CLI flags: what a user sets is what runs."""

from __future__ import annotations

import pytest

from cleanlist_pipeline.cli.setup import cli_settings
from cleanlist_pipeline.settings import SettingsError, settings_from_env


def test_a_flag_not_given_keeps_the_environments_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEANLIST_DATA_DIR", "/srv/lake")
    monkeypatch.setenv("CLEANLIST_ENRICHMENT_TYPE", "partial")
    monkeypatch.setenv("CLEANLIST_MAX_CREDITS", "500")
    settings = cli_settings(data_dir=None, enrichment_type=None, max_credits=None)
    assert settings.data_dir == "/srv/lake"
    assert settings.enrichment_type == "partial" and settings.max_credits == 500
    assert cli_settings(data_dir="/tmp/other").data_dir == "/tmp/other"


def test_a_list_flag_replaces_the_environments_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEANLIST_LIST_ID", "list-from-env")
    settings = cli_settings(list_name="Inbound")
    assert settings.list_name == "Inbound" and settings.list_id is None


def test_bad_numbers_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="CLEANLIST_MAX_CREDITS must be a whole number"):
        settings_from_env({"CLEANLIST_MAX_CREDITS": "lots"})
    with pytest.raises(SettingsError, match="CLEANLIST_SANDBOX_ENRICH_SECONDS must be a number"):
        settings_from_env({"CLEANLIST_SANDBOX_ENRICH_SECONDS": "soon"})
    assert (
        settings_from_env({"CLEANLIST_SANDBOX_ENRICH_SECONDS": "1.5"}).sandbox_enrich_seconds == 1.5
    )
