"""Opening a drop for random reads: a local path, or an object-store URI through pyarrow.

Chunk steps re-read their bytes by manifest (``read_chunk``). On a Kubernetes or Celery executor
they run on machines that share no disk, so the drop may be an object: ``s3://bucket/drops/a.csv``
(options in the query string, e.g. ``?endpoint_override=127.0.0.1:9000&scheme=http``; key
characters outside ``[A-Za-z0-9/._~-]`` percent-encoded). A seek and a read on such a file is
one ranged GET, so a chunk costs one request of about its own size, never the whole object.

pyarrow is imported only for URIs: planning a local drop does not load it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, cast
from urllib.parse import urlsplit

from cleanlist_pipeline.ingest.errors import DropChangedError
from cleanlist_pipeline.ingest.identity import open_regular

__all__ = ["is_uri", "open_source"]


def is_uri(location: str | os.PathLike[str]) -> bool:
    """True for ``scheme://…`` locations (a one-letter scheme is a Windows drive, not a URI).

    >>> is_uri("s3://bucket/drops/a.csv"), is_uri("drops/a.csv"), is_uri(r"C:\\drops\\a.csv")
    (True, False, False)
    """
    text = os.fspath(location)
    return "://" in text and len(urlsplit(text).scheme) > 1


def open_source(location: str | os.PathLike[str]) -> BinaryIO:
    """Open a drop for ``seek``/``read``: a local file, or a pyarrow input file for a URI.

    A drop that is gone raises :class:`DropChangedError` (it was planned, so it existed).
    """
    text = os.fspath(location)
    try:
        if not is_uri(text):
            return open_regular(Path(text))  # never through a symlink swapped in
        import pyarrow.fs as pafs

        fs, path = pafs.FileSystem.from_uri(text)
        return cast(BinaryIO, fs.open_input_file(path))
    except FileNotFoundError:
        raise DropChangedError(
            text,
            "the drop is gone (deleted or moved after it was planned)",
            "drop the file again under the same name, or re-plan the partition",
        ) from None
