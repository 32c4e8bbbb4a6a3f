"""One daemon-style tick of the enrichment sensor in a fresh process (a daemon (re)start).

    python tests/reliability/sensor_tick.py [--die-before-cursor]

``--die-before-cursor`` kills the process (``os._exit``, no cleanup) at the moment the tick's
cursor would be saved: the tick's asset events are recorded and its runs launched, but the
cursor is lost — the worst moment for a daemon to die. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import dagster as dg


def main(argv: list[str] | None = None) -> int:
    """Evaluate the sensor once and act on the result as the daemon does."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--die-before-cursor", action="store_true")
    args = parser.parse_args(argv)

    from cleanlist_pipeline.dagster_layer import lifecycle
    from cleanlist_pipeline.definitions import build_definitions
    from cleanlist_pipeline.settings import settings_from_env

    settings = settings_from_env()
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.get()
    if args.die_before_cursor:

        def die(*_args: Any) -> None:
            sys.stdout.flush()
            os._exit(137)

        lifecycle.save_sensor_cursor = die  # type: ignore[assignment]
    report = lifecycle.tick_sensor(
        defs, instance, settings.names.enrichment_sensor, state_dir=settings.state_dir
    )
    summary = {
        "asset_events": len(report.asset_events),
        "launched": [r.run_id for r in report.launched],
        "deduplicated": report.deduplicated_run_keys,
        "skip": report.skip_message,
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
