"""``cleanlist-pipeline``: import drops, watch enrichment, snapshot lists — from a shell.

Every command works through the same Dagster definitions the UI loads, on the persistent
instance in ``$DAGSTER_HOME`` (default ``./.dagster_home``), so runs, the import ledger and the
enrichment sensor's state are the ones ``dagster dev`` shows. ``CLEANLIST_API_KEY`` and
``CLEANLIST_BASE_URL`` select the API; without a key everything runs against the embedded
sandbox (no real credits).

Exit status: 0 when every step succeeded and every CSV row is accounted for (imported, skipped by
the API, rejected or removed before sending); 1 when any step failed; 2 on usage errors.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    import dagster as dg

ENRICHMENT_TYPES = ("partial", "phone_only", "full")
QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class StepFailed(click.ClickException):
    """A pipeline step failed (exit status 1)."""

    exit_code = 1


# ---------------------------------------------------------------------------------------------
# Environment and Dagster plumbing
# ---------------------------------------------------------------------------------------------


def _say(message: str = "", *, err: bool = False) -> None:
    click.echo(message, err=err)


def _prepare_environment(
    *,
    drops: str | None = None,
    list_name: str | None = None,
    list_id: str | None = None,
    enrichment: str | None = None,
    data_dir: str | None = None,
) -> Path:
    """Export the choices as the variables ``load_settings`` reads; ensure ``DAGSTER_HOME``."""
    values = {
        "CLEANLIST_DROPS_DIR": str(Path(drops).resolve()) if drops else None,
        "CLEANLIST_LIST_NAME": list_name,
        "CLEANLIST_LIST_ID": list_id,
        "CLEANLIST_ENRICHMENT_TYPE": enrichment,
        "CLEANLIST_DATA_DIR": data_dir,
    }
    for name, value in values.items():
        if value is not None:
            os.environ[name] = value
    if list_name is not None and list_id is None:
        os.environ.pop("CLEANLIST_LIST_ID", None)
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(Path(".dagster_home").resolve())
        os.environ["DAGSTER_HOME"] = home
        _say(f"DAGSTER_HOME was not set; using {home} (a persistent instance)", err=True)
    Path(home).mkdir(parents=True, exist_ok=True)
    # Dagster warns about preview/beta features it uses internally; not the user's business.
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", message=".*(preview|beta|experimental).*")
    return Path(home)


@dataclass
class Pipeline:
    """The loaded definitions, instance and settings one command works with."""

    defs: dg.Definitions
    instance: dg.DagsterInstance
    settings: Any

    @classmethod
    def load(cls) -> Pipeline:
        import dagster as dg

        from cleanlist_pipeline.definitions import build_definitions
        from cleanlist_pipeline.settings import settings_from_env as load_settings

        return cls(build_definitions(), dg.DagsterInstance.get(), load_settings())

    def client(self) -> Any:
        """A plain API client from the same resource the definitions use."""
        from cleanlist_pipeline.dagster_layer.resources import cleanlist_resource_from_env

        return cleanlist_resource_from_env().get_client()

    def target(self) -> str:
        if self.settings.embedded:
            return "embedded sandbox (local; no real credits are spent)"
        return os.environ.get("CLEANLIST_BASE_URL") or "the Cleanlist API"

    def execute(
        self,
        job_name: str,
        *,
        partition_key: str | None = None,
        run_config: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        asset_selection: list[Any] | None = None,
        verbose: bool = False,
    ) -> dg.ExecuteInProcessResult:
        """Execute a job of the definitions in this process, recorded on the instance."""
        config = dict(run_config or {})
        if not verbose:
            config.update(QUIET_LOGGERS)
        job = self.defs.resolve_job_def(job_name)
        return job.execute_in_process(
            instance=self.instance,
            partition_key=partition_key,
            run_config=config,
            tags={"cleanlist/launched_by": "cleanlist-pipeline", **(tags or {})},
            asset_selection=asset_selection,
            raise_on_error=False,
        )


def _materialization_metadata(result: Any, asset: str) -> dict[str, Any]:
    """Plain-valued metadata of ``asset``'s materialization in an in-process result."""
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization.asset_key.to_user_string() == asset:
            return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    return {}


