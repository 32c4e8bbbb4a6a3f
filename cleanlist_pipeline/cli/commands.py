"""``cleanlist-pipeline``: import drops, watch enrichment, snapshot lists — from a shell.

Every command builds one ``Settings`` from the environment with its flags on top and works
through the same Dagster definitions the UI loads, on the persistent instance in
``$DAGSTER_HOME`` (else a per-user state directory), so runs, the import ledger and the
enrichment sensor's state are the ones ``dagster dev`` shows. ``CLEANLIST_API_KEY`` and
``CLEANLIST_BASE_URL`` select the API; without a key everything runs against the embedded
sandbox (no real credits).

Exit status: 0 when every step succeeded and every CSV row is accounted for (imported, skipped by
the API, rejected or removed before sending); 1 when any step failed; 2 on usage errors.

This module parses arguments only; the flows are in ``runner`` (imported when a command runs,
so ``--help`` stays fast) and the output in ``render``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from cleanlist_pipeline import contract
from cleanlist_pipeline.cli import render
from cleanlist_pipeline.cli.outcomes import StepFailed
from cleanlist_pipeline.settings import Settings, SettingsError

__all__ = ["main"]

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
ENRICHMENT_CHOICE = click.Choice(contract.ENRICHMENT_TYPES)


def _settings(**flags: Any) -> Settings:
    """The command's settings; a setting the environment gives wrongly is a usage error."""
    from cleanlist_pipeline.cli.setup import cli_settings  # no Dagster import: see `snapshot`

    try:
        return cli_settings(**flags)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


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
    type=ENRICHMENT_CHOICE,
    help="Dispatch paid enrichment while importing (default: $CLEANLIST_ENRICHMENT_TYPE, "
    "else import only).",
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
    settings = _settings(
        drops=drops,
        list_name=list_name,
        enrichment_type=enrichment,
        max_credits=max_credits,
        data_dir=data_dir,
    )
    from cleanlist_pipeline.cli.runner import run_pipeline

    sys.exit(run_pipeline(settings, mapping=column_mapping, timeout_s=timeout, verbose=verbose))


@main.command(context_settings=_CONTEXT)
@click.option(
    "--enrichment",
    type=ENRICHMENT_CHOICE,
    default="full",
    show_default=True,
    help="Enrichment dispatched with the import (sandbox credits only).",
)
@_data_dir_option
@_timeout_option
@_verbose_option
def demo(enrichment: str, data_dir: str | None, timeout: float, verbose: bool) -> None:
    """`run` with the sample drops, on the embedded sandbox (refuses with a real API key)."""
    from cleanlist_pipeline.cli.runner import demo_settings, run_pipeline

    try:
        settings = demo_settings(enrichment_type=enrichment, data_dir=data_dir)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    sys.exit(run_pipeline(settings, mapping=None, timeout_s=timeout, verbose=verbose))


