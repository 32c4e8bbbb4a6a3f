"""Opening a local drop safely: never through a symlink, and only the file the scan found.

The drop scan refuses symlinks, but planning, hashing and scanning reopen the drop by name many
times afterwards. Between the scan and any of those opens, someone who can write the drop folder
could swap the file for a symlink (to ``~/.ssh/id_rsa``, another customer's export…) or for
another file; every open here therefore

* uses ``O_NOFOLLOW`` (a symlink in the last path component is refused by the kernel, with no
  window between checking and opening) and ``O_NONBLOCK`` (a FIFO put in its place cannot hang
  the open), and refuses anything but a regular file;
* compares the opened file's identity — ``(st_dev, st_ino, st_size, st_mtime_ns)`` from
  ``fstat`` on the open descriptor — with the one the scan recorded, so a file replaced or
  rewritten in between is refused before a byte of it is read.

Both refusals raise :class:`~cleanlist_pipeline.ingest.errors.DropChangedError` naming the drop.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cleanlist_pipeline.ingest.errors import DropChangedError

__all__ = ["FileIdentity", "file_identity", "open_regular"]

# O_NOFOLLOW / O_NONBLOCK do not exist on Windows (where symlinks need privileges to create).
_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_REDROP = "drops must not be replaced or edited in place: drop a new file, then import it"


@dataclass(frozen=True)
class FileIdentity:
    """Which file, in which state: device, inode, size and modification time (ns)."""

    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _refuse_link(path: str | Path) -> DropChangedError:
    return DropChangedError(
        path,
        "the drop is now a symbolic link (drops must be regular files; it was not one when "
        "the drop folder was scanned)",
        "replace the link with the file itself and drop it again",
    )


def _refuse_kind(path: str | Path) -> DropChangedError:
    return DropChangedError(
        path, "the drop is not a regular file", "drop a regular CSV file (not a link or a pipe)"
    )


def file_identity(path: str | Path) -> FileIdentity:
    """The identity of the regular file at ``path`` (``lstat``: a symlink is refused)."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise _refuse_link(path)
    if not stat.S_ISREG(st.st_mode):
        raise _refuse_kind(path)
    return FileIdentity.of(st)


def open_regular(path: str | Path, expect: FileIdentity | None = None) -> BinaryIO:
    """Open ``path`` for binary reading without following a symlink; with ``expect``, refuse a
    file whose identity differs (:class:`DropChangedError`, naming ``path``)."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        # ELOOP on Linux/macOS; FreeBSD says EMLINK for O_NOFOLLOW on a link.
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise _refuse_link(path) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse_kind(path)
        if expect is not None and FileIdentity.of(st) != expect:
            raise DropChangedError(
                path,
                "the drop is no longer the file the drop folder scan found (it was replaced, "
                "moved or modified since); nothing was read from it",
                _REDROP,
            )
        if _FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
