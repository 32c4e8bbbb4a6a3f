"""The CLI's flows: import drops, wait for enrichment through the sensor, snapshot, catalog.

Every flow works through the definitions ``build_definitions(settings)`` returns — the ones the
UI loads — on the persistent Dagster instance in ``settings.state_dir``, so the runs, the import
ledger and the sensor's state are the ones ``dagster dev`` shows. Names of jobs, sensors,
partitions and asset keys all come from ``settings.names``.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from cleanlist_pipeline.api.client import CleanlistClient
from cleanlist_pipeline.cli import render
from cleanlist_pipeline.cli.outcomes import DropOutcome, ListOutcome, StepFailed
from cleanlist_pipeline.cli.progress import Progress
from cleanlist_pipeline.cli.setup import (
    cli_settings,
    demo_settings,
    instance_dir,
    open_instance,
    quiet_dagster_warnings,
)
from cleanlist_pipeline.cli.watch import watching_backfill, watching_import, watching_snapshot
from cleanlist_pipeline.dagster_layer.backfill import (
    BackfillLaunch,
    launch_drops_backfill,
    wait_for_backfill,
)
from cleanlist_pipeline.dagster_layer.csv_import import describe_plan as describe_drops
from cleanlist_pipeline.dagster_layer.drops import scan_drops
from cleanlist_pipeline.dagster_layer.enrichment.cursor import EnrichmentCursor
from cleanlist_pipeline.dagster_layer.enrichment.events import (
    ENRICHMENT_CHECK,
    EVENT,
)
from cleanlist_pipeline.dagster_layer.lifecycle import load_sensor_cursor, tick_sensor
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.definitions import build_definitions
from cleanlist_pipeline.settings import Settings

__all__ = [
    "Pipeline",
    "cli_settings",
    "demo_settings",
    "describe_plan",
    "enrich_list",
    "import_drops",
    "instance_dir",
    "launch_backfill",
    "open_instance",
    "run_pipeline",
    "snapshot_list",
    "wait_for_backfill",
    "wait_for_backfill_progress",
    "wait_for_enrichment",
    "write_catalog",
]

QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
LAUNCHED_BY = {"cleanlist/launched_by": "cleanlist-pipeline"}


@dataclass
class Pipeline:
    """The settings, the definitions built from them and the instance one command works with."""

    settings: Settings
    defs: dg.Definitions
    instance: dg.DagsterInstance
    #: the instance's directory; the CLI's own sensor cursors live there too
    instance_dir: Path

    @classmethod
    def open(cls, settings: Settings) -> Pipeline:
        quiet_dagster_warnings()
        home = instance_dir(settings)
        return cls(settings, build_definitions(settings), open_instance(home), home)

    def client(self) -> CleanlistClient:
        """A plain API client configured as the definitions' resource is (the caller closes it)."""
        return CleanlistResource.from_settings(self.settings).get_client()

    def op_config(self, asset_key: dg.AssetKey, config: Mapping[str, Any]) -> dict[str, Any]:
        """Run config giving ``config`` to the op (or graph) that materializes ``asset_key``."""
        node = self.defs.resolve_assets_def(asset_key).node_def.name
        return {"ops": {node: {"config": dict(config)}}}

    def execute(
        self,
        job_name: str,
        *,
        partition_key: str | None = None,
        run_config: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        asset_selection: list[dg.AssetKey] | None = None,
        verbose: bool = False,
        run_id: str | None = None,
    ) -> dg.ExecuteInProcessResult:
        """Execute a job of the definitions in this process, recorded on the instance (under
        ``run_id`` when given, so a watcher can read its events while it runs)."""
        config = dict(run_config or {})
        if not verbose:
            config.update(QUIET_LOGGERS)
        return self.defs.resolve_job_def(job_name).execute_in_process(
            instance=self.instance,
            partition_key=partition_key,
            run_config=config,
            tags={**LAUNCHED_BY, **(tags or {})},
            asset_selection=asset_selection,
            raise_on_error=False,
            run_id=run_id,
        )

    def ensure_list_partition(self, list_id: str) -> None:
        name = self.settings.names.partitions_lists
        if not self.instance.has_dynamic_partition(name, list_id):
            self.instance.add_dynamic_partitions(name, [list_id])


def materialization_metadata(result: Any, asset_key: dg.AssetKey) -> dict[str, Any]:
    """Plain-valued metadata of ``asset_key``'s materialization in an in-process result."""
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization.asset_key == asset_key:
            return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    return {}


