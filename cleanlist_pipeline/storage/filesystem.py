"""Filesystems behind a snapshot root, and atomic publication of one file.

A root is a local path (``data/``) or a URI pyarrow understands (``file:///…``, ``s3://bucket/prefix``,
``gs://…``; options such as ``?endpoint_override=…&scheme=http`` ride along in the query string,
credentials come from the environment as usual for pyarrow).

Every URI is checked before it is opened (``cleanlist_pipeline.uris``): credentials inside it
(``s3://KEY:SECRET@bucket/…``) are refused, since locations are shown in metadata and messages;
plain http (``scheme=http``) to an endpoint off loopback is refused unless the caller passes
``allow_insecure=True`` (the ``allow_insecure_object_store`` setting): snapshots hold personal data.

Publication is atomic on both kinds of store:

* local: the file is written next to its final name under a hidden temporary name (readers such as
  pyarrow datasets skip names starting with ``.``), fsynced, then ``os.replace``-d over the old one;
* object stores: the file is written to a local temporary file first, so a failure while
  *producing* the data never reaches the bucket; then it is uploaded in one ``open_output_stream``
  to a hidden staging key beside the final one and moved over it (S3/GCS: one server-side copy),
  so an upload cut short never replaces the previous snapshot.

Local files are created ``0o600`` and the folders this module creates ``0o700``: snapshots hold
personal data (emails, phones).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from cleanlist_pipeline.uris import check_object_store_uri

_COPY_CHUNK = 8 * 1024 * 1024
# Stores whose "folders" are only key prefixes: creating them would leave empty marker objects
# that some readers list as files.
_FLAT_STORES = frozenset({"s3", "gcs"})


def _has_scheme(root: str) -> bool:
    scheme = urlsplit(root).scheme
    # A one-letter "scheme" is a Windows drive ("C:\\data"), not a URI.
    return len(scheme) > 1 and "://" in root


def resolve_filesystem(
    root: str | os.PathLike[str], *, allow_insecure: bool = False
) -> tuple[pafs.FileSystem, str]:
    """Return ``(filesystem, base_path)`` for a root path or URI.

    A URI with credentials, or with plain http to a non-loopback endpoint (unless
    ``allow_insecure``), raises ``uris.UnsafeURIError`` (a ``ValueError``) before anything opens.

    >>> fs, base = resolve_filesystem("data")
    >>> type(fs).__name__, base.endswith("/data")
    ('LocalFileSystem', True)

    ``resolve_filesystem("s3://bucket/prefix")`` gives an ``S3FileSystem`` and ``"bucket/prefix"``.
    """
    text = os.fspath(root)
    if not text:
        raise ValueError(
            "snapshot root is empty; pass a folder or a URI such as s3://bucket/prefix"
        )
    if _has_scheme(text):
        check_object_store_uri(text, "the storage location", allow_insecure=allow_insecure)
        fs, path = pafs.FileSystem.from_uri(text)
        path = path.rstrip("/") or path
        if isinstance(fs, pafs.LocalFileSystem):
            path = os.path.abspath(path)
        return fs, path
    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(text))


def is_local(fs: pafs.FileSystem) -> bool:
    """True when ``fs`` paths are this machine's paths (``os`` functions apply)."""
    return isinstance(fs, pafs.LocalFileSystem)


def display_path(root: str | os.PathLike[str], fs: pafs.FileSystem, path: str) -> str:
    """A path a reader can hand back to :func:`resolve_filesystem`: local path, or URI.

    Credentials given in the root URI (``s3://access:secret@bucket/…``) are left out, so the result
    is safe to show in logs and metadata; readers then take credentials from the environment.
    """
    if is_local(fs):
        return path
    parts = urlsplit(os.fspath(root))
    query = parts.query
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    # Object stores put the bucket in the path pyarrow hands back (bucket/key); others (hdfs)
    # keep the host outside it.
    location = path if path.split("/", 1)[0] == host else f"{host}/{path.lstrip('/')}"
    return f"{parts.scheme}://{location}" + (f"?{query}" if query else "")


def make_private_dirs(path: str) -> list[str]:
    """Create missing local folders down to ``path`` with mode 0o700; return those created.

    Existing folders keep their mode: they may be the user's own (``data/``).
    """
    missing: list[str] = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    created: list[str] = []
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask; be explicit
        created.append(folder)
    return created


def _remove_empty_dirs(folders: list[str]) -> None:
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def _fsync_dir(folder: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_file(fs: pafs.FileSystem, final_path: str) -> Iterator[str]:
    """Yield a local temporary path to write; publish it at ``final_path`` if the block succeeds.

    On any exception the temporary file is removed, folders created for it are removed again
    when empty, and whatever was at ``final_path`` before stays untouched.
    """
    if is_local(fs):
        folder = os.path.dirname(final_path)
        created = make_private_dirs(folder)
        base = os.path.basename(final_path)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=folder)  # 0o600
        except BaseException:
            _remove_empty_dirs(created)
            raise
        os.close(fd)
        try:
            yield tmp
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final_path)
            _fsync_dir(folder)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            _remove_empty_dirs(created)
            raise
        return

    fd, tmp = tempfile.mkstemp(prefix=".cleanlist-snapshot.", suffix=".parquet.tmp")
    os.close(fd)
    parent, base = final_path.rsplit("/", 1)
    staged = f"{parent}/.{base}.{uuid.uuid4().hex}.tmp"
    try:
        yield tmp
        if fs.type_name not in _FLAT_STORES:
            fs.create_dir(parent, recursive=True)
        try:
            # pyarrow completes (rather than aborts) an object upload when its stream is closed,
            # even on an exception; so the upload goes to a hidden staging key, and only a whole
            # upload is moved over the final key (a server-side copy on S3/GCS).
            with open(tmp, "rb") as src, fs.open_output_stream(staged) as dst:
                shutil.copyfileobj(src, dst, _COPY_CHUNK)
            fs.move(staged, final_path)
        except BaseException:
            with contextlib.suppress(OSError):
                fs.delete_file(staged)
            raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def child_dirs(fs: pafs.FileSystem, path: str) -> list[str]:
    """Base names of the folders directly under ``path`` (empty if ``path`` does not exist)."""
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return [info.base_name for info in infos if info.type == pafs.FileType.Directory]


def file_exists(fs: pafs.FileSystem, path: str) -> bool:
    """True when ``path`` is a file on ``fs``."""
    return fs.get_file_info(path).type == pafs.FileType.File


def file_size(fs: pafs.FileSystem, path: str) -> int:
    """Size in bytes of the file at ``path``."""
    size = fs.get_file_info(path).size
    return int(size or 0)
