"""Enrich later: start paid enrichment for leads already in a list.

The whole list goes through ``POST /enrichment/bulk``; only the leads still missing an email or
phone go, one page's cohort at a time, through ``POST /enrichment/by-task``. Every dispatch is
quoted first and held against the spend guard (``spend.py``), and recorded as an observation on
the enrichment asset the moment the API answers, so the enrichment sensor watches it even when
the run fails later.
"""

# No ``from __future__ import annotations``: Dagster reads the ``EnrichConfig`` annotation of the
# asset function at definition time.

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from cleanlist_pipeline.api.errors import APIError, ValidationError
from cleanlist_pipeline.contract import BULK_SCOPE, DATA_POINTS, LEADS_PAGE_SIZE_MAX, EnrichmentType
from cleanlist_pipeline.dagster_layer.attributes import api_asset_attributes
from cleanlist_pipeline.dagster_layer.enrichment.events import EVENT
from cleanlist_pipeline.dagster_layer.resources import cleanlist_of
from cleanlist_pipeline.dagster_layer.snapshots import lists_partitions
from cleanlist_pipeline.dagster_layer.spend import (
    SpendGuardError,
    guard_quote,
    guard_worst_case,
    without_quote,
)
from cleanlist_pipeline.dagster_layer.step_retry import (
    fail_fast_on_permanent_errors,
)
from cleanlist_pipeline.settings import Settings

__all__ = [
    "EnrichConfig",
    "EnrichDispatch",
    "build_enrich_later_asset",
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


class EnrichConfig(dg.Config):
    """Run config of the enrichment asset (the partition is the list to enrich)."""

    enrichment_type: EnrichmentType = "partial"
    """partial = email (1 credit/lead), phone_only = phone (10), full = both (11)."""
    max_credits: int | None = None
    """Refuse to dispatch when the quoted cost exceeds this many credits (default: the
    deployment's max_credits, if it set one)."""
    only_missing: bool = False
    """Only leads still missing what ``enrichment_type`` finds, via each page's cohort task_id
    and ``POST /enrichment/by-task``; otherwise the whole list via ``POST /enrichment/bulk``."""


def needs_enrichment(lead: Any, enrichment_type: str) -> bool:
    """Is ``lead`` still missing what ``enrichment_type`` would find?

    >>> needs_enrichment({"email": "a@b.c", "phone": None}, "partial")
    False
    >>> needs_enrichment({"email": "a@b.c", "phone": None}, "full")
    True
    """
    email = lead.get("email") if isinstance(lead, dict) else getattr(lead, "email", None)
    phone = lead.get("phone") if isinstance(lead, dict) else getattr(lead, "phone", None)
    if enrichment_type == "partial":
        return not email
    if enrichment_type == "phone_only":
        return not phone
    return not email or not phone


@dataclass(frozen=True)
class EnrichDispatch:
    """One workflow started by enrich-later."""

    workflow_id: str
    leads: int
    estimated_cost: float
    credits_reserved: float


def enrich_whole_list(
    client: Any, list_id: str, enrichment_type: str, max_credits: int | None
) -> list[EnrichDispatch]:
    """Quote and start ``POST /enrichment/bulk`` for every lead of the list."""
    scope = BULK_SCOPE[enrichment_type]
    try:
        quote = client.estimate_cost(BULK_TOOL, list_id=list_id, scope=scope)
    except APIError as exc:
        _refuse_without_quote(exc, BULK_TOOL, max_credits, f"enriching list {list_id}")
        raise
    guard_quote(quote, max_credits)
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
    task_id: str,
    data_points: list[str],
    entity_ids: list[str],
) -> tuple[Any, tuple[str, ...]]:
    """A quote for one cohort; also returns the tool names to try next time (working first)."""
    for number, tool in enumerate(tools):
        try:
            quote = client.estimate_cost(
                tool, task_id=task_id, data_points=data_points, entity_ids=entity_ids
            )
        except ValidationError:
            if number == len(tools) - 1:
                raise
            continue
        except APIError as exc:
            _refuse_without_quote(exc, tool, None, "enriching a cohort of missing leads")
            raise
        return quote, (tool,)
    raise AssertionError("unreachable: the last tool either answers or raises")


