"""Packing records into API-sized chunks, reading a chunk back, and halving one after a 413.

A chunk is the header line plus whole records, byte-identical to the (UTF-8) source, each ending
in a newline. It is packed greedily in file order up to ``max_bytes`` (header included) and
``max_rows``; greedy is optimal for contiguous chunks, so the count stays within one chunk per
"largest record" of slack of the lower bound. Steps get a :class:`ChunkSpec` (ranges + sha256,
in ``manifest.py``), never the bytes: :func:`read_chunk` re-reads them and refuses a file that
changed.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import deque
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from xxhash import xxh3_128

from cleanlist_pipeline.contract import CSV_IMPORT_MAX_BYTES, CSV_IMPORT_MAX_ROWS
from cleanlist_pipeline.ingest.encoding import to_utf8
from cleanlist_pipeline.ingest.errors import DropChangedError, IngestError
from cleanlist_pipeline.ingest.manifest import ChunkSpec, ImportPlan
from cleanlist_pipeline.ingest.reader import Batch
from cleanlist_pipeline.ingest.records import IN_QUOTED, START_FIELD, csv_state
from cleanlist_pipeline.ingest.source import open_source

__all__ = [
    "API_MAX_BYTES",
    "API_MAX_ROWS",
    "DEFAULT_MARGIN",
    "DEFAULT_MAX_BYTES",
    "ChunkSpec",
    "Packer",
    "read_chunk",
    "record_spans",
    "split_bytes",
    "split_chunk",
    "split_spec",
]

API_MAX_BYTES = CSV_IMPORT_MAX_BYTES
API_MAX_ROWS = CSV_IMPORT_MAX_ROWS
#: Chunks are packed to the API's cap minus this (run config ``size_margin_bytes``).
DEFAULT_MARGIN = 2_000
DEFAULT_MAX_BYTES = API_MAX_BYTES - DEFAULT_MARGIN


def _runs(values: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge touching half-open ranges."""
    out: list[tuple[int, int]] = []
    for s, e in values:
        if out and out[-1][1] == s:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


@dataclass
class _Open:
    rows: int = 0
    size: int = 0
    pieces: list[bytes | memoryview] = field(default_factory=list)
    byte_ranges: list[tuple[int, int]] = field(default_factory=list)
    record_ranges: list[tuple[int, int]] = field(default_factory=list)


def _digests(pieces: list[bytes | memoryview]) -> tuple[str, str]:
    """(sha256, XXH3-128) of the concatenated pieces."""
    # one join (a memcpy) then one call each: a hashing thread takes the GIL twice, not per piece
    data = b"".join(pieces)
    return hashlib.sha256(data).hexdigest(), xxh3_128(data).hexdigest()


#: Chunks whose digests may be pending on the hashing thread (about 150 KB each).
_MAX_PENDING = 64


