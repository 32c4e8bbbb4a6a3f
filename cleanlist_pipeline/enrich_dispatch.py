"""Enrich later, orchestrator-free: start paid enrichment for leads already in a list.

The whole list goes through ``POST /enrichment/bulk`` (one quote); only the leads still missing
what the type finds go, one page's cohort at a time, through ``POST /enrichment/by-task`` (a
quote per cohort). Every dispatch is held against the spend rules of
:mod:`cleanlist_pipeline.spend_rules` first; a refusal raises
:class:`~cleanlist_pipeline.spend_rules.SpendRuleError` before anything (more) is sent.

Used by the Dagster enrichment asset (``dagster_layer/enrichment/enrich_later.py``) and the
Airflow ``CleanlistEnrichOperator``; each turns the errors into its own kind of failure.

>>> needs_enrichment({"email": "a@b.c", "phone": None}, "full")
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cleanlist_pipeline import spend_rules
from cleanlist_pipeline.api.errors import APIError, ValidationError
from cleanlist_pipeline.contract import BULK_SCOPE, DATA_POINTS, LEADS_PAGE_SIZE_MAX

__all__ = [
    "BULK_TOOL",
    "BY_TASK_TOOLS",
    "EnrichDispatch",
    "MissingCohortError",
    "enrich_missing",
    "enrich_whole_list",
    "needs_enrichment",
]

# Tools priced by ``POST /credits/estimate``: ``enrich_list`` for the bulk call.
BULK_TOOL = "enrich_list"
# The estimate tool for ``POST /enrichment/by-task`` is not documented; the SDK's examples name
# ``add_person_enrichments``, the sandbox (reference §9) ``enrich_by_task``. Try one, then the
# other when the server calls the tool unknown (400).
BY_TASK_TOOLS = ("enrich_by_task", "add_person_enrichments")


class MissingCohortError(ValueError):
    """A leads page came without the cohort ``task_id`` that ``enrichment/by-task`` needs."""


@dataclass(frozen=True)
class EnrichDispatch:
    """One workflow started by enrich-later."""

    workflow_id: str
    leads: int
    estimated_cost: float
    credits_reserved: float


def needs_enrichment(lead: Any, enrichment_type: str) -> bool:
    """Is ``lead`` (a ``Lead`` or a dict) still missing what ``enrichment_type`` would find?

    >>> needs_enrichment({"email": "a@b.c", "phone": None}, "partial")
    False
    """
    email = lead.get("email") if isinstance(lead, dict) else getattr(lead, "email", None)
    phone = lead.get("phone") if isinstance(lead, dict) else getattr(lead, "phone", None)
    if enrichment_type == "partial":
        return not email
    if enrichment_type == "phone_only":
        return not phone
    return not email or not phone


def _quote(client: Any, tool: str, max_credits: int | None, action: str, **fields: Any) -> Any:
    """A quote for ``tool``. The paid enrichment calls need a ``quote_id``: a quote gap (no
    ``credits:read``, no estimate route) refuses with the reason and the scope to grant."""
    try:
        return client.estimate_cost(tool, **fields)
    except APIError as exc:
        spend_rules.without_quote(exc, tool=tool, max_credits=max_credits, action=action)
        raise


def enrich_whole_list(
    client: Any, list_id: str, enrichment_type: str, max_credits: int | None
) -> list[EnrichDispatch]:
    """Quote and start ``POST /enrichment/bulk`` for every lead of the list."""
    scope = BULK_SCOPE[enrichment_type]
    quote = _quote(
        client, BULK_TOOL, max_credits, f"enriching list {list_id}", list_id=list_id, scope=scope
    )
    spend_rules.guard_quote(quote, max_credits)
    result = client.enrich_list(list_id, scope, quote.quote_id)
    return [
        EnrichDispatch(
            result.workflow_id,
            int(result.total_leads),
            float(result.estimated_cost),
            float(result.credits_reserved),
        )
    ]


def _by_task_quote(
    client: Any,
    tools: tuple[str, ...],
    max_credits: int | None,
    task_id: str,
    data_points: list[str],
    entity_ids: list[str],
) -> tuple[Any, tuple[str, ...]]:
    """A quote for one cohort; also returns the tool names to try next time (working first)."""
    for number, tool in enumerate(tools):
        try:
            quote = _quote(
                client,
                tool,
                max_credits,
                "enriching a cohort of missing leads",
                task_id=task_id,
                data_points=data_points,
                entity_ids=entity_ids,
            )
        except ValidationError:
            if number == len(tools) - 1:
                raise
            continue
        return quote, (tool,)
    raise AssertionError("unreachable: the last tool either answers or raises")


def enrich_missing(
    client: Any,
    list_id: str,
    enrichment_type: str,
    max_credits: int | None,
    on_dispatch: Callable[[EnrichDispatch], None],
) -> list[EnrichDispatch]:
    """Enrich only the leads still missing an email/phone, one cohort (page) at a time.

    A first pass counts them and refuses early when even the worst case (every lead found)
    could exceed ``max_credits`` with no quote to say otherwise; the second pass quotes each
    page's cohort just before dispatching it, so cohort handles and quotes are fresh.
    ``on_dispatch`` is called the moment each workflow starts (record it before anything else
    can fail).
    """
    data_points = DATA_POINTS[enrichment_type]
    missing_total = sum(
        sum(1 for lead in page.leads if needs_enrichment(lead, enrichment_type))
        for page in client.iter_lead_pages(list_id, page_size=LEADS_PAGE_SIZE_MAX)
    )
    spend_rules.guard_worst_case(missing_total, enrichment_type, max_credits)
    dispatched: list[EnrichDispatch] = []
    committed = 0.0
    tools = BY_TASK_TOOLS
    for page in client.iter_lead_pages(list_id, page_size=LEADS_PAGE_SIZE_MAX):
        entity_ids = [
            lead.lead_id for lead in page.leads if needs_enrichment(lead, enrichment_type)
        ]
        if not entity_ids:
            continue
        if not page.task_id:
            raise MissingCohortError(
                f"the API returned a leads page of list {list_id} without a cohort task_id; "
                "enrich the whole list instead (only_missing=false)"
            )
        quote, tools = _by_task_quote(
            client, tools, max_credits, page.task_id, data_points, entity_ids
        )
        spend_rules.guard_quote(quote, max_credits, committed)
        result = client.enrich_by_task(
            page.task_id,
            data_points,
            entity_ids=entity_ids,
            lead_list_id=list_id,
            quote_id=quote.quote_id,
        )
        committed += float(quote.estimated_cost)
        if result.workflow_id:
            item = EnrichDispatch(
                result.workflow_id,
                int(result.total_entities),
                float(quote.estimated_cost),
                float(result.credits_reserved),
            )
            dispatched.append(item)
            on_dispatch(item)
    return dispatched