def _failure_message(result: Any) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            user = event.step_failure_data.user_failure_data
            if user is not None and user.description:
                return user.description
            return error.message.strip().splitlines()[-1]
    return "the run failed (see the run in the Dagster UI)"


# ---------------------------------------------------------------------------------------------
# The `run` flow: import → wait for enrichment through the sensor → snapshot → catalog
# ---------------------------------------------------------------------------------------------


@dataclass
class DropOutcome:
    """One drop's import, from its materialization's ``accounting`` metadata."""

    partition_key: str
    success: bool
    list_id: str | None = None
    data_records: int = 0
    imported: int = 0
    skipped: int = 0
    rejected: int = 0
    removed_duplicates: int = 0
    already_imported: int = 0
    workflows: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def accounted_for(self) -> bool:
        total = (
            self.imported
            + self.skipped
            + self.rejected
            + self.removed_duplicates
            + self.already_imported
        )
        return self.success and total == self.data_records


@dataclass
class ListOutcome:
    """One target list after the wait: credits and its snapshot."""

    list_id: str
    workflows_finished: int = 0
    workflows_failed: int = 0
    credits_charged: float = 0.0
    credits_refunded: float = 0.0
    snapshot: dict[str, Any] = field(default_factory=dict)
    snapshot_error: str | None = None


def import_drops(
    pipeline: Pipeline,
    *,
    list_name: str | None,
    list_id: str | None,
    enrichment: str | None,
    max_credits: int | None,
    mapping: dict[str, str] | None,
    verbose: bool,
) -> list[DropOutcome]:
    """Import every drop of the configured folder through ``cleanlist_import_job``."""
    from cleanlist_pipeline.dagster_layer.drops import scan_drops
    from cleanlist_pipeline.dagster_layer.partitions import CSV_DROPS_NAME

    scan = scan_drops(pipeline.settings.drops_dir)
    for refusal in scan.refused:
        _say(f"  ! refused: {refusal}")
    drops = list(scan)
    if not drops:
        raise StepFailed(f"no CSV files in {pipeline.settings.drops_dir}")
    keys = [d.key for d in drops]
    existing = set(pipeline.instance.get_dynamic_partitions(CSV_DROPS_NAME))
    new = [k for k in keys if k not in existing]
    if new:
        pipeline.instance.add_dynamic_partitions(CSV_DROPS_NAME, new)
    import_config: dict[str, Any] = {
        "dispatch_enrichment": enrichment is not None,
        "enrichment_type": enrichment,
        "max_credits": max_credits,
    }
    if list_id:
        import_config["list_id"] = list_id
    elif list_name:
        import_config["list_name"] = list_name
    if mapping:
        import_config["column_mapping"] = mapping
    outcomes: list[DropOutcome] = []
    for number, key in enumerate(keys, start=1):
        started = time.monotonic()
        _say(f"  [{number}/{len(keys)}] importing {key} …")
        result = pipeline.execute(
            "cleanlist_import_job",
            partition_key=key,
            run_config={"ops": {"cleanlist_csv_import": {"config": import_config}}},
            verbose=verbose,
        )
        meta = _materialization_metadata(result, "cleanlist_csv_import")
        accounting = dict(meta.get("accounting") or {})
        outcome = DropOutcome(
            partition_key=key,
            success=result.success,
            list_id=meta.get("list_id"),
            data_records=int(accounting.get("data_records", 0)),
            imported=int(accounting.get("rows_imported", 0)),
            skipped=int(accounting.get("rows_skipped", 0)),
            rejected=int(accounting.get("rejected", 0)),
            removed_duplicates=int(accounting.get("removed_duplicates", 0)),
            already_imported=int(accounting.get("already_imported", 0)),
            workflows=list(meta.get("workflow_ids") or []),
            error=None if result.success else _failure_message(result),
        )
        outcomes.append(outcome)
        took = time.monotonic() - started
        if outcome.success:
            _say(
                f"        {outcome.imported} imported, {outcome.skipped} skipped by the API, "
                f"{outcome.rejected + outcome.removed_duplicates} rejected before sending"
                + (
                    f", {outcome.already_imported} imported earlier"
                    if outcome.already_imported
                    else ""
                )
                + f"; {len(outcome.workflows)} enrichment workflow(s); {took:.1f} s "
                f"(run {result.run_id[:8]})"
            )
        else:
            _say(f"        FAILED: {outcome.error} (run {result.run_id[:8]})")
    return outcomes