class Packer:
    """Greedy packing of included records into chunks.

    With an ``executor``, each closed chunk's sha256 and XXH3-128 are computed there (hashlib
    releases the GIL, so on a second core this is free) while scanning goes on; the pieces are
    views into the batches' buffers, so at most :data:`_MAX_PENDING` chunks wait.
    """

    def __init__(
        self,
        header: bytes,
        newline: bytes,
        max_bytes: int,
        max_rows: int,
        executor: Executor | None = None,
    ) -> None:
        self.header = header
        self.newline = newline
        self.max_bytes = max_bytes
        self.max_rows = max_rows
        self.executor = executor
        self._closed: list[tuple[_Open, Future[tuple[str, str]] | tuple[str, str]]] = []
        self._pending: deque[Future[tuple[str, str]]] = deque()
        self._cur = self._new()

    def _new(self) -> _Open:
        return _Open(size=len(self.header), pieces=[self.header])

    def _close(self) -> None:
        c = self._cur
        if c.rows:
            if self.executor is None:
                self._closed.append((c, _digests(c.pieces)))
            else:
                while self._pending and self._pending[0].done():
                    self._pending.popleft()
                if len(self._pending) >= _MAX_PENDING:
                    self._pending.popleft().result()
                job = self.executor.submit(_digests, c.pieces)
                self._pending.append(job)
                self._closed.append((c, job))
            c.pieces = []  # the hashing job holds them; buffers are freed once it has run
        self._cur = self._new()

    def add(self, b: Batch, included: np.ndarray) -> None:
        """Append the batch's records at positions ``included`` (ascending) to the chunks."""
        if len(included) == 0:
            return
        sizes = (b.out_end - b.out_start)[included]
        if b.unterminated_last and included[-1] == len(b) - 1:
            sizes = sizes.copy()
            sizes[-1] += len(self.newline)
        csum = np.concatenate(([0], np.cumsum(sizes)))
        # where ``included`` skips records (removed rows): contiguous runs end there
        gaps = (np.flatnonzero(np.diff(included) != 1) + 1).tolist()
        j, n = 0, len(included)
        while j < n:
            c = self._cur
            room = self.max_bytes - c.size
            k = int(np.searchsorted(csum, csum[j] + room, side="right")) - 1 - j
            k = min(k, self.max_rows - c.rows, n - j)
            if k <= 0:
                if c.rows == 0:  # cannot happen: oversized rows were rejected upstream
                    raise AssertionError("a record larger than a whole chunk reached the packer")
                self._close()
                continue
            lo, hi = bisect.bisect_right(gaps, j), bisect.bisect_left(gaps, j + k)
            starts = [j, *gaps[lo:hi]]
            ends = [*gaps[lo:hi], j + k]
            self._take(b, included, starts, ends, int(csum[j + k] - csum[j]))
            j += k
            if self._cur.rows >= self.max_rows:
                self._close()

    def _take(
        self, b: Batch, included: np.ndarray, starts: list[int], ends: list[int], size: int
    ) -> None:
        """Append the runs ``included[starts[i]:ends[i]]`` (each contiguous in the batch)."""
        c = self._cur
        mv = memoryview(b.out)
        for a, z in zip(starts, ends, strict=True):
            first, last = int(included[a]), int(included[z - 1])
            c.pieces.append(mv[int(b.out_start[first]) : int(b.out_end[last])])
            if b.unterminated_last and last == len(b) - 1:
                c.pieces.append(self.newline)
            c.byte_ranges.append((int(b.src_start[first]), int(b.src_end[last])))
            rec = (b.first_record + first, b.first_record + last)
            if c.record_ranges and c.record_ranges[-1][1] + 1 == rec[0]:
                c.record_ranges[-1] = (c.record_ranges[-1][0], rec[1])
            else:
                c.record_ranges.append(rec)
        c.rows += ends[-1] - starts[0]
        c.size += size

    def finish(self) -> list[ChunkSpec]:
        self._close()
        chunks = []
        for i, (c, digests) in enumerate(self._closed):
            sha, xxh = digests.result() if isinstance(digests, Future) else digests
            chunks.append(
                ChunkSpec(i, _runs(c.byte_ranges), c.record_ranges, c.rows, c.size, sha, digest=xxh)
            )
        self._closed = []
        return chunks


def _read_ranges(
    path: str | Path, plan: ImportPlan, ranges: list[tuple[int, int]]
) -> list[bytes | memoryview]:
    """The UTF-8 bytes of each source range (views where no transcoding is needed), each ending
    in a newline (a missing final one is added in the file's style)."""
    newline = plan.newline.encode()
    parts: list[bytes | memoryview] = []
    if not ranges:
        return parts
    first, last = ranges[0][0], ranges[-1][1]
    needed = sum(e - s for s, e in ranges)
    with open_source(path) as f:
        # Ranges of one chunk are close together (gaps are removed rows): one read is cheaper
        # than a seek and a read per range.
        span = b""
        if last - first <= 2 * needed + 65_536:
            f.seek(first)
            span = f.read(last - first)
        view = memoryview(span)
        for s, e in ranges:
            if span:
                raw: bytes | memoryview = view[s - first : e - first]
            else:
                f.seek(s)
                raw = f.read(e - s)
            if len(raw) != e - s:
                raise DropChangedError(
                    path,
                    "the file is shorter than when it was planned",
                    "re-plan the drop (it was modified or replaced)",
                )
            if plan.encoding.transcoded:
                try:
                    raw = to_utf8(bytes(raw), plan.encoding)
                except UnicodeDecodeError:
                    raise DropChangedError(
                        path,
                        "the file's bytes changed since it was planned",
                        "re-plan the drop (it was modified or replaced)",
                    ) from None
            parts.append(raw)
            if raw[-1:] != b"\n":
                parts.append(newline)
    return parts