def failure_message(result: Any) -> str:
    """The first failed step's message (its ``Failure`` description when it has one)."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            user = event.step_failure_data.user_failure_data
            if user is not None and user.description:
                return user.description
            return error.message.strip().splitlines()[-1]
    return "the run failed (see the run in the Dagster UI)"


# ---------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------


def import_config(settings: Settings, mapping: Mapping[str, str] | None) -> dict[str, Any]:
    """The import's run config for ``settings`` (list, enrichment, spend guard, mapping)."""
    config: dict[str, Any] = {
        "dispatch_enrichment": settings.enrichment_type is not None,
        "enrichment_type": settings.enrichment_type,
        "max_credits": settings.max_credits,
    }
    if settings.list_id:
        config["list_id"] = settings.list_id
    elif settings.list_name:
        config["list_name"] = settings.list_name
    if mapping:
        config["column_mapping"] = dict(mapping)
    return config


def _drop_outcome(key: str, result: Any, asset_key: dg.AssetKey, seconds: float) -> DropOutcome:
    meta = materialization_metadata(result, asset_key)
    accounting = dict(meta.get("accounting") or {})
    return DropOutcome(
        partition_key=key,
        success=result.success,
        run_id=result.run_id,
        seconds=seconds,
        list_id=meta.get("list_id"),
        data_records=int(accounting.get("data_records", 0)),
        imported=int(accounting.get("rows_imported", 0)),
        skipped=int(accounting.get("rows_skipped", 0)),
        rejected=int(accounting.get("rejected", 0)),
        removed_duplicates=int(accounting.get("removed_duplicates", 0)),
        already_imported=int(accounting.get("already_imported", 0)),
        workflows=list(meta.get("workflow_ids") or []),
        error=None if result.success else failure_message(result),
    )


def import_drops(
    pipeline: Pipeline, *, mapping: Mapping[str, str] | None, verbose: bool
) -> list[DropOutcome]:
    """Import every drop of the settings' folder, one run of the import job per drop."""
    settings, names = pipeline.settings, pipeline.settings.names
    if not settings.drops_dir:
        raise StepFailed("no drop folder: pass --drops or set CLEANLIST_DROPS_DIR")
    scan = scan_drops(settings.drops_dir, allow_insecure=settings.allow_insecure_object_store)
    render.refusals(scan.refused)
    keys = [drop.key for drop in scan]
    if not keys:
        raise StepFailed(f"no CSV files in {settings.drops_dir}")
    existing = set(pipeline.instance.get_dynamic_partitions(names.partitions_drops))
    new = [k for k in keys if k not in existing]
    if new:
        pipeline.instance.add_dynamic_partitions(names.partitions_drops, new)
    run_config = pipeline.op_config(names.import_asset, import_config(settings, mapping))
    outcomes: list[DropOutcome] = []
    for number, key in enumerate(keys, start=1):
        started = time.monotonic()
        render.drop_started(number, len(keys), key)
        result = _import_with_progress(pipeline, key, run_config, verbose=verbose)
        outcome = _drop_outcome(key, result, names.import_asset, time.monotonic() - started)
        render.drop_finished(outcome)
        outcomes.append(outcome)
    return outcomes


def _import_with_progress(
    pipeline: Pipeline, key: str, run_config: dict[str, Any], *, verbose: bool
) -> Any:
    """One drop's import run, its chunks shown as they finish (read off the run's events)."""
    names = pipeline.settings.names
    run_id = str(uuid.uuid4())
    with watching_import(pipeline.instance, run_id, key, names):
        return pipeline.execute(
            names.import_job,
            partition_key=key,
            run_config=run_config,
            verbose=verbose,
            run_id=run_id,
        )


# ---------------------------------------------------------------------------------------------
# Enrichment, snapshots, catalog
# ---------------------------------------------------------------------------------------------


def _open_work(pipeline: Pipeline, lists: set[str]) -> tuple[int, set[str]]:
    """Workflows of ``lists`` still pending in the CLI's sensor cursor; lists whose finished
    workflows still wait for their snapshot request."""
    raw = load_sensor_cursor(pipeline.instance_dir, pipeline.settings.names.enrichment_sensor)
    state = EnrichmentCursor.from_json(raw)
    pending = [w for w in state.pending.values() if w.list_id in lists]
    awaiting = {list_id for list_id in state.finished if list_id in lists}
    return len(pending), awaiting