def _pending_for(instance: dg.DagsterInstance, lists: set[str]) -> tuple[int, set[str]]:
    from cleanlist_pipeline.dagster_layer.enrichment import SENSOR_NAME, EnrichmentCursor
    from cleanlist_pipeline.dagster_layer.lifecycle import load_sensor_cursor

    state = EnrichmentCursor.from_json(load_sensor_cursor(instance, SENSOR_NAME))
    pending = [w for w in state.pending.values() if w.list_id in lists]
    awaiting = {list_id for list_id in state.finished if list_id in lists}
    return len(pending), awaiting


def wait_for_enrichment(
    pipeline: Pipeline,
    lists: set[str],
    *,
    timeout_s: float,
    tick_every_s: float = 1.0,
    verbose: bool = False,
    say: Callable[[str], None] = _say,
) -> dict[str, ListOutcome]:
    """Tick the real enrichment sensor until the lists' workflows are terminal and snapshotted.

    Each tick evaluates the sensor definition from the loaded definitions with
    ``build_sensor_context`` against the persistent instance and executes the snapshot runs it
    requests (see ``lifecycle.tick_sensor``), exactly what the sensor daemon would do.
    """
    from cleanlist_pipeline.dagster_layer.enrichment import ENRICHMENT_CHECK, EVENT, SENSOR_NAME
    from cleanlist_pipeline.dagster_layer.lifecycle import tick_sensor

    outcomes = {list_id: ListOutcome(list_id) for list_id in lists}
    deadline = time.monotonic() + timeout_s
    ticks = 0
    say(
        f"  evaluating the real sensor definition `{SENSOR_NAME}` against the Dagster instance "
        f"in $DAGSTER_HOME with build_sensor_context, and executing the runs it requests"
    )
    while True:
        ticks += 1
        report = tick_sensor(
            pipeline.defs,
            pipeline.instance,
            SENSOR_NAME,
            run_tags={"cleanlist/launched_by": "cleanlist-pipeline"},
            run_config=None if verbose else QUIET_LOGGERS,
        )
        for event in report.asset_events:
            list_id = getattr(event, "partition", None)
            if list_id not in outcomes:
                continue
            meta = {k: getattr(v, "value", v) for k, v in event.metadata.items()}
            if getattr(event, "check_name", None) == ENRICHMENT_CHECK:
                if not event.passed:
                    outcomes[list_id].workflows_failed += 1
                    say(
                        f"    ! workflow {meta.get('workflow_id')} ended {meta.get('status')}: "
                        f"{meta.get('refund_message') or 'see the enrichment_succeeded check'}"
                    )
                continue
            kind = meta.get(EVENT)
            line = (
                f"    tick {ticks}: workflow {meta.get('workflow_id')} {meta.get('status')} "
                f"{meta.get('processed/total')} processed, {meta.get('emails_found')} emails, "
                f"{meta.get('phones_found')} phones"
            )
            if kind == "terminal":
                outcomes[list_id].workflows_finished += 1
                outcomes[list_id].credits_charged += float(meta.get("credits_charged") or 0)
                outcomes[list_id].credits_refunded += float(meta.get("credits_refunded") or 0)
                line += (
                    f"; {meta.get('credits_charged')} credits charged, "
                    f"{meta.get('credits_refunded')} refunded"
                )
            say(line)
        for result in report.launched:
            list_id = result.dagster_run.tags.get("dagster/partition")
            if list_id not in outcomes:
                continue
            if result.success:
                outcomes[list_id].snapshot = _materialization_metadata(result, "leads_snapshot")
                say(
                    f"    tick {ticks}: sensor requested the snapshot of list {list_id}; "
                    f"run {result.run_id[:8]} succeeded"
                )
            else:
                outcomes[list_id].snapshot_error = _failure_message(result)
                say(
                    f"    tick {ticks}: snapshot run {result.run_id[:8]} FAILED: "
                    f"{outcomes[list_id].snapshot_error}"
                )
        pending, awaiting = _pending_for(pipeline.instance, lists)
        if pending == 0 and not awaiting:
            say(f"  enrichment finished after {ticks} sensor tick(s)")
            return outcomes
        if time.monotonic() > deadline:
            raise StepFailed(
                f"enrichment still running after {timeout_s:.0f} s ({pending} workflow(s) "
                "pending); the sensor keeps watching them — run `cleanlist-pipeline status`"
            )
        time.sleep(tick_every_s)