def read_chunk(path: str | Path, plan: ImportPlan, chunk: ChunkSpec) -> bytes:
    """The UTF-8 bytes of ``chunk``: header + its records, verified against the manifest.

    ``path`` is the drop's local path or its object URI (``s3://…``, see ``ingest.source``):
    a chunk on an object store costs one ranged GET.

    Raises :class:`DropChangedError` when the bytes differ from the manifest (digest, else sha256):
    the drop was edited after planning.
    """
    data = b"".join([plan.header_bytes, *_read_ranges(path, plan, chunk.byte_ranges)])
    if chunk.digest:
        same = xxh3_128(data).hexdigest() == chunk.digest
    else:
        same = hashlib.sha256(data).hexdigest() == chunk.sha256
    if not same or len(data) != chunk.size:
        raise DropChangedError(
            path,
            f"chunk {chunk.label} no longer matches the planned bytes (size and digest)",
            "the drop was modified after it was planned; re-plan it (never "
            "edit a drop in place: write a new file)",
        )
    return data


def record_spans(data: bytes, encoding: str = "utf-8") -> list[tuple[int, int]]:
    """[start, end) of each CSV record in ``data`` (whole records), with ``csv`` semantics."""
    spans: list[tuple[int, int]] = []
    start = pos = 0
    in_quotes = False
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        end = n if nl < 0 else nl + 1
        st = csv_state(data[pos:end].decode(encoding), IN_QUOTED if in_quotes else START_FIELD)
        pos = end
        in_quotes = st == IN_QUOTED
        if not in_quotes:
            spans.append((start, pos))
            start = pos
    if start < n:
        spans.append((start, n))
    return spans


def split_bytes(chunk: bytes) -> tuple[bytes, bytes]:
    """Split one chunk's bytes (header + records) into two halves, each with the header."""
    spans = record_spans(chunk)
    if len(spans) < 3:
        raise IngestError(
            "<chunk>",
            "a chunk with one row cannot be split",
            "the row alone is over the server's limit; reject or shorten it",
        )
    header = chunk[: spans[0][1]]
    body = spans[1:]
    mid = len(body) // 2
    first = header + chunk[body[0][0] : body[mid - 1][1]]
    second = header + chunk[body[mid][0] : body[-1][1]]
    return first, second


def split_spec(chunk: ChunkSpec, path: str | Path, plan: ImportPlan) -> tuple[ChunkSpec, ChunkSpec]:
    """Split a chunk into two specs with their own ranges, record numbers and sha256."""
    if chunk.rows < 2:
        raise IngestError(
            path,
            f"chunk {chunk.label} has one row and cannot be split",
            "the row alone is over the server's limit; shorten it",
        )
    read_chunk(path, plan, chunk)  # verifies the file is still the planned one
    spans: list[tuple[int, int]] = []
    with open_source(path) as f:
        for s, e in chunk.byte_ranges:
            f.seek(s)
            raw = f.read(e - s)
            spans.extend((s + a, s + b) for a, b in record_spans(raw, plan.encoding.name))
    numbers = chunk.record_numbers
    if len(spans) != len(numbers):
        raise DropChangedError(
            path,
            f"chunk {chunk.label} no longer holds {len(numbers)} records",
            "re-plan the drop (it was modified or replaced)",
        )
    mid = len(spans) // 2
    halves = []
    for part, sl in (("a", slice(0, mid)), ("b", slice(mid, None))):
        ranges = _runs(spans[sl])
        recs = numbers[sl]
        rec_ranges: list[tuple[int, int]] = []
        for r in recs:
            if rec_ranges and rec_ranges[-1][1] + 1 == r:
                rec_ranges[-1] = (rec_ranges[-1][0], r)
            else:
                rec_ranges.append((r, r))
        data = plan.header_bytes + b"".join(_read_ranges(path, plan, ranges))
        halves.append(
            replace(
                chunk,
                byte_ranges=ranges,
                record_ranges=rec_ranges,
                rows=len(recs),
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                digest=xxh3_128(data).hexdigest(),
                part=chunk.part + part,
            )
        )
    return halves[0], halves[1]


def split_chunk(
    chunk: bytes | ChunkSpec, path: str | Path | None = None, plan: ImportPlan | None = None
) -> tuple[Any, Any]:
    """Halve a chunk after a 413: bytes → two byte strings; a spec (with path, plan) → two specs.

    >>> split_chunk(b"email\\na@x\\nb@x\\n")
    (b'email\\na@x\\n', b'email\\nb@x\\n')
    """
    if isinstance(chunk, ChunkSpec):
        if path is None or plan is None:
            raise TypeError("split_chunk(spec, path, plan): a spec needs the drop and its plan")
        return split_spec(chunk, path, plan)
    return split_bytes(chunk)
