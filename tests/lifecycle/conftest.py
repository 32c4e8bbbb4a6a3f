"""Fixtures: the project's definitions pointed at the sandbox process, on a real instance."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from cleanlist_pipeline.dagster_layer.enrichment import SENSOR_NAME, PollPolicy
from cleanlist_pipeline.dagster_layer.lifecycle import TickReport, tick_sensor
from cleanlist_pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DROPS = REPO / "sample_data" / "drops"
# Short intervals: the sandbox fixture finishes enrichment in ~2 s.
FAST = PollPolicy(max_polls_per_tick=50, time_budget_s=20, min_interval_s=0.3, max_interval_s=1)
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass
class Pipeline:
    """Definitions + instance + folders for one test."""

    defs: dg.Definitions
    instance: dg.DagsterInstance
    drops: Path
    data: Path
    list_name: str
    state_dir: Path
    settings: Settings

    def import_drop(self, key: str, enrichment: str | None = "full") -> dg.ExecuteInProcessResult:
        config: dict[str, Any] = {
            "list_name": self.list_name,
            "dispatch_enrichment": enrichment is not None,
            "enrichment_type": enrichment,
        }
        return self.defs.resolve_job_def("cleanlist_import_job").execute_in_process(
            instance=self.instance,
            partition_key=key,
            run_config={"ops": {"cleanlist_csv_import": {"config": config}}, **QUIET},
        )

    def import_all(self, enrichment: str | None = "full") -> list[dg.ExecuteInProcessResult]:
        keys = sorted(p.name for p in self.drops.glob("*.csv"))
        self.instance.add_dynamic_partitions("csv_drops", keys)
        return [self.import_drop(k, enrichment) for k in keys]

    def tick(self) -> TickReport:
        return tick_sensor(
            self.defs, self.instance, SENSOR_NAME, state_dir=self.state_dir, run_config=QUIET
        )


@pytest.fixture
def pipeline(cleanlist_sandbox: Any, tmp_path: Path) -> Iterator[Pipeline]:
    """The project's import + lifecycle definitions against the sandbox process."""
    from cleanlist_pipeline.dagster_layer.csv_import import build_import_definitions
    from cleanlist_pipeline.dagster_layer.lifecycle import build_lifecycle_definitions
    from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
    from cleanlist_pipeline.settings import settings_from_env

    drops, data, home = tmp_path / "drops", tmp_path / "data", tmp_path / "dagster_home"
    shutil.copytree(SAMPLE_DROPS, drops)
    home.mkdir()
    settings = settings_from_env(
        {
            "CLEANLIST_API_KEY": cleanlist_sandbox.key,
            "CLEANLIST_BASE_URL": cleanlist_sandbox.v2,
            "CLEANLIST_DROPS_DIR": str(drops),
            "CLEANLIST_DATA_DIR": str(data),
            "CLEANLIST_LIST_NAME": "Lifecycle test",
            "DAGSTER_HOME": str(home),
        },
        # The sandbox process has its rate limits off; so does the client here (the sensor's
        # rate budget is covered by test_enrichment_tick_budget.py).
        rate_limit_per_key=0,
    )
    defs = dg.Definitions.merge(
        build_import_definitions(settings),
        build_lifecycle_definitions(settings, poll_policy=FAST),
        dg.Definitions(
            resources={settings.names.resource: CleanlistResource.from_settings(settings)}
        ),
    )
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield Pipeline(defs, instance, drops, data, "Lifecycle test", home, settings)