def _record_tick(tick: int, report: Any, outcomes: dict[str, ListOutcome]) -> None:
    for event in report.asset_events:
        list_id = getattr(event, "partition", None)
        if list_id not in outcomes:
            continue
        meta = {k: getattr(v, "value", v) for k, v in event.metadata.items()}
        if getattr(event, "check_name", None) == ENRICHMENT_CHECK:
            if not event.passed:
                outcomes[list_id].workflows_failed += 1
                render.workflow_unsuccessful(meta)
            continue
        terminal = meta.get(EVENT) == "terminal"
        if terminal:
            outcomes[list_id].workflows_finished += 1
            outcomes[list_id].credits_charged += float(meta.get("credits_charged") or 0)
            outcomes[list_id].credits_refunded += float(meta.get("credits_refunded") or 0)
        render.workflow_event(tick, meta, terminal)


def wait_for_enrichment(
    pipeline: Pipeline,
    lists: set[str],
    *,
    timeout_s: float,
    tick_every_s: float = 1.0,
    verbose: bool = False,
) -> dict[str, ListOutcome]:
    """Tick the real enrichment sensor until the lists' workflows are terminal and snapshotted.

    Each tick evaluates the sensor definition against the persistent instance and executes the
    snapshot runs it requests (``lifecycle.tick_sensor``), as the sensor daemon would.
    """
    names = pipeline.settings.names
    outcomes = {list_id: ListOutcome(list_id) for list_id in lists}
    deadline = time.monotonic() + timeout_s
    render.sensor_intro(names.enrichment_sensor)
    with Progress("enrichment", "workflows", stream=sys.stderr) as progress:
        return _tick_until_done(
            pipeline, lists, outcomes, progress, deadline, timeout_s, verbose, tick_every_s
        )


def _tick_until_done(
    pipeline: Pipeline,
    lists: set[str],
    outcomes: dict[str, ListOutcome],
    progress: Progress,
    deadline: float,
    timeout_s: float,
    verbose: bool,
    tick_every_s: float,
) -> dict[str, ListOutcome]:
    """Sensor ticks until no workflow of ``lists`` is pending and every snapshot is requested."""
    names = pipeline.settings.names
    tick = 0
    while True:
        tick += 1
        report = tick_sensor(
            pipeline.defs,
            pipeline.instance,
            names.enrichment_sensor,
            state_dir=pipeline.instance_dir,
            run_tags=LAUNCHED_BY,
            run_config=None if verbose else QUIET_LOGGERS,
        )
        _record_tick(tick, report, outcomes)
        for result in report.launched:
            list_id = result.dagster_run.tags.get("dagster/partition")
            if list_id not in outcomes:
                continue
            if result.success:
                outcomes[list_id].snapshot = materialization_metadata(result, names.snapshot_asset)
            else:
                outcomes[list_id].snapshot_error = failure_message(result)
            render.snapshot_requested(
                tick, list_id, result.run_id, outcomes[list_id].snapshot_error
            )
        pending, awaiting = _open_work(pipeline, lists)
        finished = sum(o.workflows_finished for o in outcomes.values())
        progress.update(finished, total=finished + pending)
        if pending == 0 and not awaiting:
            render.say(f"  enrichment finished after {tick} sensor tick(s)")
            return outcomes
        if time.monotonic() > deadline:
            raise StepFailed(
                f"enrichment still running after {timeout_s:.0f} s ({pending} workflow(s) "
                "pending); the sensor keeps watching them — run `cleanlist-pipeline status`"
            )
        time.sleep(tick_every_s)


def snapshot_list(pipeline: Pipeline, list_id: str, *, verbose: bool = False) -> dict[str, Any]:
    """Materialize the leads snapshot of one list; its metadata (raises on failure)."""
    names = pipeline.settings.names
    pipeline.ensure_list_partition(list_id)
    with watching_snapshot(list_id, pipeline.client):
        result = pipeline.execute(
            names.snapshot_job,
            partition_key=list_id,
            tags={"cleanlist/trigger": "cli"},
            verbose=verbose,
        )
    if not result.success:
        raise StepFailed(f"snapshot of list {list_id} failed: {failure_message(result)}")
    return materialization_metadata(result, names.snapshot_asset)


def write_catalog(pipeline: Pipeline, *, verbose: bool = False) -> dict[str, Any]:
    """Materialize the lists catalog (through the refresh job); its metadata."""
    names = pipeline.settings.names
    result = pipeline.execute(
        names.refresh_job, asset_selection=[names.catalog_asset], verbose=verbose
    )
    if not result.success:
        raise StepFailed(f"the lists catalog failed: {failure_message(result)}")
    return materialization_metadata(result, names.catalog_asset)


