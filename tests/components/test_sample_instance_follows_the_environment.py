"""The repo's sample `defs.yaml` instance (what `dg dev` and `make demo` load) behaves as the
environment-configured pipeline always did: embedded defaults with nothing set, and with a real
key no default drops or list and every sensor and the schedule stopped."""

from __future__ import annotations

import dagster as dg
import pytest

from cleanlist_pipeline.cli.setup import sample_instance_settings
from cleanlist_pipeline.definitions import load_project_defs
from cleanlist_pipeline.settings import EMBEDDED_LIST_NAME, REPO_SAMPLE_DROPS

AUTOMATION = ("cleanlist_drop_sensor", "cleanlist_enrichment_sensor")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in ("API_KEY", "BASE_URL", "DROPS_DIR", "LIST_NAME", "LIST_ID", "DATA_DIR"):
        monkeypatch.delenv(f"CLEANLIST_{name}", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))


def test_with_nothing_set_the_sample_instance_runs_the_sample_drops_embedded() -> None:
    settings = sample_instance_settings()
    assert settings.embedded and settings.name is None
    assert settings.drops_dir == str(REPO_SAMPLE_DROPS)
    assert settings.list_name == EMBEDDED_LIST_NAME
    defs = load_project_defs()
    for name in AUTOMATION:
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING
    schedule = defs.resolve_schedule_def("cleanlist_daily_refresh")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_with_a_key_nothing_runs_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEANLIST_API_KEY", "clapi_sample_instance_test")
    settings = sample_instance_settings()
    assert not settings.embedded
    assert settings.drops_dir is None and settings.list_name is None and settings.list_id is None
    assert "clapi_sample_instance_test" not in repr(settings)
    defs = load_project_defs()
    for name in AUTOMATION:
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.STOPPED
    schedule = defs.resolve_schedule_def("cleanlist_daily_refresh")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    resource = defs.resources["cleanlist"]
    assert resource.mode == "api"
    assert "clapi_sample_instance_test" not in repr(resource)