def snapshot_list(pipeline: Pipeline, list_id: str, *, verbose: bool = False) -> dict[str, Any]:
    """Materialize ``leads_snapshot`` for one list; its metadata (raises on failure)."""
    from cleanlist_pipeline.dagster_layer.lifecycle import SNAPSHOT_JOB
    from cleanlist_pipeline.dagster_layer.snapshots import LISTS_PARTITIONS

    if not pipeline.instance.has_dynamic_partition(LISTS_PARTITIONS.name, list_id):
        pipeline.instance.add_dynamic_partitions(LISTS_PARTITIONS.name, [list_id])
    result = pipeline.execute(
        SNAPSHOT_JOB, partition_key=list_id, tags={"cleanlist/trigger": "cli"}, verbose=verbose
    )
    if not result.success:
        raise StepFailed(f"snapshot of list {list_id} failed: {_failure_message(result)}")
    return _materialization_metadata(result, "leads_snapshot")


def write_catalog(pipeline: Pipeline, *, verbose: bool = False) -> dict[str, Any]:
    """Materialize ``lead_lists`` (through the daily refresh job); its metadata."""
    from cleanlist_pipeline.dagster_layer.catalog import LEAD_LISTS_KEY
    from cleanlist_pipeline.dagster_layer.lifecycle import REFRESH_JOB

    result = pipeline.execute(REFRESH_JOB, asset_selection=[LEAD_LISTS_KEY], verbose=verbose)
    if not result.success:
        raise StepFailed(f"the lists catalog failed: {_failure_message(result)}")
    return _materialization_metadata(result, "lead_lists")


def _print_summary(
    drops: list[DropOutcome], lists: dict[str, ListOutcome], catalog: dict[str, Any]
) -> None:
    _say("")
    _say("Summary")
    _say("-------")
    _say(f"{'drop':<36} {'rows':>6} {'imported':>9} {'skipped':>8} {'rejected':>9}  status")
    for d in drops:
        status = "ok" if d.accounted_for else ("FAILED" if not d.success else "rows unaccounted")
        rejected = d.rejected + d.removed_duplicates
        _say(
            f"{d.partition_key[:36]:<36} {d.data_records:>6} {d.imported:>9} {d.skipped:>8} "
            f"{rejected:>9}  {status}"
            + (f" ({d.already_imported} imported earlier)" if d.already_imported else "")
        )
    for lo in lists.values():
        snap = lo.snapshot
        _say("")
        _say(f"list {lo.list_id}")
        _say(
            f"  enrichment: {lo.workflows_finished} workflow(s) finished in this session, "
            f"{lo.workflows_failed} unsuccessful; credits charged {lo.credits_charged:g}, "
            f"refunded {lo.credits_refunded:g}"
        )
        if snap:
            _say(
                f"  snapshot: {snap.get('dagster/row_count')} leads; email coverage "
                f"{snap.get('email_coverage_pct')} %, phone coverage {snap.get('phone_coverage_pct')} %"
            )
            _say(f"  parquet:  {snap.get('path')}")
        elif lo.snapshot_error:
            _say(f"  snapshot FAILED: {lo.snapshot_error}")
    if catalog:
        _say("")
        _say(f"lists catalog: {catalog.get('dagster/row_count')} lists -> {catalog.get('path')}")