@main.command(context_settings=_CONTEXT)
@_drops_option
@click.option(
    "--enrichment",
    type=ENRICHMENT_CHOICE,
    help="Count the requests enrichment adds (default: $CLEANLIST_ENRICHMENT_TYPE, else none).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(drops: str | None, enrichment: str | None, as_json: bool) -> None:
    """Show what importing each drop would do (mapping, chunks, rejects, credits, requests and
    the time they take at the rate limit); sends nothing."""
    settings = _settings(drops=drops, enrichment_type=enrichment)
    if not settings.drops_dir:
        raise click.UsageError("no drop folder: pass --drops or set CLEANLIST_DROPS_DIR")
    from cleanlist_pipeline.cli.runner import describe_plan

    try:
        items = describe_plan(settings)
    except (OSError, ValueError) as exc:
        raise StepFailed(str(exc)) from exc
    if as_json:
        render.say(json.dumps(items, indent=2, default=str))
    else:
        render.plan(items)
        _plan_requests(items, settings)
        _plan_scopes(settings)
    sys.exit(1 if any(i.get("error") for i in items) else 0)


def _plan_scopes(settings: Settings) -> None:
    """``plan``'s key check: the scopes the key lacks and what that disables here. One free
    ``GET /whoami`` with a key (no drop data is sent); the embedded sandbox grants every scope."""
    if settings.embedded:
        render.plan_scopes(None, [])
        return
    from cleanlist_pipeline.cli.status import plan_consequences, plan_key_check

    check = plan_key_check(settings)
    render.plan_scopes(check, plan_consequences(check, settings))


def _plan_requests(items: list[dict[str, Any]], settings: Settings) -> None:
    """``plan``'s request and time estimate (the items carry it as ``requests`` too)."""
    from cleanlist_pipeline.cli.estimate import RequestRate, drop_requests, snapshot_requests

    rate = RequestRate.from_settings(settings)
    drops = [
        (item["partition_key"], drop_requests(item, settings.enrichment_type))
        for item in items
        if not item.get("error")
    ]
    render.plan_requests(drops, snapshot_requests(d for _, d in drops), rate, settings)


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
    settings = _settings(drops=drops)
    from cleanlist_pipeline.cli.runner import launch_backfill, wait_for_backfill_progress

    try:
        launched = launch_backfill(url, settings, max_credits=max_credits)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    except Exception as exc:  # httpx/GraphQL failures: reported, exit 1
        raise StepFailed(f"could not launch the backfill at {url}: {exc}") from exc
    render.backfill_launched(
        launched.backfill_id, len(launched.partitions), launched.url, launched.refused
    )
    if wait:
        # --wait means wait: an hours-long import must not be given up after minutes
        status = wait_for_backfill_progress(url, settings, launched, timeout_s=7 * 24 * 3600.0)
        render.say(f"backfill {launched.backfill_id}: {status}")
        sys.exit(0 if status in ("COMPLETED", "COMPLETED_SUCCESS") else 1)


@main.command(context_settings=_CONTEXT)
@click.option("--list-id", required=True, help="The list whose leads to enrich.")
@click.option(
    "--type",
    "enrichment_type",
    type=ENRICHMENT_CHOICE,
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
    settings = _settings(data_dir=data_dir)
    from cleanlist_pipeline.cli import runner

    pipeline = runner.Pipeline.open(settings)
    render.say(f"Cleanlist enrich — API: {render.target(settings)}")
    meta = runner.enrich_list(
        pipeline,
        list_id,
        enrichment_type=enrichment_type,
        max_credits=max_credits,
        only_missing=only_missing,
        verbose=verbose,
    )
    render.enrichment_dispatched(meta, waiting=wait)
    if not wait:
        sys.exit(0)
    outcomes = runner.wait_for_enrichment(pipeline, {list_id}, timeout_s=timeout, verbose=verbose)
    outcome = outcomes[list_id]
    if not outcome.snapshot and not outcome.snapshot_error:
        outcome.snapshot = runner.snapshot_list(pipeline, list_id, verbose=verbose)
    render.summary([], outcomes, {})
    sys.exit(1 if outcome.workflows_failed or outcome.snapshot_error else 0)


@main.command(context_settings=_CONTEXT)
@click.option("--list-id", required=True, help="The list to snapshot.")
@click.option(
    "--record",
    is_flag=True,
    help="Run it as a Dagster run of leads_snapshot on the instance (shows in the UI; slower "
    "start, more memory). Default: write the same file directly, without Dagster.",
)
@_data_dir_option
@_verbose_option
def snapshot(list_id: str, record: bool, data_dir: str | None, verbose: bool) -> None:
    """Write today's Parquet snapshot of a list and print its path."""
    settings = _settings(data_dir=data_dir)
    if record:
        from cleanlist_pipeline.cli import runner

        meta = runner.snapshot_list(runner.Pipeline.open(settings), list_id, verbose=verbose)
        render.snapshot_written(meta)
        return
    # Direct: only the client, the storage layer and pyarrow are imported (no Dagster, no
    # pandas), the next page is fetched while this one is written (cli/direct_snapshot.py).
    import logging

    from cleanlist_pipeline.api.errors import CleanlistError
    from cleanlist_pipeline.cli.direct_snapshot import snapshot_direct
    from cleanlist_pipeline.cli.progress import Progress

    # The client's request log: shown with -v (as Dagster's run log is on the --record path),
    # else kept off stderr, where a failure is reported once, below.
    if verbose:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("cleanlist_pipeline").setLevel(logging.INFO)  # retries, waits; not httpx
    else:
        logging.getLogger("cleanlist_pipeline.api").addHandler(logging.NullHandler())

    try:
        with Progress(f"snapshot of list {list_id}", "pages", stream=sys.stderr) as progress:
            meta = snapshot_direct(settings, list_id, progress=progress)
    except CleanlistError as exc:
        raise StepFailed(f"snapshot of list {list_id} failed: {exc}") from exc
    if verbose:
        rate = meta["dagster/row_count"] / meta["seconds"] if meta["seconds"] else 0.0
        render.say(f"written in {meta['seconds']:.3f} s ({rate:,.0f} leads/s)", err=True)
    render.snapshot_written(meta)


@main.command(context_settings=_CONTEXT)
@_drops_option
def status(drops: str | None) -> None:
    """Who the key is, its scopes and balance, the drops and their import state, pending work."""
    settings = _settings(drops=drops)
    from cleanlist_pipeline.api.errors import CleanlistError
    from cleanlist_pipeline.cli.runner import Pipeline
    from cleanlist_pipeline.cli.status import check_key, pending_workflows, scan_and_state

    pipeline = Pipeline.open(settings)
    render.say(f"API: {render.target(settings)}")
    failed = False
    try:
        with pipeline.client() as client:
            check = check_key(client)
        render.identity(check.who, check.balance)
        render.key_scopes(check)
    except CleanlistError as exc:
        render.say(f"API check FAILED: {exc}")
        failed = True
    render.say("")
    if settings.drops_dir:
        scan, states = scan_and_state(pipeline)
        render.drop_states(settings.drops_dir, states, scan.refused)
    else:
        render.say("drops: no folder configured (CLEANLIST_DROPS_DIR or --drops)")
    render.say("")
    render.pending(pending_workflows(pipeline))
    sys.exit(1 if failed else 0)
