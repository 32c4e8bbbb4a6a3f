"""Enrich later: start paid enrichment for leads already in a list.

The whole list goes through ``POST /enrichment/bulk``; only the leads still missing an email or
phone go, one page's cohort at a time, through ``POST /enrichment/by-task``. Every dispatch is
quoted first and held against the spend guard (``spend.py``), and recorded as an observation on
the enrichment asset the moment the API answers, so the enrichment sensor watches it even when
the run fails later.
"""

# No ``from __future__ import annotations``: Dagster reads the ``EnrichConfig`` annotation of the
# asset function at definition time.

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from cleanlist_pipeline.contract import EnrichmentType
from cleanlist_pipeline.dagster_layer.attributes import api_asset_attributes
from cleanlist_pipeline.dagster_layer.enrichment.events import EVENT
from cleanlist_pipeline.dagster_layer.resources import cleanlist_of
from cleanlist_pipeline.dagster_layer.snapshots import lists_partitions
from cleanlist_pipeline.dagster_layer.spend import SpendGuardError, spend_guarded
from cleanlist_pipeline.dagster_layer.step_retry import (
    fail_fast_on_permanent_errors,
)
from cleanlist_pipeline.enrich_dispatch import (
    EnrichDispatch,
    MissingCohortError,
    enrich_missing,
    enrich_whole_list,
    needs_enrichment,
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


@contextmanager
def _as_step_failures() -> Iterator[None]:
    """The orchestrator-free refusals of ``enrich_dispatch`` as failures without retries."""
    try:
        with spend_guarded():
            yield
    except MissingCohortError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc


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
                _as_step_failures(),
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
