"""The pipeline's definitions for a real ``dagster-daemon`` in a test: settings from the
``CLEANLIST_*`` environment the test sets, with both sensors running and ticking every second.

Loaded by a code server the test starts (``dagster api grpc --python-file …``), as a deployment's
code location would be.
"""

from __future__ import annotations

import dataclasses

import dagster as dg

from cleanlist_pipeline.definitions import build_definitions
from cleanlist_pipeline.settings import settings_from_env


@dg.definitions
def defs() -> dg.Definitions:
    settings = dataclasses.replace(
        settings_from_env(),
        # A key is set (the test's sandbox): sensors would start stopped. The test wants the
        # daemon to run them, and quickly.
        default_status="running",
        drop_sensor_interval_seconds=1,
        enrichment_sensor_interval_seconds=1,
    )
    # Steps in the run worker's process: a process per step would only slow the proof down.
    return dg.Definitions.merge(
        build_definitions(settings), dg.Definitions(executor=dg.in_process_executor)
    )
