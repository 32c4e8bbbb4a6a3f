"""Fixtures for the import layer's end-to-end tests: a real Dagster instance in a temp
DAGSTER_HOME, the real sandbox process (``cleanlist_sandbox``), a temp drop folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from cleanlist_pipeline.dagster_layer.csv_import import build_import_definitions
from cleanlist_pipeline.dagster_layer.ledger import iter_ledger
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.settings import Settings
from tests.dagster_helpers import failure_message as failure_message  # the tests here import it
from tests.dagster_helpers import materialization

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DROPS = REPO / "sample_data" / "drops"
LIST_NAME = "pipeline tests"

HEADER = "first_name,last_name,email,company_name,job_title\n"


def lead_rows(n: int, start: int = 0, pad: int = 0) -> str:
    """``n`` distinct, valid lead rows (``pad`` widens the job title to make big chunks)."""
    title = "Engineer" + "x" * pad
    return "".join(
        f"First{i},Last{i},person{i}@example.com,Company {i % 97},{title}\n"
        for i in range(start, start + n)
    )


def write_drop(folder: Path, name: str, body: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(body, str):
        path.write_text(body, encoding="utf-8")
    else:
        path.write_bytes(body)
    return path


@dataclass
class Pipeline:
    """The import layer wired to one instance, one sandbox and one drop folder."""

    instance: dg.DagsterInstance
    sandbox: Any
    settings: Settings
    resource: CleanlistResource
    drops: Path
    resource_kwargs: dict[str, Any] = field(default_factory=dict)
    runs: list[dg.ExecuteInProcessResult] = field(default_factory=list)

    def definitions(self, resource: CleanlistResource | None = None) -> dg.Definitions:
        return dg.Definitions.merge(
            build_import_definitions(self.settings),
            dg.Definitions(resources={self.settings.names.resource: resource or self.resource}),
        )

    def register(self, *keys: str) -> None:
        self.instance.add_dynamic_partitions(self.settings.names.partitions_drops, list(keys))

    def run(
        self,
        key: str,
        config: dict[str, Any] | None = None,
        *,
        tags: dict[str, str] | None = None,
        resource: CleanlistResource | None = None,
    ) -> dg.ExecuteInProcessResult:
        """Materialize one partition (and its checks) in-process; never raises on failure."""
        self.register(key)
        names = self.settings.names
        job = self.definitions(resource).resolve_job_def(names.import_job)
        node = names.import_asset.to_python_identifier()
        run_config = {"ops": {node: {"config": config}}} if config else None
        result = job.execute_in_process(
            instance=self.instance,
            partition_key=key,
            run_config=run_config,
            tags=tags,
            raise_on_error=False,
        )
        self.runs.append(result)
        return result

    def list_id(self) -> str:
        with self.resource.get_client() as client:
            return client.create_list(LIST_NAME).list_id

    def lead_count(self) -> int:
        ledger = self.sandbox.ledger()
        return sum(v["lead_count"] for v in ledger["lists"].values() if v["name"] == LIST_NAME)

    def imports_executed(self) -> int:
        return int(self.sandbox.ledger()["csv_imports"]["executed"])

    def csv_requests(self) -> int:
        return int(
            self.sandbox.ledger()["requests"].get("POST /lead-lists/{list_id}/csv-import", 0)
        )

    def ledger(self, key: str) -> list[Any]:
        return list(iter_ledger(self.instance, self.settings.names.import_asset, key))

    def materialization(self, key: str) -> dict[str, Any]:
        return materialization(self.instance, key, self.settings.names.import_asset)


def resource_kwargs(sandbox: Any, key: str | None = None) -> dict[str, Any]:
    """Resource fields pointing at the sandbox process, as a run config that brings its own key
    would set them (for resource subclasses that tests build directly)."""
    return {
        "api_key": key or sandbox.key,
        "base_url": sandbox.v1,
        "rate_limit_per_key": 0,
        "max_attempts": 3,
        "max_total_retry_wait_seconds": 2.0,
    }


def make_resource(settings: Settings, key: str | None = None) -> CleanlistResource:
    """The deployment's resource for ``settings`` (another ``key`` when given)."""
    return CleanlistResource.from_settings(replace(settings, api_key=key) if key else settings)


@pytest.fixture
def drops(tmp_path: Path) -> Path:
    folder = tmp_path / "drops"
    folder.mkdir()
    return folder


@pytest.fixture
def sample_drops(tmp_path: Path) -> Path:
    if not SAMPLE_DROPS.is_dir() or not any(SAMPLE_DROPS.rglob("*.csv")):
        pytest.fail("sample_data/drops holds no CSV files")
    folder = tmp_path / "sample_drops"
    shutil.copytree(SAMPLE_DROPS, folder)
    return folder


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as inst:
        yield inst


def _settings(sandbox: Any, drops: Path, tmp_path: Path) -> Settings:
    """Settings pointing at the sandbox process. The client's own rate limiter is off (the
    fixture's sandbox has its limits off too) and retries are short, so tests never wait."""
    return Settings(
        api_key=sandbox.key,
        base_url=sandbox.v1,
        rate_limit_per_key=0,
        max_attempts=3,
        max_total_retry_wait_seconds=2.0,
        state_dir=str(tmp_path / "state"),
        drops_dir=str(drops),
        data_dir=str(tmp_path / "data"),
        list_name=LIST_NAME,
        list_id=None,
        namespace="pipeline-tests",
        enrichment_type=None,
    )


@pytest.fixture
def pipeline(
    instance: dg.DagsterInstance, cleanlist_sandbox: Any, drops: Path, tmp_path: Path
) -> Pipeline:
    settings = _settings(cleanlist_sandbox, drops, tmp_path)
    return Pipeline(
        instance=instance,
        sandbox=cleanlist_sandbox,
        settings=settings,
        resource=make_resource(settings),
        drops=drops,
        resource_kwargs=resource_kwargs(cleanlist_sandbox),
    )


@pytest.fixture
def sample_pipeline(pipeline: Pipeline, sample_drops: Path) -> Pipeline:
    pipeline.settings = replace(pipeline.settings, drops_dir=str(sample_drops))
    pipeline.drops = sample_drops
    return pipeline