def run_pipeline(
    *,
    list_name: str | None,
    list_id: str | None,
    enrichment: str | None,
    max_credits: int | None,
    mapping: dict[str, str] | None,
    timeout_s: float,
    verbose: bool,
) -> int:
    """Import → enrichment through the sensor → snapshots → catalog → summary; the exit code."""
    started = time.monotonic()
    pipeline = Pipeline.load()
    _say(f"Cleanlist pipeline — API: {pipeline.target()}")
    _say(f"  Dagster instance: {os.environ['DAGSTER_HOME']}")
    _say(f"  drops: {pipeline.settings.drops_dir}")
    _say(f"  data:  {pipeline.settings.data_dir}")
    _say("")
    _say("1. Import (cleanlist_import_job, one run per drop)")
    drops = import_drops(
        pipeline,
        list_name=list_name,
        list_id=list_id,
        enrichment=enrichment,
        max_credits=max_credits,
        mapping=mapping,
        verbose=verbose,
    )
    lists = {d.list_id for d in drops if d.list_id}
    failed = not all(d.success for d in drops)
    _say("")
    _say("2. Enrichment (cleanlist_enrichment_sensor)")
    outcomes: dict[str, ListOutcome] = {}
    if lists:
        try:
            outcomes = wait_for_enrichment(pipeline, lists, timeout_s=timeout_s, verbose=verbose)
        except StepFailed as exc:
            _say(f"  {exc.message}")
            failed = True
            outcomes = {list_id: ListOutcome(list_id) for list_id in lists}
    _say("")
    _say("3. Snapshots (leads_snapshot)")
    for list_id, outcome in sorted(outcomes.items()):
        if outcome.snapshot or outcome.snapshot_error:
            _say(f"  list {list_id}: written by the run the sensor requested")
            continue
        try:
            outcome.snapshot = snapshot_list(pipeline, list_id, verbose=verbose)
            _say(f"  list {list_id}: no new workflows to wait for; snapshot written directly")
        except StepFailed as exc:
            outcome.snapshot_error = exc.message
            failed = True
        if outcome.snapshot_error:
            failed = True
    _say("")
    _say("4. Lists catalog (lead_lists)")
    catalog: dict[str, Any] = {}
    try:
        catalog = write_catalog(pipeline, verbose=verbose)
        _say(f"  {catalog.get('dagster/row_count')} lists")
    except StepFailed as exc:
        _say(f"  {exc.message}")
        failed = True
    _print_summary(drops, outcomes, catalog)
    failed = failed or any(o.snapshot_error for o in outcomes.values())
    accounted = all(d.accounted_for for d in drops)
    _say("")
    _say(
        f"done in {time.monotonic() - started:.1f} s — "
        + ("every row accounted for" if accounted else "SOME ROWS ARE NOT ACCOUNTED FOR")
        + ("" if not failed else "; at least one step FAILED")
    )
    return 0 if accounted and not failed else 1


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def _load_mapping(path: str | None) -> dict[str, str] | None:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(
            f"cannot read {path} as JSON: {exc}", param_hint="--mapping"
        ) from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise click.BadParameter(
            'expected a JSON object {"email": "E-mail", ...} (API field → CSV header)',
            param_hint="--mapping",
        )
    return data


_drops_option = click.option(
    "--drops",
    type=click.Path(exists=True, file_okay=False),
    help="Folder of CSV drops (every *.csv below it is one drop).",
)
_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Root of the Parquet snapshots (default: $CLEANLIST_DATA_DIR or ./data).",
)
_verbose_option = click.option("--verbose", "-v", is_flag=True, help="Show Dagster's run logs.")
_timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=900.0,
    show_default=True,
    help="Seconds to wait for enrichment before giving up (the sensor keeps watching).",
)


@click.group(context_settings=_CONTEXT)
@click.version_option(package_name="cleanlist-pipeline")
def main() -> None:
    """Import CSV drops into Cleanlist lead lists, watch enrichment, write Parquet snapshots.

    Without CLEANLIST_API_KEY every command uses the embedded sandbox (no real credits).
    Runs are recorded on the Dagster instance in $DAGSTER_HOME, as in `dagster dev`.
    """


@main.command(context_settings=_CONTEXT)
@click.option(
    "--drops",
    type=click.Path(exists=True, file_okay=False),
    required=True,
    help="Folder of CSV drops to import (every *.csv below it).",
)
@click.option(
    "--list-name", required=True, help="Target list (created if you own none by that name)."
)
@click.option(
    "--enrichment",
    type=click.Choice(ENRICHMENT_TYPES),
    help="Dispatch paid enrichment while importing (default: import only).",
)
@click.option(
    "--max-credits",
    type=click.IntRange(min=0),
    help="Refuse to dispatch enrichment whose quote exceeds this many credits.",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False),
    help='JSON file {"email": "E-mail", ...}: API field → CSV header, for every drop '
    "(default: each drop's <drop>.mapping.json, else inferred from the headers).",
)
@_data_dir_option
@_timeout_option
@_verbose_option
def run(
    drops: str,
    list_name: str,
    enrichment: str | None,
    max_credits: int | None,
    mapping: str | None,
    data_dir: str | None,
    timeout: float,
    verbose: bool,
) -> None:
    """Import every drop, wait for enrichment (through the sensor), snapshot, print a summary."""
    column_mapping = _load_mapping(mapping)
    _prepare_environment(drops=drops, list_name=list_name, enrichment=enrichment, data_dir=data_dir)
    sys.exit(
        run_pipeline(
            list_name=list_name,
            list_id=None,
            enrichment=enrichment,
            max_credits=max_credits,
            mapping=column_mapping,
            timeout_s=timeout,
            verbose=verbose,
        )
    )


