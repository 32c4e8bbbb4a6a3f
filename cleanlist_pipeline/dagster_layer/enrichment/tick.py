"""One tick of the enrichment sensor, as a function testable without Dagster's daemon.

The sensor polls ``GET /enrichment/status/{id}`` for workflows not yet terminal. A tick spends at
most ``max_polls_per_tick`` requests, each only when ``client.try_acquire()`` grants a rate-limit
token, and stops after ``time_budget_s``. Each workflow's interval doubles from ``min_interval_s``
to ``max_interval_s`` while it runs, and due workflows are served least-recently-polled first, so
a large backlog is worked through without starving anyone.

Every poll that shows change becomes an ``AssetObservation`` on the enrichment asset (partition =
list id). A terminal status becomes a final observation (``cleanlist/event = terminal``, with
``credits_charged``/``credits_refunded``) and an ``enrichment_succeeded`` check evaluation, failed
for ``failed``/``cancelled`` or ``refund_status = pending_review`` (``refund_message`` shown as
given). When every workflow seen for a list is terminal, the tick requests one snapshot run for
that list — selecting the snapshot asset only; its run key names the workflows, so it is
requested once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from cleanlist_pipeline.api.errors import (
    AuthenticationError,
    CleanlistError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from cleanlist_pipeline.contract import FAILED_STATUSES, TERMINAL_STATUSES
from cleanlist_pipeline.dagster_layer.enrichment.cursor import (
    EnrichmentCursor,
    PollPolicy,
    TrackedWorkflow,
    snapshot_run_key,
)
from cleanlist_pipeline.dagster_layer.enrichment.events import ENRICHMENT_CHECK, EVENT, Dispatch
from cleanlist_pipeline.settings import Names

__all__ = ["TickOutcome", "run_tick"]

_DEFAULT_NAMES = Names()


@dataclass
class TickOutcome:
    """What one evaluation produced (turned into a ``SensorResult`` by the sensor)."""

    asset_events: list[dg.AssetObservation | dg.AssetCheckEvaluation] = field(default_factory=list)
    run_requests: list[dg.RunRequest] = field(default_factory=list)
    new_lists: list[str] = field(default_factory=list)
    polls: int = 0
    stopped_by: str | None = None


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _progress_metadata(tracked: TrackedWorkflow, status: Any) -> dict[str, Any]:
    summary = dict(status.summary or {})
    total = _int(status.total)
    processed = _int(status.processed)
    meta: dict[str, Any] = {
        "workflow_id": tracked.workflow_id,
        "list_id": tracked.list_id,
        "source": tracked.source,
        "status": status.status,
        "processed/total": f"{processed if processed is not None else '?'}/"
        f"{total if total is not None else '?'}",
        "completed": _int(status.completed) or 0,
        "failed": _int(status.failed) or 0,
        "emails_found": _int(summary.get("emails_found")) or 0,
        "phones_found": _int(summary.get("phones_found")) or 0,
    }
    if status.progress is not None:
        meta["progress_pct"] = float(status.progress)
    return meta


def _terminal_events(
    tracked: TrackedWorkflow, status: Any, key: dg.AssetKey
) -> list[dg.AssetObservation | dg.AssetCheckEvaluation]:
    meta = _progress_metadata(tracked, status)
    meta[EVENT] = "terminal"
    meta["credits_charged"] = _int(status.credits_charged) or 0
    meta["credits_refunded"] = _int(status.credits_refunded) or 0
    meta["refund_status"] = status.refund_status or "not_applicable"
    passed = status.status not in FAILED_STATUSES and status.refund_status != "pending_review"
    check_meta: dict[str, Any] = {
        "list_id": tracked.list_id,
        "workflow_id": tracked.workflow_id,
        "status": status.status,
        "credits_charged": meta["credits_charged"],
        "credits_refunded": meta["credits_refunded"],
        "refund_status": meta["refund_status"],
    }
    if status.refund_message:
        check_meta["refund_message"] = dg.MetadataValue.text(status.refund_message)
    description = None
    if not passed:
        description = status.refund_message or (
            f"enrichment workflow {tracked.workflow_id} ended {status.status}"
        )
    return [
        dg.AssetObservation(asset_key=key, partition=tracked.list_id, metadata=meta),
        dg.AssetCheckEvaluation(
            asset_key=key,
            check_name=ENRICHMENT_CHECK,
            passed=passed,
            metadata=check_meta,
            description=description,
        ),
    ]


@dataclass(frozen=True)
class _LostStatus:
    """Stands in for a status the API no longer knows (404 on an old handle)."""

    workflow_id: str
    status: str = "failed"
    progress: float | None = None
    total: int | None = None
    processed: int | None = None
    completed: int | None = None
    failed: int | None = None
    summary: dict[str, Any] | None = None
    credits_charged: int | None = None
    credits_refunded: int | None = None
    refund_status: str | None = None
    refund_message: str | None = (
        "The API answered 404 for this workflow handle: its status can no longer be read. "
        "Check the list's leads and your credit history in Cleanlist."
    )


@contextmanager
def _prepaid(client: Any) -> Iterator[None]:
    """Let the slot ``try_acquire()`` just took pay for the next request.

    The client's own limiter would otherwise take a second slot, blocking (up to minutes) when
    the window is full — too long for a sensor tick, and twice the budget for one request.
    """
    limiter = getattr(client, "limiter", None)
    if limiter is None:
        yield
        return
    try:
        client.limiter = None
    except AttributeError:  # a wrapper that forbids it: the client's acquire stays in place
        yield
        return
    try:
        yield
    finally:
        client.limiter = limiter


def run_tick(
    state: EnrichmentCursor,
    dispatches: list[Dispatch],
    terminal_seen: set[str],
    client: Any,
    policy: PollPolicy,
    *,
    now: Callable[[], float] = time.time,
    known_lists: Callable[[str], bool] = lambda _list_id: True,
    already_finished: Callable[[Dispatch], bool] = lambda _dispatch: False,
    names: Names = _DEFAULT_NAMES,
) -> TickOutcome:
    """Advance ``state`` by one tick: adopt new workflows, poll due ones, request snapshots.

    ``client`` needs ``try_acquire()`` and ``enrichment_status(workflow_id)``; ``now`` is a clock
    in seconds; ``already_finished`` says whether the event log already holds a terminal record
    of a workflow (a replayed import repeats an old workflow id); ``names`` are the instance's
    (the enrichment asset observed, the snapshot asset requested). Pure apart from those, so it
    is testable without Dagster.
    """
    outcome = TickOutcome()
    started = now()
    for workflow_id in terminal_seen:
        # A terminal observation we emitted whose tick's cursor was lost: already finished.
        tracked = state.pending.pop(workflow_id, None)
        if tracked is not None:
            state.finished.setdefault(tracked.list_id, []).append(workflow_id)
    finished_ids = {wid for ids in state.finished.values() for wid in ids}
    for dispatch in dispatches:
        wid = dispatch.workflow_id
        if wid in state.pending or wid in terminal_seen or wid in finished_ids:
            continue
        if already_finished(dispatch):
            finished_ids.add(wid)
            continue
        state.pending[wid] = TrackedWorkflow(
            workflow_id=wid,
            list_id=dispatch.list_id,
            source=dispatch.source,
            seen_at=started,
            next_poll_at=started,
            interval_s=policy.min_interval_s,
        )
        if dispatch.list_id not in outcome.new_lists and not known_lists(dispatch.list_id):
            outcome.new_lists.append(dispatch.list_id)

    due = sorted(
        (w for w in state.pending.values() if w.next_poll_at <= started),
        key=lambda w: (w.poll_seq, w.seen_at, w.workflow_id),
    )
    for tracked in due:
        if outcome.polls >= policy.max_polls_per_tick:
            outcome.stopped_by = "request budget"
            break
        if now() - started >= policy.time_budget_s:
            outcome.stopped_by = "time budget"
            break
        if not client.try_acquire():
            outcome.stopped_by = "rate limit"
            break
        outcome.polls += 1
        state.polls += 1
        polled_at = now()
        tracked.last_polled_at = polled_at
        tracked.poll_seq = state.polls
        try:
            with _prepaid(client):
                status: Any = client.enrichment_status(tracked.workflow_id)
        except RateLimitedError:
            tracked.next_poll_at = polled_at + tracked.interval_s
            outcome.stopped_by = "rate limited by the API"
            break
        except NotFoundError:
            status = _LostStatus(tracked.workflow_id)
        except (AuthenticationError, PermissionDeniedError):
            # A key problem (revoked, missing enrich:read) fails the tick visibly; the cursor of
            # a failed tick is not saved, so nothing is lost.
            raise
        except CleanlistError:
            # Transient (5xx, transport) or unexpected: keep the workflow, back off.
            tracked.errors += 1
            tracked.interval_s = min(tracked.interval_s * 2, policy.max_interval_s)
            tracked.next_poll_at = polled_at + tracked.interval_s
            continue
        tracked.errors = 0
        if status.status in TERMINAL_STATUSES:
            # Another evaluator (a CLI run beside the daemon) may have recorded it already.
            if not already_finished(Dispatch(tracked.workflow_id, tracked.list_id, "")):
                outcome.asset_events.extend(
                    _terminal_events(tracked, status, names.enrichment_asset)
                )
            del state.pending[tracked.workflow_id]
            state.finished.setdefault(tracked.list_id, []).append(tracked.workflow_id)
            continue
        processed = _int(status.processed)
        if status.status != tracked.status or processed != tracked.processed:
            meta = _progress_metadata(tracked, status)
            meta[EVENT] = "progress"
            outcome.asset_events.append(
                dg.AssetObservation(
                    asset_key=names.enrichment_asset, partition=tracked.list_id, metadata=meta
                )
            )
        tracked.status = status.status
        tracked.processed = processed
        tracked.next_poll_at = polled_at + tracked.interval_s
        tracked.interval_s = min(tracked.interval_s * 2, policy.max_interval_s)

    open_lists = state.open_lists()
    for list_id in sorted(state.finished):
        if list_id in open_lists:
            continue
        workflow_ids = state.finished.pop(list_id)
        outcome.run_requests.append(
            dg.RunRequest(
                run_key=snapshot_run_key(list_id, workflow_ids),
                partition_key=list_id,
                # Only the snapshot: its upstream edges (imports, enrichment) are not re-run.
                asset_selection=[names.snapshot_asset],
                tags={"cleanlist/list_id": list_id, "cleanlist/trigger": "enrichment"},
            )
        )
        if list_id not in outcome.new_lists and not known_lists(list_id):
            outcome.new_lists.append(list_id)
    return outcome
