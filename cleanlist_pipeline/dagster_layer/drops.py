"""Drop discovery and the drop sensor.

Each ``*.csv`` file under the drop folder is one partition of ``csv_drops``. Discovery refuses
symlinks (files or folders) and anything that resolves outside the folder, skips hidden entries
(``.name``: editors and uploaders write temporary files that way) and reports two files whose
sanitised keys collide instead of guessing.

The drop folder may be an object-store prefix (``s3://bucket/drops?…``, see
``cleanlist_pipeline.dropstore``): the same keys, skips and refusals apply to the objects under
it, and a drop's ``path`` is then its object URI (a ``str``) instead of a local ``Path``.

Drops are immutable. The sensor requests one run per file with run key ``<key>@<sha256>``, so an
identical re-drop does nothing (Dagster drops a repeated run key). A file whose content differs
from what was last imported into its partition is *reported* (logged once per new content) and
not run: materialize it by hand with ``mode: append`` or ``mode: force``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from cleanlist_pipeline import dropstore
from cleanlist_pipeline.settings import Settings
from cleanlist_pipeline.dagster_layer.ledger import latest_source_sha
from cleanlist_pipeline.dagster_layer.partitions import CSV_DROPS, partition_key_for
from cleanlist_pipeline.ingest.encoding import sha256_file
from cleanlist_pipeline.ingest.source import is_uri
from cleanlist_pipeline.storage import resolve_filesystem

__all__ = [
    "DropFile",
    "DropScan",
    "build_drop_sensor",
    "evaluate_drops",
    "file_sha256",
    "resolve_drop",
    "scan_drops",
]

DROP_SENSOR_NAME = "cleanlist_drop_sensor"


def file_sha256(path: Path) -> str:
    """sha256 hex of a file's bytes (the same digest ``plan_file`` records for the drop)."""
    return sha256_file(path)


@dataclass(frozen=True)
class DropFile:
    """One CSV file in the drop folder (``path``: a local ``Path``, or an object's URI)."""

    key: str
    path: Path | str
    relative_path: str
    size: int
    mtime_ns: int

    @property
    def on_object_store(self) -> bool:
        """True when the drop is an object (``path`` is its URI)."""
        return not isinstance(self.path, Path)

    def sha256(self) -> str:
        """Content hash (reads the file, or streams the object)."""
        if isinstance(self.path, Path):
            return file_sha256(self.path)
        return dropstore.object_sha256(self.path)


@dataclass
class DropScan:
    """What a scan of the drop folder found."""

    root: Path | str
    drops: dict[str, DropFile] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[DropFile]:
        return iter(self.drops[k] for k in sorted(self.drops))


