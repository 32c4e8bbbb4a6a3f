"""The spend guard in Dagster: the orchestrator-free rules of ``cleanlist_pipeline.spend_rules``,
with a refusal raised as :class:`SpendGuardError` (a ``dg.Failure``) so a step fails readably
and without retries.

Used by the import (one free whole-partition estimate before any chunk is sent) and by
enrich-later (a quote before every dispatch). The rules themselves — when a quote is needed, what
a key without ``credits:read`` or a deployment without ``POST /credits/estimate`` may still do —
live in ``spend_rules.py``, shared with the Airflow provider; callers run them inside
:func:`spend_guarded`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import dagster as dg

from cleanlist_pipeline import spend_rules

__all__ = ["SpendGuardError", "spend_guarded"]


class SpendGuardError(dg.Failure):
    """A quote or estimate exceeded ``max_credits`` or the balance, or a needed quote could not
    be had: nothing (more) was sent."""


@contextlib.contextmanager
def spend_guarded(on_refusal: Callable[[str], None] | None = None) -> Iterator[None]:
    """Re-raise a :class:`~cleanlist_pipeline.spend_rules.SpendRuleError` from the block as a
    :class:`SpendGuardError`, after ``on_refusal(description)`` (e.g. stopping a backfill).

    >>> with spend_guarded():
    ...     spend_rules.guard_worst_case(40, "full", max_credits=100)
    Traceback (most recent call last):
    ...
    cleanlist_pipeline.dagster_layer.spend.SpendGuardError: ...
    """
    try:
        yield
    except spend_rules.SpendRuleError as exc:
        if on_refusal is not None:
            on_refusal(exc.description)
        raise SpendGuardError(description=exc.description, metadata=exc.metadata or None) from exc
