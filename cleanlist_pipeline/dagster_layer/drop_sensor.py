"""The drop sensor: registers new drop files as partitions and requests one import run each.

Drops are immutable. The sensor requests one run per file with run key ``<key>@<sha256>``, so an
identical re-drop does nothing (Dagster drops a repeated run key). A file whose content differs
from what was last imported into its partition is *reported* (logged once per new content) and
not run: materialize it by hand with ``mode: append`` or ``mode: force``. Which is which comes
from ``drop_state.py``, the same rule ``cleanlist-pipeline status`` prints.
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg

from cleanlist_pipeline.dagster_layer.attributes import sensor_status
from cleanlist_pipeline.dagster_layer.drop_state import State, drop_state
from cleanlist_pipeline.dagster_layer.drops import scan_drops
from cleanlist_pipeline.dagster_layer.partitions import drops_partitions
from cleanlist_pipeline.settings import Settings

__all__ = ["build_drop_sensor", "evaluate_drops"]


def _load_cursor(raw: str | None) -> tuple[dict[str, list], set[str]]:
    if not raw:
        return {}, set()
    try:
        data = json.loads(raw)
    except ValueError:
        return {}, set()
    if not isinstance(data, dict):
        return {}, set()
    return data.get("files", {}), set(data.get("refused", []))


def evaluate_drops(
    instance: dg.DagsterInstance, settings: Settings, cursor: str | None
) -> tuple[list[dg.RunRequest], list[str], list[str], str]:
    """One sensor tick without Dagster's sensor machinery (also used by tests).

    Returns (run requests, new partition keys, messages about changed/refused drops, new cursor).
    The cursor remembers ``[size, mtime_ns, sha256]`` per key so unchanged files are not re-hashed,
    and the refusals already reported, so a refused file is reported once, not every tick.
    """
    if not settings.drops_dir:
        raise ValueError("no drop folder configured")
    known, reported = _load_cursor(cursor)
    scan = scan_drops(settings.drops_dir, allow_insecure=settings.allow_insecure_object_store)
    existing = set(instance.get_dynamic_partitions(settings.names.partitions_drops))
    requests: list[dg.RunRequest] = []
    new_keys: list[str] = []
    messages = [r for r in scan.refused if r not in reported]
    files: dict[str, list] = {}
    for drop in scan:
        prev = known.get(drop.key)
        if prev and prev[0] == drop.size and prev[1] == drop.mtime_ns:
            files[drop.key] = prev
            continue
        sha = drop.sha256()
        files[drop.key] = [drop.size, drop.mtime_ns, sha]
        if prev and prev[2] == sha:
            continue  # touched, same bytes
        state = drop_state(instance, settings, drop, sha)
        if state.state is State.CHANGED:
            messages.append(
                f"{drop.relative_path}: content changed since its last import "
                f"(sha256 {(state.imported_sha256 or '')[:12]}… → {sha[:12]}…). Drops are "
                "immutable, so it is not imported automatically; materialize it with config "
                "mode: append (only new records) or mode: force (re-import all; the list will "
                "hold duplicates)."
            )
            continue
        if drop.key not in existing:
            new_keys.append(drop.key)
        if not state.needs_import:
            continue  # already imported (e.g. by a backfill) — nothing to do
        requests.append(
            dg.RunRequest(
                partition_key=drop.key,
                run_key=f"{drop.key}@{sha}",
                tags={"cleanlist/drop_sha256": sha},
            )
        )
    new_cursor = json.dumps({"files": files, "refused": sorted(scan.refused)}, sort_keys=True)
    return requests, new_keys, messages, new_cursor


def build_drop_sensor(settings: Settings, job: Any) -> dg.SensorDefinition:
    """The drop sensor of ``settings``' instance, targeting ``job`` (its import job).

    Default status: running with the embedded sandbox, stopped against the real API (nothing runs
    by itself against a customer's workspace) unless ``settings.default_status`` says otherwise.
    """
    names = settings.names
    partitions = drops_partitions(names)

    @dg.sensor(
        name=names.drop_sensor,
        target=job,
        minimum_interval_seconds=settings.drop_sensor_interval_seconds,
        default_status=sensor_status(settings),
        description=f"Registers each new CSV in the drop folder as a {names.partitions_drops} "
        "partition and requests one import run per file (run key = path + sha256).",
    )
    def cleanlist_drop_sensor(
        context: dg.SensorEvaluationContext,
    ) -> dg.SensorResult | dg.SkipReason:
        if not settings.drops_dir:
            return dg.SkipReason(
                "No drop folder configured: set CLEANLIST_DROPS_DIR (no default with a real API key)."
            )
        requests, new_keys, messages, cursor = evaluate_drops(
            context.instance, settings, context.cursor
        )
        for message in messages:
            context.log.warning(message)
        if not requests and not new_keys:
            context.update_cursor(cursor)
            return dg.SkipReason("; ".join(messages) if messages else "No new or changed drops.")
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[partitions.build_add_request(new_keys)]
            if new_keys
            else [],
            cursor=cursor,
        )

    return cleanlist_drop_sensor
