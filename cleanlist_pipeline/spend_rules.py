"""The spend guard's rules, free of any orchestrator (Dagster and Airflow both apply them).

Paid enrichment is refused, before anything is sent, when it could cost more than the budget
(``max_credits``) or the balance. Everything here is a pure function over the API's answers (a
quote, an estimate, or the error the estimate call raised) that either returns or raises
:class:`SpendRuleError`; no API call is made here. The Dagster layer (``dagster_layer/spend.py``)
turns a refusal into its ``dg.Failure`` subclass; the Airflow provider into an ``AirflowException``.

```
SpendRuleError              a paid dispatch was refused; nothing (more) was sent
└── QuoteUnavailableError   a quote was needed, but POST /credits/estimate could not give one
```

Which rule applies when:

- :func:`quote_needed` — is an estimate worth asking for (something is dispatched at all)?
- :func:`without_quote` — the estimate call failed: a key without ``credits:read`` (403
  ``insufficient_scope``) or a deployment without the route (404) is a *quote gap*. For CSV import
  the quote is optional: with no ``max_credits`` the caller logs the returned warning and
  dispatches without a ``quote_id`` (the server's own ``insufficient_credits`` still protects the
  balance); with ``max_credits`` there is no way to hold the cost against it, so it refuses. For
  ``enrichment/bulk`` and ``/by-task`` the quote is required, so a gap always refuses.
- :func:`guard_import_estimate`, :func:`guard_quote`, :func:`guard_worst_case` — hold a quote
  (or the worst case) against ``max_credits`` and the balance.

>>> worst_case_credits(40, "full")
440
>>> quote_needed(dispatch=True, rows=0)
False
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cleanlist_pipeline.api import errors as api_errors
from cleanlist_pipeline.contract import QUOTE_OPTIONAL_TOOLS, SCOPE_CREDITS_READ, UNIT_COSTS

__all__ = [
    "EstimateVerdict",
    "QuoteGap",
    "QuoteUnavailableError",
    "SpendRuleError",
    "guard_import_estimate",
    "guard_quote",
    "guard_worst_case",
    "quote_gap",
    "quote_needed",
    "without_quote",
    "worst_case_credits",
]


class SpendRuleError(Exception):
    """A spend rule refused a paid dispatch: nothing (more) was sent. ``description`` says why;
    ``metadata`` holds the numbers (credits, rows), never a key or a lead's data."""

    def __init__(self, description: str, metadata: Mapping[str, Any] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.metadata: dict[str, Any] = dict(metadata or {})


class QuoteUnavailableError(SpendRuleError):
    """A quote was needed (``max_credits`` was set, or the paid call requires one) but
    ``POST /credits/estimate`` could not give one; ``missing_scope`` names the scope it lacked."""

    def __init__(
        self,
        description: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        missing_scope: str | None = None,
    ) -> None:
        super().__init__(description, metadata)
        self.missing_scope = missing_scope


@dataclass(frozen=True)
class QuoteGap:
    """Why the estimate could not quote: the scope the key lacks, or the route being absent."""

    status: int
    missing_scope: str | None
    reason: str


def quote_needed(*, dispatch: bool, rows: int) -> bool:
    """Is an estimate worth asking for? Only when something paid is dispatched."""
    return dispatch and rows > 0


def worst_case_credits(leads: int, enrichment_type: str) -> int:
    """Credits ``leads`` cost if enrichment finds everything (the reservation)."""
    return leads * UNIT_COSTS[enrichment_type]


def quote_gap(exc: BaseException) -> QuoteGap | None:
    """The quote gap ``exc`` (raised by ``POST /credits/estimate``) stands for, else None.

    403 ``insufficient_scope`` means the key lacks ``credits:read``; 404 means this deployment
    does not offer the estimate (or, for an estimate by ``list_id``, the list is not visible —
    the server's own words are kept so a reader can tell). Any other error is a plain failure.
    """
    if isinstance(exc, api_errors.InsufficientScopeError):
        scope = (exc.required_scopes or [SCOPE_CREDITS_READ])[0]
        return QuoteGap(
            exc.status,
            scope,
            f"the API key lacks the {scope!r} scope (HTTP 403 insufficient_scope)",
        )
    if isinstance(exc, api_errors.NotFoundError):
        said = f": {exc.problem}" if exc.problem else ""
        return QuoteGap(
            exc.status, None, f"POST /credits/estimate answered HTTP 404{said} (not offered here)"
        )
    return None


def without_quote(
    exc: BaseException,
    *,
    tool: str,
    max_credits: int | None,
    action: str,
) -> str | None:
    """Decide what happens when the estimate for ``tool`` failed with ``exc``.

    Returns None when ``exc`` is not a quote gap (the caller handles it as any API error);
    returns the warning to log when ``action`` may go ahead without a ``quote_id``; raises
    :class:`QuoteUnavailableError` (nothing sent) when a budget or the paid call needs a quote.
    ``action`` names what would be dispatched, e.g. ``"the import's enrichment"``.
    """
    gap = quote_gap(exc)
    if gap is None:
        return None
    grant = (
        f" Grant the key the {gap.missing_scope!r} scope (it covers POST /credits/estimate)."
        if gap.missing_scope
        else ""
    )
    metadata = {"missing_scope": gap.missing_scope or "", "estimate_status": gap.status}
    if tool not in QUOTE_OPTIONAL_TOOLS:
        raise QuoteUnavailableError(
            f"Spend guard: {action} needs a quote from POST /credits/estimate, but {gap.reason}."
            f" Nothing was dispatched.{grant}",
            metadata,
            missing_scope=gap.missing_scope,
        )
    if max_credits is not None:
        raise QuoteUnavailableError(
            f"Spend guard: max_credits={max_credits:,} is set, but the cost of {action} cannot "
            f"be quoted: {gap.reason}. Refusing rather than spending unchecked; nothing was "
            f"imported.{grant} Or unset max_credits to dispatch unquoted (the server still "
            "refuses with insufficient_credits past the balance).",
            {**metadata, "max_credits": max_credits},
            missing_scope=gap.missing_scope,
        )
    return (
        f"Spend guard could not quote {action}: {gap.reason}. Dispatching without a quote_id "
        "and without a budget check (no max_credits is set); the server still refuses with "
        f"insufficient_credits past the balance.{grant}"
    )


def guard_quote(quote: Any, max_credits: int | None, committed: float = 0.0) -> None:
    """Refuse unless ``quote`` (``estimated_cost``, ``sufficient``, ``available_credits``) fits
    the balance and, with ``committed`` credits already dispatched, ``max_credits``."""
    cost = float(quote.estimated_cost)
    if not quote.sufficient:
        raise SpendRuleError(
            f"insufficient credits: the quote is {cost:g} credits, "
            f"{float(quote.available_credits):g} available; nothing more was dispatched"
        )
    if max_credits is not None and committed + cost > max_credits:
        raise SpendRuleError(
            f"spend guard: dispatching would commit {committed + cost:g} credits, over "
            f"--max-credits {max_credits}; nothing more was dispatched"
        )


def guard_worst_case(leads: int, enrichment_type: str, max_credits: int | None) -> None:
    """Refuse early when even the worst case of enriching ``leads`` could pass ``max_credits``
    (before any quote exists to say otherwise)."""
    worst = worst_case_credits(leads, enrichment_type)
    if max_credits is not None and worst > max_credits:
        raise SpendRuleError(
            f"spend guard: {leads} leads miss what {enrichment_type} finds; at up to "
            f"{UNIT_COSTS[enrichment_type]} credits each that is {worst} credits, over "
            f"--max-credits {max_credits}; nothing was dispatched"
        )


@dataclass(frozen=True)
class EstimateVerdict:
    """What an accepted import estimate commits: its cost and the budget it was held against."""

    cost: float
    budget: float


def guard_import_estimate(
    estimate: Any,
    *,
    enrichment_type: str,
    rows: int,
    max_credits: int | None,
    backfill_id: str | None = None,
    reserve: Callable[[float, float], tuple[bool, float]] | None = None,
) -> EstimateVerdict:
    """Hold an import's estimate (``estimated_cost``, ``available_credits``) against its budget.

    The budget is ``max_credits``, else the balance. In a backfill with ``max_credits`` the
    budget is the whole backfill's: ``reserve(cost, budget)`` adds the cost to its running total
    and returns (reserved, total before). Raises :class:`SpendRuleError` (nothing imported).
    """
    cost = float(estimate.estimated_cost)
    available = float(estimate.available_credits)
    budget = float(max_credits) if max_credits is not None else available
    backfill_wide = bool(backfill_id) and max_credits is not None and reserve is not None
    spent_before = 0.0
    fits = cost <= budget
    if fits and backfill_wide and reserve is not None:
        fits, spent_before = reserve(cost, budget)
    if fits:
        return EstimateVerdict(cost, budget)
    if backfill_wide:
        scope = (
            f"backfill {backfill_id} budget max_credits={budget:,.0f} (already estimated by "
            f"earlier partitions: {spent_before:,.0f})"
        )
    elif max_credits is not None:
        scope = f"max_credits={budget:,.0f}"
    else:
        scope = f"the balance ({budget:,.0f} credits available)"
    raise SpendRuleError(
        f"Spend guard: dispatching {enrichment_type} enrichment for {rows:,} rows is "
        f"estimated at {cost:,.0f} credits ({UNIT_COSTS[enrichment_type]} per lead), which "
        f"exceeds {scope}; balance {available:,.0f}. Nothing was imported. Raise "
        "max_credits, or import without dispatch_enrichment and enrich later.",
        {
            "rows": rows,
            "estimated_credits": cost,
            "max_credits": budget,
            "available_credits": available,
        },
    )