def _refuse_without_quote(exc: APIError, tool: str, max_credits: int | None, action: str) -> None:
    """The paid enrichment calls need a ``quote_id``: a quote gap (no ``credits:read``, no
    estimate route) refuses with the reason and the scope to grant; other errors return."""
    without_quote(exc, tool=tool, max_credits=max_credits, action=action)


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
    """
    data_points = DATA_POINTS[enrichment_type]
    missing_total = sum(
        sum(1 for lead in page.leads if needs_enrichment(lead, enrichment_type))
        for page in client.iter_lead_pages(list_id, page_size=LEADS_PAGE_SIZE_MAX)
    )
    guard_worst_case(missing_total, enrichment_type, max_credits)
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
            raise dg.Failure(
                f"the API returned a leads page of list {list_id} without a cohort task_id; "
                "enrich the whole list instead (only_missing=false)",
                allow_retries=False,
            )
        quote, tools = _by_task_quote(client, tools, page.task_id, data_points, entity_ids)
        guard_quote(quote, max_credits, committed)
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


def _dispatch_observation(
    key: dg.AssetKey, list_id: str, config: EnrichConfig, item: EnrichDispatch
) -> dg.AssetObservation:
    return dg.AssetObservation(
        asset_key=key,
        partition=list_id,
        metadata={
            EVENT: "dispatched",
            "workflow_id": item.workflow_id,
            "list_id": list_id,
            "enrichment_type": config.enrichment_type,
            "mode": "missing-only" if config.only_missing else "whole-list",
            "leads": item.leads,
            "estimated_cost": item.estimated_cost,
            "credits_reserved": item.credits_reserved,
        },
    )


def _no_retry_after_dispatch(dispatched: list[EnrichDispatch]) -> dg.Failure:
    # A retry would list the still-unenriched leads again, and the ones just dispatched are
    # among them until their workflows finish: they would be paid for twice.
    return dg.Failure(
        f"{len(dispatched)} enrichment workflows were dispatched before this step failed; it is "
        "not retried, so nothing is paid for twice. Run it again once the enrichment sensor "
        "shows them finished.",
        metadata={"workflow_ids": dg.MetadataValue.json([d.workflow_id for d in dispatched])},
        allow_retries=False,
    )


def build_enrich_later_asset(settings: Settings) -> dg.AssetsDefinition:
    """The enrichment asset: dispatch enrichment for one list (partition = list id)."""
    names = settings.names
    key = names.enrichment_asset

    @dg.asset(
        key=key,
        partitions_def=lists_partitions(names),
        kinds={"cleanlist"},
        **api_asset_attributes(settings),
        description=(
            "Enrich leads already in a list (partition = list_id): the whole list through "
            "POST /enrichment/bulk, or only leads missing an email/phone through each page's "
            "cohort and POST /enrichment/by-task. Quoted first; max_credits guards the spend. "
            "The enrichment sensor watches the workflows and records their progress here."
        ),
    )
    def cleanlist_enrichment(
        context: dg.AssetExecutionContext, config: EnrichConfig
    ) -> dg.MaterializeResult:
        list_id = context.partition_key
        max_credits = config.max_credits if config.max_credits is not None else settings.max_credits
        dispatched: list[EnrichDispatch] = []

        def record(item: EnrichDispatch) -> None:
            # Logged at once (not only in the final metadata) so a run that fails later still
            # leaves the workflow for the sensor to watch.
            dispatched.append(item)
            context.log_event(_dispatch_observation(key, list_id, config, item))

        try:
            with (
                fail_fast_on_permanent_errors(also=(SpendGuardError,)),
                cleanlist_of(context, names).get_client() as client,
            ):
                if config.only_missing:
                    enrich_missing(client, list_id, config.enrichment_type, max_credits, record)
                else:
                    for item in enrich_whole_list(
                        client, list_id, config.enrichment_type, max_credits
                    ):
                        record(item)
        except Exception as exc:
            if dispatched and not (isinstance(exc, dg.Failure) and not exc.allow_retries):
                raise _no_retry_after_dispatch(dispatched) from exc
            raise
        context.log.info(
            f"list {list_id}: {len(dispatched)} enrichment workflows dispatched "
            f"({sum(d.leads for d in dispatched)} leads, {config.enrichment_type})"
        )
        return dg.MaterializeResult(
            metadata={
                "workflow_ids": dg.MetadataValue.json([d.workflow_id for d in dispatched]),
                "leads_submitted": sum(d.leads for d in dispatched),
                "estimated_cost": sum(d.estimated_cost for d in dispatched),
                "credits_reserved": sum(d.credits_reserved for d in dispatched),
                "enrichment_type": config.enrichment_type,
                "mode": "missing-only" if config.only_missing else "whole-list",
            }
        )

    return cleanlist_enrichment