@main.command(context_settings=_CONTEXT)
@click.option(
    "--enrichment",
    type=click.Choice(ENRICHMENT_TYPES),
    default="full",
    show_default=True,
    help="Enrichment dispatched with the import (sandbox credits only).",
)
@_data_dir_option
@_timeout_option
@_verbose_option
def demo(enrichment: str, data_dir: str | None, timeout: float, verbose: bool) -> None:
    """`run` with the sample drops, on the embedded sandbox (refuses with a real API key)."""
    from cleanlist_pipeline.settings import EMBEDDED_LIST_NAME
from cleanlist_pipeline.settings import settings_from_env as load_settings

    if os.environ.get("CLEANLIST_API_KEY"):
        raise click.UsageError(
            "demo imports sample leads and only runs on the embedded sandbox; unset "
            "CLEANLIST_API_KEY, or use `cleanlist-pipeline run` with your own drops"
        )
    settings = load_settings()
    if not settings.drops_dir:
        raise StepFailed("the sample drops are missing (sample_data/drops)")
    _prepare_environment(
        drops=settings.drops_dir,
        list_name=EMBEDDED_LIST_NAME,
        enrichment=enrichment,
        data_dir=data_dir,
    )
    sys.exit(
        run_pipeline(
            list_name=EMBEDDED_LIST_NAME,
            list_id=None,
            enrichment=enrichment,
            max_credits=None,
            mapping=None,
            timeout_s=timeout,
            verbose=verbose,
        )
    )


@main.command(context_settings=_CONTEXT)
@_drops_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(drops: str | None, as_json: bool) -> None:
    """Show what importing each drop would do (mapping, chunks, rejects, credits); sends nothing."""
    from cleanlist_pipeline.settings import settings_from_env as load_settings
    from cleanlist_pipeline.dagster_layer.imports import describe_plan

    _prepare_environment(drops=drops)
    settings = load_settings()
    if not (drops or settings.drops_dir):
        raise click.UsageError("no drop folder: pass --drops or set CLEANLIST_DROPS_DIR")
    try:
        items = describe_plan(drops, settings)
    except (OSError, ValueError) as exc:
        raise StepFailed(str(exc)) from exc
    if as_json:
        _say(json.dumps(items, indent=2, default=str))
    else:
        _print_plan(items)
    sys.exit(1 if any(i.get("error") for i in items) else 0)


def _print_plan(items: Iterable[dict[str, Any]]) -> None:
    for item in items:
        if item.get("error"):
            _say(f"{item.get('path')}: ERROR {item['error']}")
            continue
        rejects = sum(len(v) for v in (item.get("rejects") or {}).values())
        predicted = sum(len(v) for v in (item.get("predicted_skips") or {}).values())
        credits = item.get("estimated_credits_by_type") or {}
        _say(f"{item['partition_key']}")
        _say(
            f"  records {item['data_records']}, to send {item['rows_to_send']} in "
            f"{len(item['chunks'])} chunk(s); rejected before sending {rejects}, duplicates "
            f"removed {len(item.get('removed_duplicates') or [])}; predicted API skips {predicted}"
        )
        _say("  mapping: " + ", ".join(f"{k}←{v!r}" for k, v in item["column_mapping"].items()))
        if item.get("unmapped_columns"):
            _say("  unmapped (dropped): " + ", ".join(item["unmapped_columns"]))
        _say(
            "  enrichment would reserve: "
            + ", ".join(f"{t} {c:,} credits" for t, c in credits.items())
        )


