"""One list's leads paged into a Parquet snapshot: the orchestrator-free part of snapshots.

Used by the Dagster ``leads_snapshot`` asset (``dagster_layer/snapshots.py``) and the Airflow
snapshot operator alike. A prefetch thread fetches the next page while the current one is
decoded to Arrow and written (the API is remote, so its latency hides most of the writer's work;
the decoding releases the GIL, see ``storage.json_pages``); the
storage layer writes atomically (locally or to an object store) in the Hive layout
``<root>/leads/list_id=<id>/snapshot_date=<day>/leads.parquet``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from cleanlist_pipeline import contract
from cleanlist_pipeline.api.client import CleanlistClient
from cleanlist_pipeline.api.errors import ResponseShapeError
from cleanlist_pipeline.api.models import LeadsPage
from cleanlist_pipeline.storage import SnapshotResult, write_leads_snapshot
from cleanlist_pipeline.storage.json_pages import (
    ArrowLeadsPage,
    PendingLeadsPage,
    decode_leads_page,
    read_ahead,
)

__all__ = [
    "PAGE_SIZE",
    "PREFETCH_PAGES",
    "decoded_pages",
    "lead_pages",
    "prefetch",
    "snapshot_to_parquet",
]

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


def lead_pages(client: Any, list_id: str) -> Iterator[Any]:
    """The list's pages, fetched in the caller's thread; pass them through ``decoded_pages`` in
    the writer's thread.

    A ``CleanlistClient`` hands each raw body to ``_fast_page``: its cursor is read from the
    body's end (``json_pages.read_ahead``) so the next request goes out at once, and the body
    is decoded to Arrow later, in the writer's thread. A body whose end cannot be read that way
    is decoded to Arrow here; one pyarrow does not take exactly, or any other client (a wrapper
    or subclass with its own ``iter_lead_pages``: its pages are the ones to write), gives the
    rows as received (dicts), which the storage layer types as it converts.
    """
    pages = (
        client.iter_lead_pages_decoded(list_id, _fast_page, PAGE_SIZE)
        if getattr(type(client), "iter_lead_pages", None) is CleanlistClient.iter_lead_pages
        else client.iter_lead_pages(list_id, page_size=PAGE_SIZE)
    )
    for page in pages:
        if isinstance(page, ArrowLeadsPage | PendingLeadsPage):
            yield page
        else:
            raw = getattr(page.leads, "raw", None)
            yield raw if raw is not None else list(page.leads)


def decoded_pages(pages: Iterable[Any], list_id: str) -> Iterator[Any]:
    """``pages`` from ``lead_pages`` with every page read ahead decoded (in this thread)."""
    for page in pages:
        if isinstance(page, PendingLeadsPage):
            yield _decode_pending(page, list_id)
        else:
            yield page


def _fast_page(body: bytes) -> PendingLeadsPage | ArrowLeadsPage | None:
    return read_ahead(body) or decode_leads_page(body)


def _decode_pending(page: PendingLeadsPage, list_id: str) -> Any:
    decoded: ArrowLeadsPage | LeadsPage | None
    try:
        decoded = page.decode()
        if decoded is None:
            # Not for pyarrow (a value of another type, a row without lead_id, …): the client's
            # model judges it, as it does every page of iter_lead_pages.
            decoded = LeadsPage.from_json(orjson.loads(page.body))
    except ResponseShapeError:
        raise
    except (ValueError, RecursionError) as exc:
        raise ResponseShapeError(
            f"GET lead-lists/{list_id}/leads answered with a page that is not the JSON "
            f"object it announced ({type(exc).__name__}).",
            model="response",
            field="",
        ) from None
    if (decoded.cursor, decoded.total) != (page.cursor, page.total):
        raise ResponseShapeError(
            f"GET lead-lists/{list_id}/leads: the page's cursor or total differs from the ones "
            "read ahead from its end; stopping rather than trusting either.",
            model="LeadsPage",
            field="cursor",
        )
    return decoded if isinstance(decoded, ArrowLeadsPage) else decoded.leads.raw


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
        decoded_pages(prefetch(lead_pages(client, list_id), depth=PREFETCH_PAGES), list_id),
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