def enrich_list(
    pipeline: Pipeline,
    list_id: str,
    *,
    enrichment_type: str,
    max_credits: int | None,
    only_missing: bool,
    verbose: bool,
) -> dict[str, Any]:
    """Run the enrich-later job for one list; the dispatch's metadata (raises on failure)."""
    names = pipeline.settings.names
    pipeline.ensure_list_partition(list_id)
    config = {
        "enrichment_type": enrichment_type,
        "max_credits": max_credits,
        "only_missing": only_missing,
    }
    result = pipeline.execute(
        names.enrich_job,
        partition_key=list_id,
        run_config=pipeline.op_config(names.enrichment_asset, config),
        verbose=verbose,
    )
    if not result.success:
        raise StepFailed(f"enrichment of list {list_id} failed: {failure_message(result)}")
    return materialization_metadata(result, names.enrichment_asset)


# ---------------------------------------------------------------------------------------------
# The `run` flow
# ---------------------------------------------------------------------------------------------


def _snapshot_the_rest(
    pipeline: Pipeline, outcomes: dict[str, ListOutcome], *, verbose: bool
) -> None:
    """Snapshot every list the sensor did not snapshot (no new workflows to wait for)."""
    for list_id, outcome in sorted(outcomes.items()):
        if outcome.snapshot or outcome.snapshot_error:
            render.say(f"  list {list_id}: written by the run the sensor requested")
            continue
        try:
            outcome.snapshot = snapshot_list(pipeline, list_id, verbose=verbose)
            render.say(f"  list {list_id}: no new workflows to wait for; snapshot written directly")
        except StepFailed as exc:
            outcome.snapshot_error = exc.message


def run_pipeline(
    settings: Settings,
    *,
    mapping: Mapping[str, str] | None,
    timeout_s: float,
    verbose: bool,
) -> int:
    """Import → enrichment through the sensor → snapshots → catalog → summary; the exit code."""
    started = time.monotonic()
    pipeline = Pipeline.open(settings)
    names = settings.names
    render.run_header(settings, str(pipeline.instance_dir))
    render.section(f"1. Import ({names.import_job}, one run per drop)")
    drops = import_drops(pipeline, mapping=mapping, verbose=verbose)
    lists = {d.list_id for d in drops if d.list_id}
    failed = not all(d.success for d in drops)
    render.section(f"2. Enrichment ({names.enrichment_sensor})")
    outcomes: dict[str, ListOutcome] = {}
    if lists:
        try:
            outcomes = wait_for_enrichment(pipeline, lists, timeout_s=timeout_s, verbose=verbose)
        except StepFailed as exc:
            render.say(f"  {exc.message}")
            failed = True
            outcomes = {list_id: ListOutcome(list_id) for list_id in lists}
    render.section(f"3. Snapshots ({names.snapshot_asset.to_user_string()})")
    _snapshot_the_rest(pipeline, outcomes, verbose=verbose)
    render.section(f"4. Lists catalog ({names.catalog_asset.to_user_string()})")
    catalog: dict[str, Any] = {}
    try:
        catalog = write_catalog(pipeline, verbose=verbose)
        render.say(f"  {catalog.get('dagster/row_count')} lists")
    except StepFailed as exc:
        render.say(f"  {exc.message}")
        failed = True
    render.summary(drops, outcomes, catalog)
    failed = failed or any(o.snapshot_error for o in outcomes.values())
    accounted = all(d.accounted_for for d in drops)
    render.done(time.monotonic() - started, accounted, failed)
    return 0 if accounted and not failed else 1


# ---------------------------------------------------------------------------------------------
# plan, backfill, status
# ---------------------------------------------------------------------------------------------


def describe_plan(settings: Settings) -> list[dict[str, Any]]:
    """What importing each drop of the settings' folder would do, with the requests it needs
    (``requests``: counts and seconds at the configured rate limit); sends nothing."""
    from cleanlist_pipeline.cli.estimate import RequestRate, drop_requests

    items = describe_drops(settings.drops_dir, settings)
    rate = RequestRate.from_settings(settings)
    for item in items:
        if not item.get("error"):
            item["requests"] = drop_requests(item, settings.enrichment_type).as_dict(rate)
    return items


def wait_for_backfill_progress(
    webserver_url: str, settings: Settings, launched: BackfillLaunch, *, timeout_s: float
) -> str:
    """Wait for the backfill through the webserver, its drops' runs counted off the instance."""
    quiet_dagster_warnings()
    instance = open_instance(instance_dir(settings))
    with watching_backfill(instance, launched.backfill_id, len(launched.partitions)):
        return wait_for_backfill(webserver_url, launched.backfill_id, timeout=timeout_s)


def launch_backfill(
    webserver_url: str, settings: Settings, *, max_credits: int | None
) -> BackfillLaunch:
    """An asset backfill of every drop, launched through the webserver's GraphQL API."""
    return launch_drops_backfill(webserver_url, settings, max_credits=max_credits)