@main.command(context_settings=_CONTEXT)
@click.option(
    "--url",
    default="http://127.0.0.1:3000",
    show_default=True,
    help="The running Dagster webserver (`dagster dev`).",
)
@_drops_option
@click.option(
    "--max-credits", type=click.IntRange(min=0), help="Credit budget for the whole backfill."
)
@click.option("--wait/--no-wait", default=False, help="Wait until the backfill finishes.")
def backfill(url: str, drops: str | None, max_credits: int | None, wait: bool) -> None:
    """Launch an asset backfill of every drop through the webserver (shows in the UI)."""
    from cleanlist_pipeline.dagster_layer.backfill import launch_drops_backfill, wait_for_backfill
    from cleanlist_pipeline.settings import settings_from_env as load_settings

    _prepare_environment(drops=drops)
    try:
        launched = launch_drops_backfill(url, load_settings(), max_credits=max_credits)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    except Exception as exc:  # httpx/GraphQL failures: reported, exit 1
        raise StepFailed(f"could not launch the backfill at {url}: {exc}") from exc
    _say(f"backfill {launched.backfill_id}: {len(launched.partitions)} drop(s) -> {launched.url}")
    for refusal in launched.refused:
        _say(f"  ! refused: {refusal}")
    if wait:
        status = wait_for_backfill(url, launched.backfill_id)
        _say(f"backfill {launched.backfill_id}: {status}")
        sys.exit(0 if status in ("COMPLETED", "COMPLETED_SUCCESS") else 1)


@main.command(context_settings=_CONTEXT)
@click.option("--list-id", required=True, help="The list whose leads to enrich.")
@click.option(
    "--type",
    "enrichment_type",
    type=click.Choice(ENRICHMENT_TYPES),
    required=True,
    help="partial = email (1 credit/lead), phone_only = phone (10), full = both (11).",
)
@click.option("--max-credits", type=click.IntRange(min=0), help="Refuse quotes above this.")
@click.option(
    "--only-missing",
    is_flag=True,
    help="Only leads still missing an email/phone (per-page cohorts, POST /enrichment/by-task); "
    "default: the whole list (POST /enrichment/bulk).",
)
@click.option("--wait/--no-wait", default=True, help="Wait for the workflows (default: wait).")
@_data_dir_option
@_timeout_option
@_verbose_option
def enrich(
    list_id: str,
    enrichment_type: str,
    max_credits: int | None,
    only_missing: bool,
    wait: bool,
    data_dir: str | None,
    timeout: float,
    verbose: bool,
) -> None:
    """Enrich leads already imported into a list; the enrichment sensor watches the workflows."""
    from cleanlist_pipeline.dagster_layer.lifecycle import ENRICH_JOB
    from cleanlist_pipeline.dagster_layer.snapshots import LISTS_PARTITIONS

    _prepare_environment(data_dir=data_dir)
    pipeline = Pipeline.load()
    _say(f"Cleanlist enrich — API: {pipeline.target()}")
    if not pipeline.instance.has_dynamic_partition(LISTS_PARTITIONS.name, list_id):
        pipeline.instance.add_dynamic_partitions(LISTS_PARTITIONS.name, [list_id])
    config = {
        "enrichment_type": enrichment_type,
        "max_credits": max_credits,
        "only_missing": only_missing,
    }
    result = pipeline.execute(
        ENRICH_JOB,
        partition_key=list_id,
        run_config={"ops": {"cleanlist_enrichment": {"config": config}}},
        verbose=verbose,
    )
    if not result.success:
        raise StepFailed(f"enrichment of list {list_id} failed: {_failure_message(result)}")
    meta = _materialization_metadata(result, "cleanlist_enrichment")
    _say(
        f"dispatched {len(meta.get('workflow_ids') or [])} workflow(s) for "
        f"{meta.get('leads_submitted')} leads (quoted {meta.get('estimated_cost')} credits)"
    )
    if not wait:
        _say("the enrichment sensor will watch them (`cleanlist-pipeline status` shows them)")
        sys.exit(0)
    outcomes = wait_for_enrichment(pipeline, {list_id}, timeout_s=timeout, verbose=verbose)
    outcome = outcomes[list_id]
    if not outcome.snapshot and not outcome.snapshot_error:
        outcome.snapshot = snapshot_list(pipeline, list_id, verbose=verbose)
    _print_summary([], outcomes, {})
    sys.exit(1 if outcome.workflows_failed or outcome.snapshot_error else 0)


