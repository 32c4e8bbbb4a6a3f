"""How the import's steps fail: API errors as readable step failures, and the backfill stop."""

from __future__ import annotations

import dagster as dg

from cleanlist_pipeline.api import errors as api_errors
from cleanlist_pipeline.api.scopes import scope_advice
from cleanlist_pipeline.dagster_layer.backfill import (
    backfill_id_of,
    record_backfill_stop,
    stopped_reason,
)
from cleanlist_pipeline.settings import Settings

__all__ = ["api_failure", "check_backfill", "stop_backfill", "stop_backfill_if_needed"]


def api_failure(exc: api_errors.APIError, what: str) -> dg.Failure:
    """A step failure that says what failed, the API's code, problem, fix and request id."""
    parts = [f"{what} failed: HTTP {exc.status}"]
    if exc.code:
        parts[0] += f" {exc.code}"
    if exc.problem:
        parts.append(str(exc.problem))
    if exc.fix:
        parts.append(f"Fix: {exc.fix}")
    advice = scope_advice(exc)
    if advice:
        parts.append(advice)
    if exc.request_id:
        parts.append(f"(request {exc.request_id})")
    return dg.Failure(
        description=" ".join(parts),
        metadata={"status": exc.status, "code": exc.code or "", "request_id": exc.request_id or ""},
    )


def _stops_backfill(exc: BaseException) -> bool:
    # These fail every partition alike; other errors are the partition's own.
    return isinstance(
        exc,
        api_errors.AuthenticationError
        | api_errors.PermissionDeniedError
        | api_errors.InsufficientCreditsError,
    )


def check_backfill(context: dg.OpExecutionContext, settings: Settings) -> str | None:
    """The run's backfill id; fail at once when an earlier run stopped that backfill."""
    backfill_id = backfill_id_of(context.run.tags)
    reason = stopped_reason(context.instance, settings, backfill_id)
    if reason:
        raise dg.Failure(
            description=f"Backfill {backfill_id} was stopped by an earlier run: {reason}. "
            "This partition was not imported; fix the cause and launch a new backfill "
            "(or re-execute the failed runs).",
        )
    return backfill_id


def stop_backfill(
    context: dg.OpExecutionContext, settings: Settings, backfill_id: str, reason: str
) -> None:
    """Stop the backfill for every later run (and cancel it when a webserver is configured)."""
    cancelled = record_backfill_stop(
        context.instance,
        settings,
        backfill_id,
        reason,
        run_id=context.run_id,
        partition=context.partition_key,
    )
    context.log.error(
        f"Stopped backfill {backfill_id}: the remaining partitions end without calling the API"
        + ("; the webserver cancelled it." if cancelled else ".")
    )


def stop_backfill_if_needed(
    context: dg.OpExecutionContext,
    settings: Settings,
    backfill_id: str | None,
    exc: BaseException,
) -> None:
    """Stop the backfill when ``exc`` would fail each of its partitions the same way."""
    if backfill_id and _stops_backfill(exc):
        status = getattr(exc, "status", "")
        code = getattr(exc, "code", "") or ""
        stop_backfill(context, settings, backfill_id, f"HTTP {status} {code}: {exc}".strip())
