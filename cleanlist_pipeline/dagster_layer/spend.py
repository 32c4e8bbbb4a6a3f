"""The spend guard: paid enrichment is refused, before anything is sent, when it could cost more
than the budget (``max_credits``) or the balance.

Pure functions over the API's answers (a quote, an estimate), raising :class:`SpendGuardError`
with the numbers; no API calls here. Used by the import (one free whole-partition estimate before
any chunk is sent) and by enrich-later (a quote before every dispatch). Unit costs are the
contract's (``cleanlist_pipeline.contract.UNIT_COSTS``).

>>> worst_case_credits(40, "full")
440
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from cleanlist_pipeline.contract import UNIT_COSTS

__all__ = [
    "EstimateVerdict",
    "SpendGuardError",
    "guard_import_estimate",
    "guard_quote",
    "guard_worst_case",
    "worst_case_credits",
]


class SpendGuardError(dg.Failure):
    """A quote or estimate exceeded ``max_credits`` or the balance: nothing (more) was sent."""


def worst_case_credits(leads: int, enrichment_type: str) -> int:
    """Credits ``leads`` cost if enrichment finds everything (the reservation)."""
    return leads * UNIT_COSTS[enrichment_type]


def guard_quote(quote: Any, max_credits: int | None, committed: float = 0.0) -> None:
    """Refuse unless ``quote`` (``estimated_cost``, ``sufficient``, ``available_credits``) fits
    the balance and, with ``committed`` credits already dispatched, ``max_credits``."""
    cost = float(quote.estimated_cost)
    if not quote.sufficient:
        raise SpendGuardError(
            f"insufficient credits: the quote is {cost:g} credits, "
            f"{float(quote.available_credits):g} available; nothing more was dispatched"
        )
    if max_credits is not None and committed + cost > max_credits:
        raise SpendGuardError(
            f"spend guard: dispatching would commit {committed + cost:g} credits, over "
            f"--max-credits {max_credits}; nothing more was dispatched"
        )


def guard_worst_case(leads: int, enrichment_type: str, max_credits: int | None) -> None:
    """Refuse early when even the worst case of enriching ``leads`` could pass ``max_credits``
    (before any quote exists to say otherwise)."""
    worst = worst_case_credits(leads, enrichment_type)
    if max_credits is not None and worst > max_credits:
        raise SpendGuardError(
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
    and returns (reserved, total before). Raises :class:`SpendGuardError` (nothing imported).
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
    raise SpendGuardError(
        description=(
            f"Spend guard: dispatching {enrichment_type} enrichment for {rows:,} rows is "
            f"estimated at {cost:,.0f} credits ({UNIT_COSTS[enrichment_type]} per lead), which "
            f"exceeds {scope}; balance {available:,.0f}. Nothing was imported. Raise "
            "max_credits, or import without dispatch_enrichment and enrich later."
        ),
        metadata={
            "rows": rows,
            "estimated_credits": cost,
            "max_credits": budget,
            "available_credits": available,
        },
    )
