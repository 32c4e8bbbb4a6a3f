"""The deployment's definitions run in this process (fast), configured only by environment.

For the bad-input table: dozens of short runs where a subprocess per run would cost seconds
each. ``build_definitions()`` is the same function ``definitions.py`` calls, evaluated after
the environment is set exactly as an operator would set it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.instance.ref import InstanceRef

from cleanlist_pipeline.settings import Settings, settings_from_env

JOB = "cleanlist_import_job"


@dataclass
class RunResult:
    """Success flag, what a user reads about a failure, and the run id."""

    success: bool
    message: str
    run_id: str
    result: dg.ExecuteInProcessResult


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """Every failed step's description and error text (what the UI shows for the run)."""
    parts = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            data = event.step_failure_data
            if data.user_failure_data and data.user_failure_data.description:
                parts.append(data.user_failure_data.description)
            if data.error:
                parts.append(data.error.message)
    return "\n".join(parts)


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block, restoring the old ones after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class InProcessDeployment:
    """DAGSTER_HOME + drops + data folders; runs the real definitions in this process."""

    def __init__(self, root: Path, base_url: str, api_key: str, list_name: str) -> None:
        self.home = root / "dagster_home"
        self.drops = root / "drops"
        self.data = root / "data"
        for d in (self.home, self.drops, self.data):
            d.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        self.env = {
            "DAGSTER_HOME": str(self.home),
            "CLEANLIST_API_KEY": api_key,
            "CLEANLIST_BASE_URL": base_url,
            "CLEANLIST_DROPS_DIR": str(self.drops),
            "CLEANLIST_DATA_DIR": str(self.data),
            "CLEANLIST_LIST_NAME": list_name,
        }
        self.instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(self.home)))

    def close(self) -> None:
        self.instance.dispose()

    def settings(self, env: Mapping[str, str] | None = None) -> Settings:
        """The deployment's settings, built from its environment as ``definitions.py`` does."""
        return settings_from_env({**self.env, **(env or {})})

    def write(self, name: str, content: bytes) -> Path:
        path = self.drops / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path

    def run(
        self,
        partition: str,
        config: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> RunResult:
        """Register ``partition`` and materialize it; never raises on a failed run."""
        from cleanlist_pipeline.definitions import build_definitions

        self.instance.add_dynamic_partitions("csv_drops", [partition])
        with environment({**self.env, **(env or {})}):
            job = build_definitions(self.settings(env)).resolve_job_def(JOB)
            run_config = {"ops": {"cleanlist_csv_import": {"config": dict(config or {})}}}
            result = job.execute_in_process(
                instance=self.instance,
                partition_key=partition,
                run_config=run_config,
                raise_on_error=False,
            )
        return RunResult(result.success, failure_message(result), result.run_id, result)

    def report(self, partition: str) -> dict[str, Any]:
        """The latest import materialization's metadata for ``partition`` (plain values)."""
        records = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("cleanlist_csv_import"), asset_partitions=[partition]
            ),
            limit=1,
        ).records
        assert records, f"{partition} was never materialized"
        meta = records[0].asset_materialization.metadata  # type: ignore[union-attr]
        return {k: getattr(v, "value", v) for k, v in meta.items()}
