"""The spend guard in Dagster: the orchestrator-free rules of ``cleanlist_pipeline.spend_rules``,
with a refusal raised as :class:`SpendGuardError` (a ``dg.Failure``) so a step fails readably
and without retries.

Used by the import (one free whole-partition estimate before any chunk is sent) and by
enrich-later (a quote before every dispatch). The rules themselves — when a quote is needed, what
a key without ``credits:read`` or a deployment without ``POST /credits/estimate`` may still do —
live in ``spend_rules.py``, shared with the Airflow provider.

>>> worst_case_credits(40, "full")
440
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from cleanlist_pipeline import spend_rules
from cleanlist_pipeline.spend_rules import EstimateVerdict, quote_needed, worst_case_credits

__all__ = [
    "EstimateVerdict",
    "SpendGuardError",
    "guard_import_estimate",
    "guard_quote",
    "guard_worst_case",
    "quote_needed",
    "without_quote",
    "worst_case_credits",
]


class SpendGuardError(dg.Failure):
    """A quote or estimate exceeded ``max_credits`` or the balance, or a needed quote could not
    be had: nothing (more) was sent."""


@contextlib.contextmanager
def _as_failure() -> Iterator[None]:
    """Re-raise a :class:`~cleanlist_pipeline.spend_rules.SpendRuleError` as a step failure."""
    try:
        yield
    except spend_rules.SpendRuleError as exc:
        raise SpendGuardError(description=exc.description, metadata=exc.metadata or None) from exc


def guard_quote(quote: Any, max_credits: int | None, committed: float = 0.0) -> None:
    """:func:`cleanlist_pipeline.spend_rules.guard_quote`, failing the step on a refusal."""
    with _as_failure():
        spend_rules.guard_quote(quote, max_credits, committed)


def guard_worst_case(leads: int, enrichment_type: str, max_credits: int | None) -> None:
    """:func:`cleanlist_pipeline.spend_rules.guard_worst_case`, failing the step on a refusal."""
    with _as_failure():
        spend_rules.guard_worst_case(leads, enrichment_type, max_credits)


def without_quote(
    exc: BaseException, *, tool: str, max_credits: int | None, action: str
) -> str | None:
    """:func:`cleanlist_pipeline.spend_rules.without_quote`: the warning to log and go on
    unquoted, None for an error that is no quote gap, or a step failure (nothing sent)."""
    with _as_failure():
        return spend_rules.without_quote(exc, tool=tool, max_credits=max_credits, action=action)


def guard_import_estimate(
    estimate: Any,
    *,
    enrichment_type: str,
    rows: int,
    max_credits: int | None,
    backfill_id: str | None = None,
    reserve: Callable[[float, float], tuple[bool, float]] | None = None,
) -> EstimateVerdict:
    """:func:`cleanlist_pipeline.spend_rules.guard_import_estimate`, failing the step on a
    refusal (nothing imported)."""
    with _as_failure():
        return spend_rules.guard_import_estimate(
            estimate,
            enrichment_type=enrichment_type,
            rows=rows,
            max_credits=max_credits,
            backfill_id=backfill_id,
            reserve=reserve,
        )
