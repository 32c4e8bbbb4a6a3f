"""Everything ``cleanlist-pipeline`` prints: progress lines, summaries, plans and status.

The flows in ``runner`` decide *what* happened; this module decides how it reads. Data lines go
to stdout; notes a script would not parse (``snapshot``'s coverage line) go to stderr.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import click

from cleanlist_pipeline.api.scopes import KeyCheck
from cleanlist_pipeline.cli.outcomes import DropOutcome, ListOutcome, PendingWorkflow
from cleanlist_pipeline.settings import Settings

if TYPE_CHECKING:  # the drop state lives next to the ledger, which imports Dagster
    from cleanlist_pipeline.cli.estimate import DropRequests, RequestRate
    from cleanlist_pipeline.dagster_layer.drop_state import DropState

__all__ = [
    "location",
    "say",
    "target",
]


def say(message: str = "", *, err: bool = False) -> None:
    """Print one line (stdout, or stderr with ``err``)."""
    click.echo(message, err=err)


def target(settings: Settings) -> str:
    """Where API calls go, in words (never the key)."""
    if settings.embedded:
        return "embedded sandbox (local; no real credits are spent)"
    return settings.api_base_url


def location(meta: Mapping[str, Any]) -> str | None:
    """Where a materialization's file is: ``dagster/uri`` (a ``file://`` URI printed as a
    plain path) or, from older runs, ``path``."""
    uri = meta.get("dagster/uri") or meta.get("path")
    if uri is None:
        return None
    text = str(uri)
    parts = urlsplit(text)
    if parts.scheme == "file":
        return unquote(parts.path)
    return text


def instance_without_dagster_home(home: str) -> None:
    say(f"DAGSTER_HOME is not set; the Dagster instance is in {home}", err=True)


def refusals(refused: Iterable[str]) -> None:
    for refusal in refused:
        say(f"  ! refused: {refusal}")


# ---------------------------------------------------------------------------------------------
# run / demo
# ---------------------------------------------------------------------------------------------


def run_header(settings: Settings, instance_dir: str) -> None:
    say(f"Cleanlist pipeline — API: {target(settings)}")
    say(f"  Dagster instance: {instance_dir}")
    say(f"  drops: {settings.drops_dir}")
    say(f"  data:  {settings.data_dir}")


def section(title: str) -> None:
    say("")
    say(title)


def drop_started(number: int, total: int, key: str) -> None:
    say(f"  [{number}/{total}] importing {key} …")


def drop_finished(outcome: DropOutcome) -> None:
    run = f"(run {outcome.run_id[:8]})"
    if not outcome.success:
        say(f"        FAILED: {outcome.error} {run}")
        return
    earlier = f", {outcome.already_imported} imported earlier" if outcome.already_imported else ""
    say(
        f"        {outcome.imported} imported, {outcome.skipped} skipped by the API, "
        f"{outcome.rejected + outcome.removed_duplicates} rejected before sending{earlier}; "
        f"{len(outcome.workflows)} enrichment workflow(s); {outcome.seconds:.1f} s {run}"
    )


def sensor_intro(sensor_name: str) -> None:
    say(
        f"  evaluating the real sensor definition `{sensor_name}` against the Dagster instance "
        "with build_sensor_context, and executing the runs it requests"
    )


def workflow_unsuccessful(meta: Mapping[str, Any]) -> None:
    say(
        f"    ! workflow {meta.get('workflow_id')} ended {meta.get('status')}: "
        f"{meta.get('refund_message') or 'see the enrichment_succeeded check'}"
    )


def workflow_event(tick: int, meta: Mapping[str, Any], terminal: bool) -> None:
    line = (
        f"    tick {tick}: workflow {meta.get('workflow_id')} {meta.get('status')} "
        f"{meta.get('processed/total')} processed, {meta.get('emails_found')} emails, "
        f"{meta.get('phones_found')} phones"
    )
    if terminal:
        line += (
            f"; {meta.get('credits_charged')} credits charged, "
            f"{meta.get('credits_refunded')} refunded"
        )
    say(line)


def snapshot_requested(tick: int, list_id: str, run_id: str, error: str | None) -> None:
    if error is None:
        say(
            f"    tick {tick}: sensor requested the snapshot of list {list_id}; "
            f"run {run_id[:8]} succeeded"
        )
    else:
        say(f"    tick {tick}: snapshot run {run_id[:8]} FAILED: {error}")


def summary(
    drops: Sequence[DropOutcome], lists: Mapping[str, ListOutcome], catalog: Mapping[str, Any]
) -> None:
    section("Summary")
    say("-------")
    say(f"{'drop':<36} {'rows':>6} {'imported':>9} {'skipped':>8} {'rejected':>9}  status")
    for d in drops:
        status = "ok" if d.accounted_for else ("FAILED" if not d.success else "rows unaccounted")
        rejected = d.rejected + d.removed_duplicates
        say(
            f"{d.partition_key[:36]:<36} {d.data_records:>6} {d.imported:>9} {d.skipped:>8} "
            f"{rejected:>9}  {status}"
            + (f" ({d.already_imported} imported earlier)" if d.already_imported else "")
        )
    for lo in lists.values():
        snap = lo.snapshot
        section(f"list {lo.list_id}")
        say(
            f"  enrichment: {lo.workflows_finished} workflow(s) finished in this session, "
            f"{lo.workflows_failed} unsuccessful; credits charged {lo.credits_charged:g}, "
            f"refunded {lo.credits_refunded:g}"
        )
        if snap:
            say(
                f"  snapshot: {snap.get('dagster/row_count')} leads; email coverage "
                f"{snap.get('email_coverage_pct')} %, phone coverage "
                f"{snap.get('phone_coverage_pct')} %"
            )
            say(f"  parquet:  {location(snap)}")
        elif lo.snapshot_error:
            say(f"  snapshot FAILED: {lo.snapshot_error}")
    if catalog:
        section(f"lists catalog: {catalog.get('dagster/row_count')} lists -> {location(catalog)}")


def done(seconds: float, accounted: bool, failed: bool) -> None:
    say("")
    say(
        f"done in {seconds:.1f} s — "
        + ("every row accounted for" if accounted else "SOME ROWS ARE NOT ACCOUNTED FOR")
        + ("" if not failed else "; at least one step FAILED")
    )


# ---------------------------------------------------------------------------------------------
# plan, snapshot, enrich, backfill
# ---------------------------------------------------------------------------------------------


def plan(items: Iterable[Mapping[str, Any]]) -> None:
    for item in items:
        if item.get("error"):
            say(f"{item.get('path')}: ERROR {item['error']}")
            continue
        rejects = sum(len(v) for v in (item.get("rejects") or {}).values())
        predicted = sum(len(v) for v in (item.get("predicted_skips") or {}).values())
        credits = item.get("estimated_credits_by_type") or {}
        say(f"{item['partition_key']}")
        say(
            f"  records {item['data_records']}, to send {item['rows_to_send']} in "
            f"{len(item['chunks'])} chunk(s); rejected before sending {rejects}, duplicates "
            f"removed {len(item.get('removed_duplicates') or [])}; predicted API skips {predicted}"
        )
        say("  mapping: " + ", ".join(f"{k}←{v!r}" for k, v in item["column_mapping"].items()))
        if item.get("unmapped_columns"):
            say("  unmapped (dropped): " + ", ".join(item["unmapped_columns"]))
        say(
            "  enrichment would reserve: "
            + ", ".join(f"{t} {c:,} credits" for t, c in credits.items())
        )


def snapshot_written(meta: Mapping[str, Any]) -> None:
    say(
        f"{meta.get('dagster/row_count')} leads (email {meta.get('email_coverage_pct')} %, "
        f"phone {meta.get('phone_coverage_pct')} %)",
        err=True,
    )
    say(str(location(meta)))


def enrichment_dispatched(meta: Mapping[str, Any], waiting: bool) -> None:
    say(
        f"dispatched {len(meta.get('workflow_ids') or [])} workflow(s) for "
        f"{meta.get('leads_submitted')} leads (quoted {meta.get('estimated_cost')} credits)"
    )
    if not waiting:
        say("the enrichment sensor will watch them (`cleanlist-pipeline status` shows them)")


def backfill_launched(backfill_id: str, partitions: int, url: str, refused: Iterable[str]) -> None:
    say(f"backfill {backfill_id}: {partitions} drop(s) -> {url}")
    refusals(refused)


def plan_requests(
    drops: Sequence[tuple[str, DropRequests]],
    snapshot: int,
    rate: RequestRate,
    settings: Settings,
) -> None:
    """The requests each drop's import needs, the list's snapshot, and the time at ``rate``."""
    section(f"Requests at the configured rate limit: {rate.describe()}")
    if settings.embedded:
        say(
            "  (the embedded sandbox does not rate-limit; these are the times the real API's "
            "limits would take)"
        )
    if settings.enrichment_type is None:
        say("  import only: enrichment adds an estimate and ≥ 1 status poll a chunk (--enrichment)")
    total = 0
    for key, d in drops:
        parts = [f"{d.list_lookups} list lookup", f"{d.chunks:,} chunk(s)"]
        if d.estimates:
            parts.insert(1, f"{d.estimates} estimate")
        if d.enrichment_dispatches:
            parts.append(
                f"{d.enrichment_dispatches:,} enrichment dispatch(es) with the chunks, "
                f"≥ {d.enrichment_polls_min:,} status poll(s)"
            )
        say(f"  {key}: {rate.took(d.total)} — {', '.join(parts)}")
        total += d.total
    say(f"  snapshot of the list: {rate.took(snapshot)} — 1 lead count, {snapshot - 1:,} page(s)")
    total += snapshot
    say(f"  total: {rate.took(total)}")


# ---------------------------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------------------------


def identity(who: Any, balance: Any) -> None:
    say(
        f"key: {who.user_name or who.user_id or '?'} ({who.user_email or 'email hidden'}) "
        f"in {who.organization_name or who.organization_id}; tier {who.tier}"
    )
    say("scopes: " + ", ".join(s for s in who.scopes if s))
    if balance is not None:  # None: the key may not read it (see key_scopes)
        say(f"balance: {balance.credits:,} credits")


def key_scopes(check: KeyCheck) -> None:
    """The connector's scopes the key lacks, and what each disables (``status``)."""
    if check.unknown:
        say(f"scopes: could not be checked ({check.unknown})")
    if not check.missing:
        if check.granted is not None:
            say("missing scopes: none (the key can do everything the connector does)")
        return
    say("missing scopes:")
    for scope, disabled in check.missing.items():
        say(f"  {scope} — disables {disabled}")


def plan_scopes(check: KeyCheck | None, consequences: Sequence[str]) -> None:
    """``plan``'s key check: missing scopes and what they mean for these drops."""
    if check is None:
        say("key scopes: not checked (no API key: the embedded sandbox grants every scope)")
        return
    key_scopes(check)
    for note in consequences:
        say(f"  → {note}")


def drop_states(folder: str, states: Iterable[DropState], refused: Iterable[str]) -> None:
    say(f"drops in {folder}:")
    for state in states:
        say(f"  {state.key}: {state.describe()}")
    refusals(refused)


def pending(workflows: Sequence[PendingWorkflow]) -> None:
    if not workflows:
        say("pending enrichment workflows: none")
        return
    say("pending enrichment workflows:")
    for w in workflows:
        poll = f"; next poll in {w.next_poll_in_s:.0f} s" if w.next_poll_in_s is not None else ""
        say(
            f"  {w.workflow_id} (list {w.list_id}, {w.source}): {w.status}, "
            f"{w.processed or '?'} processed{poll}"
        )
