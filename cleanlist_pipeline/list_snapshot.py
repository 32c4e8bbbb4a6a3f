"""One list's leads paged into a Parquet snapshot: the orchestrator-free part of snapshots.

Used by the Dagster ``leads_snapshot`` asset (``dagster_layer/snapshots.py``) and the Airflow
snapshot operator alike. A prefetch thread fetches the next page while the current one is
converted and written (the API is remote, so its latency hides most of the writer's work); the
storage layer writes atomically (locally or to an object store) in the Hive layout
``<root>/leads/list_id=<id>/snapshot_date=<day>/leads.parquet``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from cleanlist_pipeline import contract
from cleanlist_pipeline.storage import SnapshotResult, write_leads_snapshot

__all__ = ["PAGE_SIZE", "PREFETCH_PAGES", "prefetch", "snapshot_to_parquet"]

PAGE_SIZE = contract.LEADS_PAGE_SIZE_MAX
# Pages fetched ahead of the writer: absorbs latency jitter; 4 pages of 500 rows are a few MB.
PREFETCH_PAGES = 4

T = TypeVar("T")


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate ``items`` in a background thread, up to ``depth`` items ahead of the consumer.

    Exceptions raised by the producer are re-raised in the consumer at the point they happened.
    When the consumer stops early, the producer stops after its current item.

    >>> list(prefetch(iter(range(3))))
    [0, 1, 2]
    """
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            slots.put(("error", exc))

    worker = threading.Thread(target=produce, name="cleanlist-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join(timeout=5)


def _lead_pages(client: Any, list_id: str) -> Iterator[Sequence[Any]]:
    for page in client.iter_lead_pages(list_id, page_size=PAGE_SIZE):
        # The rows as received (dicts) skip building a Lead object per row; the storage layer
        # type-checks every column as it converts it to Arrow.
        raw = getattr(page.leads, "raw", None)
        yield raw if raw is not None else list(page.leads)


def snapshot_to_parquet(
    client: Any,
    list_id: str,
    data_dir: str,
    *,
    retention_days: int | None = None,
    snapshot_at: datetime | None = None,
    allow_insecure: bool = False,
) -> tuple[SnapshotResult, int]:
    """Page every lead of ``list_id`` into today's Parquet file; ``(result, list lead_count)``.

    A prefetch thread fetches up to ``PREFETCH_PAGES`` pages ahead of the writer. The returned
    count is the list's ``lead_count`` before paging, or after paging when that one matches what
    was written (the list changed meanwhile), so a mismatch means the snapshot and the list
    disagree.
    """
    expected = client.get_list(list_id).lead_count
    result = write_leads_snapshot(
        prefetch(_lead_pages(client, list_id), depth=PREFETCH_PAGES),
        data_dir,
        list_id,
        snapshot_at or datetime.now(UTC),
        retention_days=retention_days,
        allow_insecure=allow_insecure,  # plain http off loopback: see storage.resolve_filesystem
    )
    if result.rows != expected:
        expected_after = client.get_list(list_id).lead_count
        expected = expected_after if result.rows == expected_after else expected
    return result, expected
