"""Scanning a large drop in segments on worker processes, merged back in file order.

The pre-pass finds record boundaries about every :data:`SEGMENT_BYTES` (a newline with an even
number of quotes before it). Workers scan segments with the fast path and return batches with
record numbers and lines counted from their segment's start; the parent renumbers them, re-reads
the bytes for hashing (cheaper than shipping them through a pipe), and runs dedupe and packing in
order, so results are identical to a serial scan. Workers are *spawned* (never forked: the caller
may run threads, e.g. a Dagster process), and all hashes are stable across processes (XXH3).

Quirky quoting is handled inside a segment (buffer by buffer, like the serial scan). A boundary
that quirky quoting made wrong shows up as an unclosed quote at a segment's end; that, and any
other error, makes the parent redo the whole file serially, where errors carry file-wide record
numbers.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from cleanlist_pipeline.ingest.errors import IngestError
from cleanlist_pipeline.ingest.identity import open_regular
from cleanlist_pipeline.ingest.reader import Batch, ScanContext, scan_batches

SEGMENT_BYTES = 32 * 1024 * 1024
#: Files smaller than this are scanned in-process: spawning workers costs more than it saves.
PARALLEL_MIN_BYTES = 3 * SEGMENT_BYTES


class RetrySerially(Exception):
    """A worker met something the parallel path does not settle; scan the file serially."""


def _scan_segment(ctx: ScanContext, start: int, end: int) -> list[Batch]:
    batches = list(scan_batches(ctx, start, 0, end, first_record=0))
    if not ctx.encoding.transcoded:
        for b in batches:
            b.out = b""  # the parent re-reads the bytes from the file
    return batches


def parallel_batches(
    ctx: ScanContext, start: int, first_line: int, points: list[int], size: int, workers: int
) -> Iterator[Batch]:
    """Batches of ``[start, size)`` in file order, scanned by ``workers`` processes."""
    bounds = [start, *[p for p in points if p > start], size]
    segments = list(itertools.pairwise(bounds))
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    pending: deque[Future[list[Batch]]] = deque()
    todo = iter(segments)
    try:
        for s, e in todo:
            pending.append(pool.submit(_scan_segment, ctx, s, e))
            if len(pending) >= 2 * workers:
                break
        record, line = 2, first_line
        with open_regular(ctx.path, ctx.identity) as f:
            while pending:
                try:
                    batches = pending.popleft().result()
                except IngestError as exc:
                    raise RetrySerially(str(exc)) from exc
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append(pool.submit(_scan_segment, ctx, *nxt))
                for b in batches:
                    b.first_record = record
                    b.line += line
                    if not ctx.encoding.transcoded:
                        f.seek(int(b.src_start[0]))
                        b.out = f.read(int(b.src_end[-1] - b.src_start[0]))
                    record += len(b)
                    line += b.lines
                    yield b
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
