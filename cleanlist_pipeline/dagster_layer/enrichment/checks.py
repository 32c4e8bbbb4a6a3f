"""``enrichment_succeeded``: did the enrichment workflows of each list end well?

The enrichment sensor records one evaluation per finished workflow (``list_id`` and
``workflow_id`` in metadata); running the check re-reads the latest result per list from the
event log. Not partitioned: Dagster stores one run-less evaluation per (check, partition), so
per-list evaluations from the sensor could not accumulate. Not blocking either: a failed
enrichment leaves the leads in the list, and the snapshot should still show them.
"""

from typing import Any

import dagster as dg

from cleanlist_pipeline.contract import FAILED_STATUSES
from cleanlist_pipeline.dagster_layer.enrichment.events import (
    ENRICHMENT_CHECK,
    EVENT,
    iter_observations,
    meta_value,
)
from cleanlist_pipeline.settings import Settings

__all__ = ["build_enrichment_check"]


def _latest_terminal_per_list(
    instance: dg.DagsterInstance, key: dg.AssetKey
) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for record in iter_observations(instance, key, ascending=False):
        observation = record.asset_observation
        meta = dict(observation.metadata) if observation is not None else {}
        list_id = meta_value(meta, "list_id") or record.partition_key
        if meta_value(meta, EVENT) == "terminal" and list_id and str(list_id) not in latest:
            latest[str(list_id)] = {
                k: meta_value(meta, k) for k in ("workflow_id", "status", "refund_status")
            }
    return latest


def build_enrichment_check(settings: Settings) -> dg.AssetChecksDefinition:
    """The instance's ``enrichment_succeeded`` check on its enrichment asset."""
    key = settings.names.enrichment_asset

    def enrichment_succeeded(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        """Fail when the latest finished workflow of any list failed or awaits a refund review."""
        latest = _latest_terminal_per_list(context.instance, key)
        bad = {
            list_id: item
            for list_id, item in latest.items()
            if item["status"] in FAILED_STATUSES or item["refund_status"] == "pending_review"
        }
        return dg.AssetCheckResult(
            passed=not bad,
            metadata={"lists": len(latest), "unsuccessful": dg.MetadataValue.json(bad)},
        )

    return dg.asset_check(
        asset=key,
        name=ENRICHMENT_CHECK,
        description=(
            "The enrichment sensor records one evaluation per finished workflow (list_id and "
            "workflow_id in metadata): failed for failed/cancelled workflows or a refund pending "
            "review, showing refund_message. Running the check re-reads the latest result per "
            "list from the event log."
        ),
    )(enrichment_succeeded)
