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

import dagster as dg

from cleanlist_pipeline.drop_scan import partition_key_for  # the key rule is orchestrator-free
from cleanlist_pipeline.settings import Names

__all__ = ["drops_partitions", "partition_key_for"]


def drops_partitions(names: Names) -> dg.DynamicPartitionsDefinition:
    """The drop partitions of the instance ``names`` belongs to."""
    return dg.DynamicPartitionsDefinition(name=names.partitions_drops)
