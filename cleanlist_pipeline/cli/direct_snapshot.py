"""``cleanlist-pipeline snapshot`` without a Dagster run: page a list straight into Parquet.

A snapshot needs no orchestration: one list, paged and written. Run through Dagster it paid for
the import of Dagster and the instance (~1.5-4 s on 2 shared cores) and ~100 MB of memory before
the first page (1,000,000 leads: 0.49x the speed of a bare ``httpx`` + ``orjson`` loop, 291 MB;
this path: 0.92-1.03x, 186 MB — benchmarks/RESULTS.md, issue #12). Here the command imports only the
client, the storage layer and pyarrow, and:

* a prefetch thread (``list_snapshot.prefetch``) fetches the pages through the client's own
  pagination (retries, limiter, body cap, repeated-cursor and runaway guards), reading each
  page's cursor from the end of its raw body so the next request goes out at once;
* this thread decodes each body straight to Arrow columns (``storage.json_pages``:
  ``pyarrow.json`` in C++, without the GIL, while the server works on the next page; no dict or
  ``Lead`` object per row), checking the cursor read ahead against the decoded page;
* the columns go out as row groups as they fill (``storage.write_leads_snapshot``: deduplicated
  by ``lead_id``, typed, atomic, compressed), so memory stays flat in the list's size.

The file is the same one the ``leads_snapshot`` asset writes (same layout, schema and writer);
what this path does not do is record a materialization on the Dagster instance — ``--record``
runs the asset instead (see ``commands.snapshot``). The client is built as the Dagster resource
and the Airflow hook build theirs (``client_factory.client_from_settings``): same timeouts,
retries, rate-limit budget file and idempotency namespace, so a CLI snapshot and a running
pipeline share one request budget.
"""

from __future__ import annotations

import importlib.abc
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cleanlist_pipeline import contract
from cleanlist_pipeline.settings import Settings

__all__ = ["snapshot_direct"]

#: Pages between two progress updates (a terminal bar redraws on each one, ~0.1 s a page apart).
PROGRESS_EVERY_PAGES = 20


def _pages(client: Any, list_id: str, progress: Any) -> Iterator[Any]:
    """The list's pages (``list_snapshot.lead_pages``), counted into ``progress`` (in the fetch
    thread)."""
    from cleanlist_pipeline.list_snapshot import lead_pages

    n = 0
    for n, page in enumerate(lead_pages(client, list_id), 1):
        if progress is not None and n % PROGRESS_EVERY_PAGES == 0:
            progress.update(n)
        yield page
    if progress is not None:
        progress.update(n)


def snapshot_direct(settings: Settings, list_id: str, *, progress: Any = None) -> dict[str, Any]:
    """Write today's snapshot of ``list_id``; what the asset's metadata would say about it.

    ``progress`` (a ``cli.progress.Progress``, or None) counts the pages as they arrive,
    against the pages the list's ``lead_count`` needs. Raises the client's ``CleanlistError`` on an API
    failure (e.g. ``NotFoundError`` for a list the key cannot see); the earlier same-day file
    then stays as it was.
    """
    from cleanlist_pipeline.client_factory import client_from_settings
    from cleanlist_pipeline.list_snapshot import PREFETCH_PAGES, decoded_pages, prefetch
    from cleanlist_pipeline.storage import write_leads_snapshot

    started = time.perf_counter()
    with _pyarrow_without_pandas(), client_from_settings(settings) as client:
        expected = client.get_list(list_id).lead_count
        if progress is not None:
            progress.update(0, total=max(1, math.ceil(expected / contract.LEADS_PAGE_SIZE_MAX)))
        result = write_leads_snapshot(
            decoded_pages(
                prefetch(_pages(client, list_id, progress), depth=PREFETCH_PAGES), list_id
            ),
            settings.data_dir,
            list_id,
            datetime.now(UTC),
            allow_insecure=settings.allow_insecure_object_store,
        )
        if result.rows != expected:  # the list changed while it was paged?
            expected = client.get_list(list_id).lead_count
    seconds = time.perf_counter() - started
    return {
        "dagster/row_count": result.rows,
        "dagster/uri": _uri(result.path),
        "file_size_bytes": result.bytes,
        "duplicates_dropped": result.duplicates_dropped,
        "email_coverage_pct": round(100.0 * result.email_coverage, 2),
        "phone_coverage_pct": round(100.0 * result.phone_coverage, 2),
        "list_lead_count": expected,
        "seconds": round(seconds, 3),
    }


class _NoPandas(importlib.abc.MetaPathFinder):
    """Makes ``import pandas`` fail, so pyarrow's pandas probe finds none.

    pyarrow imports pandas the first time it converts Python objects, only to ask whether they
    are pandas objects: ~0.3-1.4 s and ~50 MB of this process's peak memory for nothing, as a
    snapshot holds no pandas object. pyarrow remembers the answer; nothing else in the
    ``snapshot`` command imports pandas.
    """

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not needed by a direct snapshot")
        return None


@contextmanager
def _pyarrow_without_pandas() -> Iterator[None]:
    if "pandas" in sys.modules:  # already there (e.g. a test process): nothing to save
        yield
        return
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        import pyarrow as pa

        pa.array([None])  # pyarrow's one pandas probe happens here, and finds none
    finally:
        sys.meta_path.remove(finder)
    yield


def _uri(path: str) -> str:
    # As the asset's ``dagster/uri``: object-store URIs as given, local paths as file:// URIs.
    if "://" in path:
        return path
    return Path(path).absolute().as_uri()
