"""The drop partitions: one dynamic partition per CSV file in an instance's drop folder.

Each pipeline instance has its own partitions definition (``settings.names.partitions_drops``,
``csv_drops`` for the default instance): two definitions of one name would silently share one set
of keys in the Dagster instance.

A partition key is the file's path relative to the drop folder, in POSIX form, made safe for
Dagster: ``...`` is Dagster's range separator and ``,`` separates keys in the UI and in
``--partition`` lists, and control characters are refused by Dagster, so all of those (and
anything outside letters, digits, ``._-/`` and space) become ``_``.

>>> partition_key_for("2024/march, leads...csv")
'2024/march_ leads_csv'
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import dagster as dg

from cleanlist_pipeline.settings import Names

__all__ = ["drops_partitions", "partition_key_for"]

_UNSAFE = re.compile(r"[^\w.\- /]", re.UNICODE)
_DOTS = re.compile(r"\.{3,}")
_MAX_KEY = 512


def drops_partitions(names: Names) -> dg.DynamicPartitionsDefinition:
    """The drop partitions of the instance ``names`` belongs to."""
    return dg.DynamicPartitionsDefinition(name=names.partitions_drops)


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
