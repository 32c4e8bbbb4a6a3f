"""Drop discovery: which CSV files in the drop folder are partitions, under which keys.

Each ``*.csv`` file under the drop folder is one partition of the instance's drop partitions
(``csv_drops`` for the default instance). Discovery refuses
symlinks (files or folders) and anything that resolves outside the folder, skips hidden entries
(``.name``: editors and uploaders write temporary files that way) and reports two files whose
sanitised keys collide instead of guessing.

The drop folder may be an object-store prefix (``s3://bucket/drops?…``, see
``cleanlist_pipeline.dropstore``): the same keys, skips and refusals apply to the objects under
it, and a drop's ``path`` is then its object URI (a ``str``) instead of a local ``Path``.

What becomes of each drop (the sensor, ``drop_sensor.py``) and what state it is in
(``drop_state.py``) are decided elsewhere; this module touches neither Dagster nor the ledger.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cleanlist_pipeline import dropstore
from cleanlist_pipeline.dagster_layer.partitions import partition_key_for
from cleanlist_pipeline.ingest.encoding import sha256_file
from cleanlist_pipeline.ingest.source import is_uri
from cleanlist_pipeline.storage import resolve_filesystem

__all__ = [
    "DropFile",
    "DropScan",
    "file_sha256",
    "resolve_drop",
    "scan_drops",
]


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
