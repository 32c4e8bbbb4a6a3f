"""The daily refresh: today's lists catalog, and a new snapshot of every tracked list.

Tracked lists are the instance's lists partitions: lists the pipeline imported into or enriched
(the enrichment sensor adds them) and any added by hand in the UI.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from cleanlist_pipeline.dagster_layer.attributes import schedule_status
from cleanlist_pipeline.dagster_layer.snapshots import lists_partitions
from cleanlist_pipeline.settings import Names, Settings

#: The default instance's schedule name (``settings.names.schedule`` otherwise).
SCHEDULE_NAME = Names().schedule


def build_refresh_schedule(settings: Settings, target: Any) -> dg.ScheduleDefinition:
    """One run for the catalog and one per tracked list for the snapshot, on
    ``settings.schedule_cron`` (UTC); ``target`` is the refresh job (``define_asset_job``).

    Runs by default against the embedded sandbox; with a real API key it starts stopped.
    """
    names = settings.names
    lists_name = lists_partitions(names).name

    @dg.schedule(
        name=names.schedule,
        cron_schedule=settings.schedule_cron,
        target=target,
        execution_timezone="UTC",
        default_status=schedule_status(settings),
        description="Refresh the lists catalog and snapshot every tracked list.",
    )
    def daily_refresh(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        # To the minute, so a cron more frequent than daily still gets one run per tick.
        at = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
        yield dg.RunRequest(run_key=f"lead_lists:{at}", asset_selection=[names.catalog_asset])
        for list_id in context.instance.get_dynamic_partitions(lists_name):
            yield dg.RunRequest(
                run_key=f"leads_snapshot:{list_id}:{at}",
                partition_key=list_id,
                asset_selection=[names.snapshot_asset],
                tags={"cleanlist/list_id": list_id, "cleanlist/trigger": "schedule"},
            )

    return daily_refresh
