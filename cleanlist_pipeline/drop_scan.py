"""Drop discovery: which CSV files in the drop folder are partitions, under which keys.

Each ``*.csv`` file under the drop folder is one partition of the instance's drop partitions
(``csv_drops`` for the default instance). Discovery refuses
symlinks (files or folders) and anything that resolves outside the folder, skips hidden entries
(``.name``: editors and uploaders write temporary files that way) and reports two files whose
sanitised keys collide instead of guessing. Each local drop keeps the identity the scan saw
(device, inode, size, modification time): hashing and planning open it without following a
symlink and refuse any other file (``ingest.identity``), so a drop swapped for a symlink or
another file after the scan is refused by name and nothing is read from the impostor.

The drop folder may be an object-store prefix (``s3://bucket/drops?…``, see
``cleanlist_pipeline.dropstore``): the same keys, skips and refusals apply to the objects under
it, and a drop's ``path`` is then its object URI (a ``str``) instead of a local ``Path``.

What becomes of each drop (Dagster's sensor, Airflow's planning task) and what state it is in
are decided elsewhere; this module touches no orchestrator and no ledger, so both use it
(``dagster_layer/drops.py`` re-exports it).

A drop's key is its path relative to the drop folder, in POSIX form, made safe for Dagster
partition keys: ``...`` is Dagster's range separator and ``,`` separates keys in the UI, and
control characters are refused, so all of those (and anything outside letters, digits, ``._-/``
and space) become ``_``. Airflow uses the same keys, so both ledgers name a drop alike.

>>> partition_key_for("2024/march, leads...csv")
'2024/march_ leads_csv'
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cleanlist_pipeline import dropstore
from cleanlist_pipeline.ingest.encoding import sha256_file
from cleanlist_pipeline.ingest.identity import FileIdentity
from cleanlist_pipeline.ingest.source import is_uri
from cleanlist_pipeline.storage import resolve_filesystem

__all__ = [
    "DropFile",
    "DropScan",
    "file_sha256",
    "partition_key_for",
    "resolve_drop",
    "scan_drops",
]

_UNSAFE = re.compile(r"[^\w.\- /]", re.UNICODE)
_DOTS = re.compile(r"\.{3,}")
_MAX_KEY = 512


def file_sha256(path: Path, identity: FileIdentity | None = None) -> str:
    """sha256 hex of a file's bytes (the same digest ``plan_file`` records for the drop); never
    through a symlink, and with ``identity`` only that very file."""
    return sha256_file(path, identity)


@dataclass(frozen=True)
class DropFile:
    """One CSV file in the drop folder (``path``: a local ``Path``, or an object's URI;
    ``identity``: what the scan saw of a local file, which every later read must find)."""

    key: str
    path: Path | str
    relative_path: str
    size: int
    mtime_ns: int
    identity: FileIdentity | None = None

    @property
    def on_object_store(self) -> bool:
        """True when the drop is an object (``path`` is its URI)."""
        return not isinstance(self.path, Path)

    def sha256(self) -> str:
        """Content hash (reads the file, or streams the object)."""
        if isinstance(self.path, Path):
            return file_sha256(self.path, self.identity)
        return dropstore.object_sha256(self.path)


@dataclass
class DropScan:
    """What a scan of the drop folder found."""

    root: Path | str
    drops: dict[str, DropFile] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[DropFile]:
        return iter(self.drops[k] for k in sorted(self.drops))


def scan_drops(drops_dir: str | os.PathLike[str], *, allow_insecure: bool = False) -> DropScan:
    """Find the CSV drops under ``drops_dir`` (refusals are listed in ``.refused`` with reasons).

    >>> [d.key for d in scan_drops("sample_data/drops")]  # doctest: +SKIP
    ['2024-01-leads.csv', …]

    ``drops_dir`` may be an object-store URI (``s3://bucket/drops?endpoint_override=…``);
    ``allow_insecure`` lets it use plain http off loopback (``allow_insecure_object_store``).
    """
    if dropstore.is_object_store(drops_dir):
        return _scan_objects(os.fspath(drops_dir), allow_insecure)
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
            st = path.lstat()  # not stat(): a symlink swapped in since is_symlink() stays one
            if stat.S_ISLNK(st.st_mode):
                scan.refused.append(f"{rel}: symlink refused (drops must be regular files)")
                continue
            if not stat.S_ISREG(st.st_mode):  # a FIFO would hang every reader
                scan.refused.append(f"{rel}: not a regular file")
                continue
            identity = FileIdentity.of(st)
            _add(scan, DropFile(key, path, rel, st.st_size, st.st_mtime_ns, identity))
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


def _scan_objects(uri: str, allow_insecure: bool = False) -> DropScan:
    """``scan_drops`` for an object-store prefix: no symlinks there; keys that climb out of the
    prefix (``a/../b.csv`` is a valid object key) are refused."""
    root = dropstore.object_root(uri, allow_insecure=allow_insecure)
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


def partition_key_for(relative_path: str) -> str:
    """Partition key for a drop at ``relative_path`` (relative to the drop folder).

    Raises ``ValueError`` for paths that climb out of the folder or are empty.

    >>> partition_key_for("leads/jan.csv")
    'leads/jan.csv'
    """
    posix = PurePosixPath(relative_path.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or not posix.parts:
        raise ValueError(f"{relative_path!r} is not a path inside the drop folder")
    key = _DOTS.sub("_", _UNSAFE.sub("_", posix.as_posix()))
    if len(key) > _MAX_KEY:
        raise ValueError(f"drop path is longer than {_MAX_KEY} characters: {key[:60]}…")
    return key
