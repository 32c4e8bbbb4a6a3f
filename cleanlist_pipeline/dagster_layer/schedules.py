"""The daily refresh: today's lists catalog, and a new snapshot of every tracked list.

Tracked lists are the ``cleanlist_lists`` partitions: lists the pipeline imported into or
enriched (the enrichment sensor adds them) and any added by hand in the UI.
"""

from collections.abc import Iterator

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from cleanlist_pipeline.dagster_layer.catalog import LEAD_LISTS_KEY
from cleanlist_pipeline.dagster_layer.snapshots import LEADS_SNAPSHOT_KEY, LISTS_PARTITIONS

SCHEDULE_NAME = "cleanlist_daily_refresh"
DEFAULT_CRON = "0 5 * * *"


def build_refresh_schedule(
    job: UnresolvedAssetJobDefinition, *, embedded: bool, cron: str = DEFAULT_CRON
) -> dg.ScheduleDefinition:
    """One run for ``lead_lists`` and one per tracked list for ``leads_snapshot``, daily (UTC).

    Runs by default against the embedded sandbox; with a real API key it starts stopped.
    """

    @dg.schedule(
        name=SCHEDULE_NAME,
        cron_schedule=cron,
        job=job,
        execution_timezone="UTC",
        default_status=(
            dg.DefaultScheduleStatus.RUNNING if embedded else dg.DefaultScheduleStatus.STOPPED
        ),
        description="Daily: refresh the lists catalog and snapshot every tracked list.",
    )
    def cleanlist_daily_refresh(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        yield dg.RunRequest(run_key=f"lead_lists:{day}", asset_selection=[LEAD_LISTS_KEY])
        for list_id in context.instance.get_dynamic_partitions(LISTS_PARTITIONS.name):
            yield dg.RunRequest(
                run_key=f"leads_snapshot:{list_id}:{day}",
                partition_key=list_id,
                asset_selection=[LEADS_SNAPSHOT_KEY],
                tags={"cleanlist/list_id": list_id, "cleanlist/trigger": "schedule"},
            )

    return cleanlist_daily_refresh