def scan_drops(drops_dir: str | os.PathLike[str]) -> DropScan:
    """Find the CSV drops under ``drops_dir`` (refusals are listed in ``.refused`` with reasons).

    >>> [d.key for d in scan_drops("sample_data/drops")]  # doctest: +SKIP
    ['2024-01-leads.csv', …]

    ``drops_dir`` may be an object-store URI (``s3://bucket/drops?endpoint_override=…``).
    """
    if dropstore.is_object_store(drops_dir):
        return _scan_objects(os.fspath(drops_dir))
    if is_uri(drops_dir):  # file:///… — a local folder after all
        drops_dir = resolve_filesystem(drops_dir)[1]
    root = Path(drops_dir)
    if not root.is_dir():
        raise FileNotFoundError(
            f"drop folder {str(root)!r} does not exist; set CLEANLIST_DROPS_DIR to a folder of CSV files"
        )
    real_root = root.resolve()
    scan = DropScan(root=root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in list(dirnames):
            if name.startswith("."):
                dirnames.remove(name)
            elif (here / name).is_symlink():
                dirnames.remove(name)
                scan.refused.append(f"{_rel(here / name, root)}: symlinked folder refused")
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith(".csv"):
                continue
            path = here / name
            rel = _rel(path, root)
            if path.is_symlink():
                scan.refused.append(f"{rel}: symlink refused (drops must be regular files)")
                continue
            try:
                path.resolve().relative_to(real_root)
                key = partition_key_for(rel)
            except ValueError:
                scan.refused.append(f"{rel}: leads outside the drop folder")
                continue
            st = path.stat()
            _add(scan, DropFile(key, path, rel, st.st_size, st.st_mtime_ns))
    return scan


def _add(scan: DropScan, drop: DropFile) -> None:
    """Add ``drop`` unless its key collides with another drop's (then refuse both)."""
    if drop.key in scan.drops:
        other = scan.drops.pop(drop.key).relative_path
        scan.refused.append(
            f"{drop.relative_path} and {other}: both map to partition key {drop.key!r}; rename one"
        )
        return
    scan.drops[drop.key] = drop


def _scan_objects(uri: str) -> DropScan:
    """``scan_drops`` for an object-store prefix: no symlinks there; keys that climb out of the
    prefix (``a/../b.csv`` is a valid object key) are refused."""
    root = dropstore.object_root(uri)
    scan = DropScan(root=uri)
    for rel, info in dropstore.list_csv_objects(root):
        try:
            key = partition_key_for(rel)
        except ValueError:
            scan.refused.append(f"{rel}: leads outside the drop folder")
            continue
        location = dropstore.object_uri(uri, root.fs, info.path)
        _add(scan, DropFile(key, location, rel, int(info.size or 0), int(info.mtime_ns or 0)))
    return scan


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def resolve_drop(drops_dir: str | os.PathLike[str] | None, partition_key: str) -> DropFile:
    """The drop file behind ``partition_key``; a clear error if it is gone or refused."""
    if not drops_dir:
        raise FileNotFoundError(
            "no drop folder is configured: set CLEANLIST_DROPS_DIR (there is no default with a "
            "real API key)"
        )
    scan = scan_drops(drops_dir)
    drop = scan.drops.get(partition_key)
    if drop is None:
        refused = [r for r in scan.refused if partition_key in r]
        why = f" ({refused[0]})" if refused else ""
        raise FileNotFoundError(
            f"partition {partition_key!r} has no file in the drop folder {str(drops_dir)!r}{why}"
        )
    return drop


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
    instance: dg.DagsterInstance, drops_dir: str, cursor: str | None
) -> tuple[list[dg.RunRequest], list[str], list[str], str]:
    """One sensor tick without Dagster's sensor machinery (also used by tests).

    Returns (run requests, new partition keys, messages about changed/refused drops, new cursor).
    The cursor remembers ``[size, mtime_ns, sha256]`` per key so unchanged files are not re-hashed,
    and the refusals already reported, so a refused file is reported once, not every tick.
    """
    known, reported = _load_cursor(cursor)
    scan = scan_drops(drops_dir)
    existing = set(instance.get_dynamic_partitions(CSV_DROPS.name or "csv_drops"))
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
        imported_sha = latest_source_sha(instance, drop.key)
        if imported_sha is not None and imported_sha != sha:
            messages.append(
                f"{drop.relative_path}: content changed since its last import "
                f"(sha256 {imported_sha[:12]}… → {sha[:12]}…). Drops are immutable, so it is "
                "not imported automatically; materialize it with config mode: append (only new "
                "records) or mode: force (re-import all; the list will hold duplicates)."
            )
            continue
        if drop.key not in existing:
            new_keys.append(drop.key)
        if imported_sha == sha:
            continue  # already imported (e.g. by a backfill) — nothing to do
        requests.append(
            dg.RunRequest(
                partition_key=drop.key,
                run_key=f"{drop.key}@{sha}",
                tags={
                    "cleanlist/drop_sha256": sha,
                },
            )
        )
    new_cursor = json.dumps({"files": files, "refused": sorted(scan.refused)}, sort_keys=True)
    return requests, new_keys, messages, new_cursor


def build_drop_sensor(settings: Settings, job: UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """The drop sensor: registers new files as partitions and requests one run each.

    Default status: RUNNING with the embedded sandbox, STOPPED against the real API (nothing runs
    by itself against a customer's workspace).
    """
    default_status = (
        dg.DefaultSensorStatus.RUNNING if settings.embedded else dg.DefaultSensorStatus.STOPPED
    )

    @dg.sensor(
        name=DROP_SENSOR_NAME,
        job=job,
        minimum_interval_seconds=30,
        default_status=default_status,
        description="Registers each new CSV in the drop folder as a csv_drops partition and "
        "requests one import run per file (run key = path + sha256).",
    )
    def cleanlist_drop_sensor(
        context: dg.SensorEvaluationContext,
    ) -> dg.SensorResult | dg.SkipReason:
        if not settings.drops_dir:
            return dg.SkipReason(
                "No drop folder configured: set CLEANLIST_DROPS_DIR (no default with a real API key)."
            )
        requests, new_keys, messages, cursor = evaluate_drops(
            context.instance, settings.drops_dir, context.cursor
        )
        for message in messages:
            context.log.warning(message)
        if not requests and not new_keys:
            context.update_cursor(cursor)
            return dg.SkipReason("; ".join(messages) if messages else "No new or changed drops.")
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[CSV_DROPS.build_add_request(new_keys)] if new_keys else [],
            cursor=cursor,
        )

    return cleanlist_drop_sensor
