"""How far a Dagster run is, read off the instance's event log while the run goes on.

The CLI executes a job in its own thread (``execute_in_process``) or waits on a backfill the
daemon runs; a background thread here reads the same event log the UI shows, every
``poll_s`` seconds, and feeds a :class:`~cleanlist_pipeline.cli.progress.Progress`:

* an import run: the plan step's ``chunks`` outputs give the total (one dynamic output per
  chunk), each finished ``import_chunk`` step is one chunk done — one that recorded no ledger
  observation was found in the ledger (no API call) and is kept out of the rate;
* a snapshot run: the snapshot step logs nothing per page, so its pages are counted from the
  API client's own request log (``cleanlist_pipeline.api``, the same process) against the
  list's ``lead_count``;
* a backfill: its runs (tag ``dagster/backfill``) that have ended, against its partitions.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import dagster as dg

from cleanlist_pipeline.cli.progress import Progress
from cleanlist_pipeline.contract import LEADS_PAGE_SIZE_MAX
from cleanlist_pipeline.settings import Names

__all__ = [
    "ImportEvents",
    "count_page_requests",
    "follow",
    "follow_backfill",
    "watching_backfill",
    "watching_import",
    "watching_snapshot",
]

_ENDED = {
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
}


class ImportEvents:
    """Reads one import run's events incrementally; tells chunks planned, done, and found."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, plan_op: str, chunk_op: str):
        self.instance = instance
        self.run_id = run_id
        self.plan_op = plan_op
        self.chunk_op = chunk_op
        self.total: int | None = None
        self._planned = 0
        self._cursor: str | None = None
        self._observed: set[str] = set()

    def poll(self, progress: Progress) -> None:
        """Read the events since the last poll into ``progress``."""
        while True:
            conn = self.instance.get_records_for_run(self.run_id, cursor=self._cursor, limit=1000)
            for record in conn.records:
                self._read(record.event_log_entry, progress)
            self._cursor = conn.cursor
            if not conn.has_more:
                return

    def _read(self, entry: Any, progress: Progress) -> None:
        event = entry.dagster_event
        if event is None:
            return
        step = entry.step_key or ""
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_OUTPUT and f"{self.plan_op}" in step:
            if event.step_output_data.output_name == "chunks":
                self._planned += 1
        elif kind == dg.DagsterEventType.STEP_SUCCESS and self.plan_op in step:
            self.total = self._planned
            progress.update(progress.done, total=self.total)
        elif kind == dg.DagsterEventType.ASSET_OBSERVATION:
            self._observed.add(step)
        elif kind == dg.DagsterEventType.STEP_SUCCESS and f"{self.chunk_op}[" in step:
            if step in self._observed:
                progress.advance()
            else:
                progress.skip()


@contextmanager
def follow(poll: Callable[[], None], poll_s: float = 0.5) -> Iterator[None]:
    """Call ``poll`` every ``poll_s`` seconds in a background thread while the block runs,
    and once more after it (the events of the run's last moments)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(poll_s):
            try:
                poll()
            except Exception:  # a read racing the run's writes: the next poll catches up
                continue

    worker = threading.Thread(target=loop, name="cleanlist-progress", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(timeout=5)
        with suppress(Exception):
            poll()


def follow_backfill(
    instance: dg.DagsterInstance, backfill_id: str, progress: Progress
) -> Callable[[], None]:
    """A poll that counts the backfill's ended runs into ``progress``."""

    def poll() -> None:
        records = instance.get_run_records(
            filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id})
        )
        progress.update(sum(1 for r in records if r.dagster_run.status in _ENDED))

    return poll


class _PageCounter(logging.Filter):
    """Counts answered page requests of one list in the API client's request log, and keeps
    the DEBUG lines it needed out of the handlers (they were not enabled before)."""

    def __init__(self, list_id: str, progress: Progress, level: int) -> None:
        super().__init__()
        self.needle = f"/{list_id}/leads"
        self.progress = progress
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        # "%s %s -> %d in %.0f ms …": method, path, status (see api/transport.py)
        if len(args) >= 3 and args[0] == "GET" and self.needle in str(args[1]) and args[2] == 200:
            self.progress.advance()
        return record.levelno >= self.level


@contextmanager
def count_page_requests(
    list_id: str, lead_count: int | None, page_size: int, progress: Progress
) -> Iterator[None]:
    """Count ``GET …/{list_id}/leads`` pages into ``progress`` while the block runs."""
    if lead_count is not None:
        progress.update(0, total=max(1, math.ceil(lead_count / page_size)))
    logger = logging.getLogger("cleanlist_pipeline.api")
    previous = logger.level
    counter = _PageCounter(list_id, progress, logger.getEffectiveLevel())
    # the client logs each answered request at DEBUG, and only when DEBUG is enabled
    logger.setLevel(logging.DEBUG)
    logger.addFilter(counter)
    try:
        yield
    finally:
        logger.removeFilter(counter)
        logger.setLevel(previous)


# --- what the CLI's flows wrap around their runs -------------------------------------------------


@contextmanager
def watching_import(
    instance: dg.DagsterInstance, run_id: str, key: str, names: Names
) -> Iterator[None]:
    """Show the chunks of import run ``run_id`` (drop ``key``) while the block executes it."""
    events = ImportEvents(instance, run_id, names.op("plan_drop"), names.op("import_chunk"))
    with (
        Progress(f"importing {key}", "chunks", stream=sys.stderr) as progress,
        follow(lambda: events.poll(progress)),
    ):
        yield


@contextmanager
def watching_snapshot(list_id: str, open_client: Callable[[], Any]) -> Iterator[None]:
    """Show the pages of list ``list_id``'s snapshot while the block writes it; the total comes
    from the list's ``lead_count`` (one request with a client from ``open_client``)."""
    from cleanlist_pipeline.api.errors import CleanlistError

    try:
        with open_client() as client:
            lead_count: int | None = client.get_list(list_id).lead_count
    except CleanlistError:  # the snapshot itself then says what is wrong
        lead_count = None
    with (
        Progress(f"snapshot of list {list_id}", "pages", stream=sys.stderr) as progress,
        count_page_requests(list_id, lead_count, LEADS_PAGE_SIZE_MAX, progress),
    ):
        yield


@contextmanager
def watching_backfill(instance: dg.DagsterInstance, backfill_id: str, drops: int) -> Iterator[None]:
    """Show the backfill's ended runs against its ``drops`` while the block waits for it."""
    with (
        Progress(f"backfill {backfill_id}", "drops", total=drops, stream=sys.stderr) as progress,
        follow(follow_backfill(instance, backfill_id, progress), poll_s=2.0),
    ):
        yield