@main.command(context_settings=_CONTEXT)
@click.option("--list-id", required=True, help="The list to snapshot.")
@_data_dir_option
@_verbose_option
def snapshot(list_id: str, data_dir: str | None, verbose: bool) -> None:
    """Write today's Parquet snapshot of a list and print its path."""
    _prepare_environment(data_dir=data_dir)
    pipeline = Pipeline.load()
    meta = snapshot_list(pipeline, list_id, verbose=verbose)
    _say(
        f"{meta.get('dagster/row_count')} leads (email {meta.get('email_coverage_pct')} %, "
        f"phone {meta.get('phone_coverage_pct')} %)",
        err=True,
    )
    _say(str(meta.get("path")))


@main.command(context_settings=_CONTEXT)
@_drops_option
def status(drops: str | None) -> None:
    """Who the key is, its scopes and balance, the drops and their import state, pending work."""
    from cleanlist_pipeline.api.errors import CleanlistError
    from cleanlist_pipeline.dagster_layer.drops import scan_drops
    from cleanlist_pipeline.dagster_layer.ledger import iter_ledger

    _prepare_environment(drops=drops)
    pipeline = Pipeline.load()
    _say(f"API: {pipeline.target()}")
    failed = False
    try:
        with pipeline.client() as client:
            who = client.whoami()
            balance = client.credits_balance()
        _say(
            f"key: {who.user_name or who.user_id or '?'} ({who.user_email or 'email hidden'}) "
            f"in {who.organization_name or who.organization_id}; tier {who.tier}"
        )
        _say("scopes: " + ", ".join(s for s in who.scopes if s))
        _say(f"balance: {balance.credits:,} credits")
    except CleanlistError as exc:
        _say(f"API check FAILED: {exc}")
        failed = True
    _say("")
    folder = pipeline.settings.drops_dir
    if folder:
        entries: dict[str, list[Any]] = {}
        for entry in iter_ledger(pipeline.instance):
            entries.setdefault(entry.partition_key, []).append(entry)
        scan = scan_drops(folder)
        _say(f"drops in {folder}:")
        for drop in scan:
            mine = entries.get(drop.key, [])
            imported = [e for e in mine if e.imported]
            if not mine:
                state = "not imported"
            else:
                sha = drop.sha256()
                current = [e for e in imported if e.source_sha256 == sha]
                rows = sum(e.rows_imported for e in current)
                failed_chunks = sum(1 for e in mine if not e.imported and e.source_sha256 == sha)
                state = f"imported: {rows} rows in {len(current)} chunk(s)"
                if failed_chunks:
                    state += f", {failed_chunks} chunk(s) failed"
                if imported and not current:
                    state = "CHANGED since its last import (drops are immutable)"
            _say(f"  {drop.key}: {state}")
        for refusal in scan.refused:
            _say(f"  ! refused: {refusal}")
    else:
        _say("drops: no folder configured (CLEANLIST_DROPS_DIR or --drops)")
    _say("")
    _print_pending(pipeline.instance)
    sys.exit(1 if failed else 0)


def _print_pending(instance: dg.DagsterInstance) -> None:
    from cleanlist_pipeline.dagster_layer.enrichment import SENSOR_NAME, EnrichmentCursor
    from cleanlist_pipeline.dagster_layer.lifecycle import load_sensor_cursor

    cursors = {"cleanlist-pipeline": load_sensor_cursor(instance, SENSOR_NAME)}
    for state in instance.all_instigator_state():
        if state.name == SENSOR_NAME and state.instigator_data is not None:
            cursors["sensor daemon"] = getattr(state.instigator_data, "cursor", None)
    shown = False
    now = time.time()
    for origin, raw in cursors.items():
        pending = EnrichmentCursor.from_json(raw).pending
        for w in sorted(pending.values(), key=lambda w: w.seen_at):
            if not shown:
                _say("pending enrichment workflows:")
                shown = True
            _say(
                f"  {w.workflow_id} (list {w.list_id}, {w.source}): {w.status}, "
                f"{w.processed if w.processed is not None else '?'} processed; next poll in "
                f"{max(0, w.next_poll_at - now):.0f} s [{origin}]"
            )
    if not shown:
        _say("pending enrichment workflows: none")


if __name__ == "__main__":  # pragma: no cover
    main()
