"""The enrichment sensor: reads new workflows, runs one tick, and hands Dagster the result.

State lives in the sensor cursor (JSON, ``cursor.py``): event-log positions read so far and the
workflows still pending. The tick's observations, check evaluations, new list partitions and
snapshot run requests all go back in one ``SensorResult``, so they are recorded together.
"""

from typing import Any

import dagster as dg

from cleanlist_pipeline.dagster_layer.attributes import sensor_status
from cleanlist_pipeline.dagster_layer.enrichment.cursor import EnrichmentCursor, PollPolicy
from cleanlist_pipeline.dagster_layer.enrichment.events import FinishedLookup, read_new_events
from cleanlist_pipeline.dagster_layer.enrichment.tick import run_tick
from cleanlist_pipeline.dagster_layer.resources import cleanlist_of
from cleanlist_pipeline.dagster_layer.snapshots import lists_partitions
from cleanlist_pipeline.settings import Settings

__all__ = ["build_enrichment_sensor"]


def build_enrichment_sensor(
    settings: Settings, target: Any, *, policy: PollPolicy | None = None
) -> dg.SensorDefinition:
    """The instance's enrichment sensor; ``target`` is its snapshot job (``define_asset_job``),
    which every run request narrows to the snapshot asset of one list."""
    names = settings.names
    policy = policy or PollPolicy()
    partitions = lists_partitions(names)

    @dg.sensor(
        name=names.enrichment_sensor,
        target=target,
        minimum_interval_seconds=settings.enrichment_poll_seconds,
        default_status=sensor_status(settings),
        required_resource_keys={names.resource},
        description=(
            "Polls Cleanlist enrichment workflows found in the import ledger and enrich-later "
            "runs; records progress and results; requests a leads snapshot per finished list."
        ),
    )
    # ``**_resources``: invoked directly (``tick_sensor``), Dagster also passes the required
    # resources as keyword arguments; the daemon passes them on the context only.
    def enrichment_sensor(
        context: dg.SensorEvaluationContext, **_resources: Any
    ) -> dg.SensorResult:
        state = EnrichmentCursor.from_json(context.cursor)
        dispatches, terminal = read_new_events(context.instance, state, names)
        if not state.pending and not dispatches and not state.finished:
            return dg.SensorResult(
                skip_reason="no enrichment workflows pending", cursor=state.to_json()
            )
        known = set(context.instance.get_dynamic_partitions(partitions.name))
        finished_lookup = FinishedLookup(context.instance, names.enrichment_asset)
        with cleanlist_of(context, names).get_client() as client:
            outcome = run_tick(
                state,
                dispatches,
                terminal,
                client,
                policy,
                known_lists=known.__contains__,
                already_finished=finished_lookup,
                names=names,
            )
        if outcome.stopped_by:
            context.log.info(
                f"polled {outcome.polls} workflows; stopped by the {outcome.stopped_by}; "
                f"{len(state.pending)} still pending"
            )
        partition_requests = (
            [partitions.build_add_request(outcome.new_lists)] if outcome.new_lists else []
        )
        skip = None
        if not outcome.run_requests:
            skip = f"{len(state.pending)} workflows pending, {outcome.polls} polled"
        return dg.SensorResult(
            run_requests=outcome.run_requests,
            skip_reason=skip,
            cursor=state.to_json(),
            asset_events=outcome.asset_events,
            dynamic_partitions_requests=partition_requests,
        )

    return enrichment_sensor
