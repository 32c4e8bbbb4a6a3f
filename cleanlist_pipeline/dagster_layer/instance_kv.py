"""A small key-value record in the Dagster instance, shared by every run worker and the daemon.

Dagster 1.13 exports no public key-value API (the run storage's "cursor values" are internal).
Its public dynamic-partitions API is a durable, shared, append-only set of strings per name —
in the instance's storage (Postgres in production), so every process on every node sees it — and
that is all a stop record or a running total needs: :func:`kv_set` appends
``<time_ns>.<base64(value)>`` to the set named after the key, and :func:`kv_get` reads the newest.
No asset uses these names, so they never show as partitions in the UI. Keys are namespaced per
pipeline instance with ``settings.names.kv_prefix``.

>>> _encode("a b", 7).split(".")[1]
'YSBi'
"""

from __future__ import annotations

import base64
import time

import dagster as dg

__all__ = ["kv_get", "kv_set"]

_PREFIX = "cleanlist_kv:"


def _encode(value: str, now_ns: int) -> str:
    # partition keys may not hold "..." or control characters: base64url has neither
    return f"{now_ns:020d}.{base64.urlsafe_b64encode(value.encode()).decode()}"


def _decode(entry: str) -> str:
    return base64.urlsafe_b64decode(entry.split(".", 1)[1].encode()).decode()


def kv_get(instance: dg.DagsterInstance, key: str) -> str | None:
    """The newest value stored under ``key``, or None."""
    entries = instance.get_dynamic_partitions(_PREFIX + key)
    return _decode(max(entries)) or None if entries else None


def kv_set(instance: dg.DagsterInstance, key: str, value: str) -> None:
    """Store ``value`` under ``key`` (the newest write wins)."""
    instance.add_dynamic_partitions(_PREFIX + key, [_encode(value, time.time_ns())])
