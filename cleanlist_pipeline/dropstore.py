"""Drops and rejects on object storage, through pyarrow's filesystems (no Dagster, no HTTP).

``CLEANLIST_DROPS_DIR`` and ``CLEANLIST_DATA_DIR`` take a local folder or a URI:

=====================================================================  ==============================
``drops`` / ``/srv/drops`` / ``~/drops``                                 local folder
``file:///srv/drops``                                                    local folder (same rules)
``s3://bucket/drops``                                                    AWS S3 (region looked up)
``s3://bucket/drops?region=eu-west-1``                                   AWS S3, region given
``s3://bucket/drops?endpoint_override=127.0.0.1:9000&scheme=http``       S3-compatible (MinIO, Ceph,
                                                                         moto); region via ``region=``
``gs://bucket/drops``                                                    Google Cloud Storage
=====================================================================  ==============================

Anything ``pyarrow.fs.FileSystem.from_uri`` takes works; options ride in the query string.
Credentials come from the environment as usual for pyarrow (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, an instance profile, ``GOOGLE_APPLICATION_…``).
A drops URI with credentials in it (``s3://KEY:SECRET@bucket/…``) is refused: every drop's URI
travels to the chunk steps and into failure messages.

Object drops follow the local rules: every ``*.csv`` key under the prefix (any depth, case-blind
suffix) is one drop; keys with a component starting with ``.`` are skipped (uploaders and the
storage layer stage objects that way); the partition key is the key relative to the prefix,
sanitised as for files; keys that climb (``a/../b.csv``) or collide after sanitising are refused.
There are no symlinks on object stores. A drop is known by the URI of its object — the root's
scheme, bucket and query with the key percent-encoded — which chunk steps open on any machine.

How an object drop is read:

* the drop sensor hashes new objects by streaming them (8 MiB ranged reads);
* planning downloads the object once into a private temporary folder (hashing while it streams,
  then checking the object's size and modification time did not move meanwhile), plans that copy
  (the encoding pre-pass and the scan read the file more than once, and a ``<drop>.mapping.json``
  sidecar is fetched beside it), and deletes it;
* each chunk step reads its manifest byte ranges from the object (``ingest.read_chunk`` on the
  URI: one ranged GET of about one chunk), and the manifest's chunk sha256 refuses an object that
  changed since planning. No step needs the planning machine's disk, and no cache must be kept.

Rejects go to ``<data dir>/rejects/<name>~<hash>.csv`` (:func:`rejects_name`: the partition
key's folders and readable name, plus the first 8 hex digits of the sha256 of the exact key, so
drops whose keys differ only in what sanitising or the added ``.csv`` erases — ``leads...csv``
and ``leads_csv.csv`` — never share a rejects file) through ``storage.resolve_filesystem``:
written to a private local temporary file, then published by one upload and a move (as
snapshots are).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pyarrow.fs as pafs

from cleanlist_pipeline.ingest import ImportPlan, IngestError, plan_file, write_rejects
from cleanlist_pipeline.ingest.encoding import sha256_file
from cleanlist_pipeline.ingest.errors import MappingError
from cleanlist_pipeline.ingest.identity import FileIdentity, file_identity
from cleanlist_pipeline.ingest.mapping import SIDECAR_MAX_BYTES, sidecar_path
from cleanlist_pipeline.ingest.source import is_uri
from cleanlist_pipeline.storage.filesystem import atomic_file, is_local, resolve_filesystem
from cleanlist_pipeline.uris import check_object_store_uri

__all__ = [
    "LocalDrop",
    "ObjectRoot",
    "is_object_store",
    "list_csv_objects",
    "local_drop",
    "object_root",
    "object_sha256",
    "object_uri",
    "publish_rejects",
    "rejects_location",
    "rejects_name",
    "rejects_target",
]

_BLOCK = 8 * 1024 * 1024


def is_object_store(location: str | os.PathLike[str] | None) -> bool:
    """True when ``location`` is a URI on a non-local filesystem (``s3://…``, ``gs://…``).

    >>> is_object_store("s3://bucket/drops"), is_object_store("file:///srv/drops")
    (True, False)
    """
    if location is None or not is_uri(location):
        return False
    scheme = urlsplit(os.fspath(location)).scheme.lower()
    return scheme not in ("file", "local")


@dataclass(frozen=True)
class ObjectRoot:
    """A drop prefix on an object store: the URI as configured, its filesystem and base path."""

    uri: str
    fs: pafs.FileSystem
    base: str


def object_root(uri: str, *, allow_insecure: bool = False) -> ObjectRoot:
    """Open the object-store prefix ``uri`` (credentials in the URI are refused, and plain http
    off loopback unless ``allow_insecure``: ``uris.check_object_store_uri``)."""
    check_object_store_uri(uri, "CLEANLIST_DROPS_DIR", allow_insecure=allow_insecure)
    fs, base = resolve_filesystem(uri, allow_insecure=allow_insecure)
    return ObjectRoot(uri, fs, base)


def list_csv_objects(root: ObjectRoot) -> list[tuple[str, pafs.FileInfo]]:
    """``(relative key, info)`` of every visible ``*.csv`` object under the prefix, sorted.

    Raises ``FileNotFoundError`` when the bucket does not exist; a prefix with no objects is an
    empty drop folder (object stores have no empty folders to create beforehand).
    """
    info = root.fs.get_file_info(root.base)
    if info.type == pafs.FileType.File:
        raise FileNotFoundError(
            f"{_safe(root.uri)} is an object, not a prefix; set CLEANLIST_DROPS_DIR to the "
            "prefix holding the CSV drops"
        )
    if info.type == pafs.FileType.NotFound:
        bucket = root.base.split("/", 1)[0]
        if root.fs.get_file_info(bucket).type == pafs.FileType.NotFound:
            raise FileNotFoundError(
                f"bucket {bucket!r} of the drops URI {_safe(root.uri)} does not exist (or these "
                "credentials cannot see it)"
            )
        return []
    out: list[tuple[str, pafs.FileInfo]] = []
    selector = pafs.FileSelector(root.base, recursive=True, allow_not_found=True)
    prefix = root.base.rstrip("/") + "/"
    for item in root.fs.get_file_info(selector):
        if item.type != pafs.FileType.File or not item.path.startswith(prefix):
            continue
        rel = item.path[len(prefix) :]
        parts = rel.split("/")
        if any(p.startswith(".") and p not in (".", "..") for p in parts):
            continue
        if not parts[-1].lower().endswith(".csv"):
            continue
        out.append((rel, item))
    return sorted(out, key=lambda pair: pair[0])


def object_uri(root_uri: str, fs: pafs.FileSystem, path: str) -> str:
    """The URI of object ``path`` (as ``fs`` names it) under ``root_uri``: scheme, host and query
    of the root, key percent-encoded, no credentials.

    >>> fs, _ = resolve_filesystem("s3://bkt/drops?endpoint_override=127.0.0.1:9&scheme=http")
    >>> object_uri("s3://bkt/drops?endpoint_override=127.0.0.1:9&scheme=http", fs, "bkt/drops/a b.csv")
    's3://bkt/drops/a%20b.csv?endpoint_override=127.0.0.1:9&scheme=http'
    """
    parts = urlsplit(root_uri)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    # Object stores name objects bucket/key; others (hdfs) keep the host outside the path.
    location = path if path.split("/", 1)[0] == host else f"{host}/{path.lstrip('/')}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{quote(location, safe='/')}{query}"


def _safe(uri: str) -> str:
    """``uri`` without credentials, for messages."""
    parts = urlsplit(uri)
    if not (parts.username or parts.password):
        return uri
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def _open(uri: str) -> tuple[pafs.FileSystem, str]:
    fs, path = pafs.FileSystem.from_uri(uri)
    return fs, path


def object_sha256(uri: str) -> str:
    """sha256 hex of an object's bytes, streamed in 8 MiB reads."""
    fs, path = _open(uri)
    h = hashlib.sha256()
    with fs.open_input_stream(path) as src:
        while block := src.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class LocalDrop:
    """A drop readable as a local file for planning.

    ``path`` is the file planning reads (the drop itself, or a private copy of the object);
    ``location`` is what chunk steps open and messages show (the local path, or the object URI);
    ``identity`` is the local file's (``ingest.identity``): planning refuses any other file.
    """

    path: Path
    location: str
    sha256: str
    copied: bool
    identity: FileIdentity | None = None

    def plan(self, **kwargs: Any) -> ImportPlan:
        """``ingest.plan_file`` on the local file; the plan and any error name ``location``."""
        try:
            plan = plan_file(self.path, identity=self.identity, **kwargs)
        except IngestError as exc:
            raise self.rename(exc) from None
        return replace(plan, path=self.location) if self.copied else plan

    def rename(self, exc: IngestError) -> IngestError:
        """``exc`` with the temporary copy's path replaced by the object's URI."""
        if not self.copied:
            return exc
        local = str(self.path)
        exc.path = exc.path.replace(local, self.location)
        exc.args = tuple(
            a.replace(local, self.location) if isinstance(a, str) else a for a in exc.args
        )
        return exc


@contextlib.contextmanager
def local_drop(
    location: str | os.PathLike[str],
    sha256: str | None = None,
    identity: FileIdentity | None = None,
) -> Iterator[LocalDrop]:
    """Yield the drop as a local file: itself, or a verified private copy of the object.

    ``sha256`` (optional) is computed for a local file when not given; for an object it is the
    hash of the bytes downloaded. The copy (``0o600`` in a ``0o700`` folder: drops hold personal
    data) and its sidecar mapping are deleted on exit. ``identity``: what the drop scan found
    for a local file (default: the file there now); hashing and planning open the file without
    following a symlink and refuse any other file (``DropChangedError``, naming the drop).
    """
    text = os.fspath(location)
    if not is_object_store(text):
        path = Path(resolve_filesystem(text)[1]) if is_uri(text) else Path(text)
        found = identity or file_identity(path)
        digest = sha256 or sha256_file(path, found)
        yield LocalDrop(path, str(path), digest, copied=False, identity=found)
        return
    fs, path = _open(text)
    folder = tempfile.mkdtemp(prefix="cleanlist-drop-")  # 0o700
    try:
        name = path.rsplit("/", 1)[-1] or "drop.csv"
        local = Path(folder) / name
        digest = _download(fs, path, local, text)
        side = sidecar_path(path)
        side_key = side.as_posix()
        side_info = fs.get_file_info(side_key)
        if side_info.type == pafs.FileType.File:
            if (side_info.size or 0) > SIDECAR_MAX_BYTES:  # refused before a byte is fetched
                raise MappingError(
                    text,
                    f"the sidecar {side.name} is larger than {SIDECAR_MAX_BYTES} bytes: that is "
                    "no column mapping",
                    'write it as {"email": "E-mail", ...}: one entry per field',
                )
            _download(fs, side_key, Path(folder) / side.name, text)
        yield LocalDrop(local, text, digest, copied=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _download(fs: pafs.FileSystem, path: str, dest: Path, uri: str) -> str:
    """Copy object ``path`` to ``dest`` (``0o600``); return its sha256. Refuses an object that
    was replaced while it streamed (size or modification time moved)."""
    before = fs.get_file_info(path)
    if before.type != pafs.FileType.File:
        raise FileNotFoundError(f"drop {uri} is gone (deleted or moved)")
    h = hashlib.sha256()
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, fs.open_input_stream(path) as src:
        while block := src.read(_BLOCK):
            h.update(block)
            out.write(block)
    after = fs.get_file_info(path)
    if (after.size, after.mtime_ns) != (before.size, before.mtime_ns) or dest.stat().st_size != (
        before.size or 0
    ):
        raise IngestError(
            uri,
            "the object was replaced while it was being read",
            "drops must not be overwritten in place: upload a new object, then import it",
        )
    return h.hexdigest()


#: Bytes kept of a rejects file's readable name: with ``~<hash>.csv`` it stays within the 255
#: bytes most filesystems allow for one name (a drop's own name may already use them all).
_REJECTS_NAME_BYTES = 160


def rejects_name(partition_key: str) -> str:
    """The rejects file of ``partition_key``, relative to ``<data dir>/rejects``: the key's
    folders, its file name without ``.csv``, ``~`` and 8 hex digits of the sha256 of the exact
    key, ``.csv``. Keys that sanitise alike (``leads...csv`` gives the key ``leads_csv``) or
    differ only in case (on a case-blind disk) still get files of their own.

    >>> rejects_name("2025-04-crm-export.csv"), rejects_name("leads_csv")
    ('2025-04-crm-export~652652f0.csv', 'leads_csv~e33d7f94.csv')
    """
    folder, _, name = partition_key.rpartition("/")
    stem = name[:-4] if name.lower().endswith(".csv") else name
    stem = stem.encode("utf-8")[:_REJECTS_NAME_BYTES].decode("utf-8", "ignore") or "drop"
    digest = hashlib.sha256(partition_key.encode("utf-8")).hexdigest()[:8]
    return f"{folder}/{stem}~{digest}.csv" if folder else f"{stem}~{digest}.csv"


def rejects_location(
    data_dir: str, *, allow_insecure: bool = False
) -> tuple[pafs.FileSystem, str]:
    """``(filesystem, base path)`` of ``<data dir>/rejects``."""
    fs, base = resolve_filesystem(data_dir, allow_insecure=allow_insecure)
    sep = os.sep if is_local(fs) else "/"
    return fs, base.rstrip("/\\") + sep + "rejects"


def rejects_target(
    data_dir: str, partition_key: str, *, allow_insecure: bool = False
) -> tuple[pafs.FileSystem, str, str]:
    """``(filesystem, path, shown)`` of a partition's rejects file; ``shown`` is a local path or
    a URI without credentials (what metadata and reports print)."""
    fs, folder = rejects_location(data_dir, allow_insecure=allow_insecure)
    name = rejects_name(partition_key)
    if is_local(fs):
        path = os.path.join(folder, *name.split("/"))
        return fs, path, path
    path = f"{folder}/{name}"
    return fs, path, object_uri(_safe(data_dir), fs, path)


def publish_rejects(
    plan: ImportPlan,
    data_dir: str,
    partition_key: str,
    source: str | os.PathLike[str],
    *,
    formula_guard: bool = False,
    allow_insecure: bool = False,
) -> str:
    """Write ``plan``'s removed and rejected records to ``<data dir>/rejects/``
    :func:`rejects_name` atomically.

    ``source`` is a local copy of the drop (the rows are copied from it byte for byte, or with
    ``formula_guard`` — ``Settings.rejects_formula_guard`` — with formula-like cells prefixed by
    ``'``). Every local file involved is ``0o600`` from its creation and removed on failure.
    Returns where the file is (a local path or a URI without credentials).
    """
    fs, path, shown = rejects_target(data_dir, partition_key, allow_insecure=allow_insecure)
    with atomic_file(fs, path) as tmp:
        write_rejects(plan, tmp, source_path=source, formula_guard=formula_guard)
    return shown
