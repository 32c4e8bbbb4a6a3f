"""Entry point: ``plan_file`` reads a drop once and returns the :class:`ImportPlan` (manifest).

>>> plan = plan_file("drops/2025-01-acme-webinar.csv")  # doctest: +SKIP
>>> [c.rows for c in plan.chunks], plan.removed_duplicates[:1], plan.encoding.name  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from cleanlist_pipeline.ingest import parallel as _parallel
from cleanlist_pipeline.ingest.chunker import (
    API_MAX_ROWS,
    DEFAULT_MAX_BYTES,
    Packer,
    _read_ranges,
)
from cleanlist_pipeline.ingest.encoding import (
    UTF8_BOM,
    EncodingDecision,
    SourceFacts,
    detect,
    sha256_file,
    to_utf8,
)
from cleanlist_pipeline.ingest.errors import (
    EmptyFileError,
    HeaderError,
    MalformedCSVError,
    NotCSVError,
)
from cleanlist_pipeline.ingest.identity import FileIdentity, file_identity, open_regular
from cleanlist_pipeline.ingest.manifest import ImportPlan
from cleanlist_pipeline.ingest.mapping import resolve_mapping
from cleanlist_pipeline.ingest.parallel import RetrySerially, parallel_batches
from cleanlist_pipeline.ingest.preflight import Deduper, RejectedRecord
from cleanlist_pipeline.ingest.reader import (
    Batch,
    ScanContext,
    scan_batches,
)
from cleanlist_pipeline.ingest.records import (
    ERROR,
    IN_QUOTED,
    KIND_BLANK,
    KIND_DATA,
    KIND_REJECT,
    START_FIELD,
    Layout,
    csv_state,
    parse_fields,
)

__all__ = ["ImportPlan", "plan_file", "write_rejects"]


def _ranges(numbers: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and out[-1][1] + 1 == n:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


@dataclass
class _Header:
    u8: bytes
    fields: list[str]
    end: int  # source offset just after the header record
    lines: int  # physical lines it spans


#: The header row is read at most this far (1 MiB). Line 1 is read before any other check, so
#: without a cap a file with no line break (1 GB of one "line") would be read whole into memory.
#: A header that fits a chunk is far shorter (``max_bytes``, about 148 kB by default), so the cap
#: only chooses the message a hopeless file gets, never whether a workable file is accepted.
HEADER_MAX_BYTES = 1024 * 1024


def _header_too_long(path: Path, head: bytes, cap: int, max_bytes: int) -> NoReturn:
    """Refuse a file whose line 1 does not end within ``cap`` bytes, saying what it looks like."""
    if b"\r" in head:  # one huge "line" with CRs in it: classic Mac line endings
        raise NotCSVError(
            path,
            "the header row contains a bare carriage return: the file "
            "seems to use CR-only (classic Mac) line endings",
            "re-save it with LF or CRLF line endings",
        )
    columns = head.count(b",") + 1
    raise HeaderError(
        path,
        f"the header row (line 1) does not end within its first {cap} bytes, the header limit"
        + (
            f" (it has {columns} columns or more)"
            if columns > 1
            else (" (no line break at all)" if b"\n" not in head else "")
        ),
        "a CSV starts with one line of column names, and every chunk repeats it within "
        f"{max_bytes} bytes: if the file has no line breaks, export it again as a CSV with one "
        "record per line; if it has that many columns, drop the columns you do not import and "
        "drop the file again",
    )


def _read_header(path: Path, facts: SourceFacts, max_bytes: int) -> _Header:
    start = len(UTF8_BOM) if facts.encoding.had_bom else 0
    enc = facts.encoding.name
    parts: list[bytes] = []
    state = START_FIELD
    lines = 0
    with open_regular(path, facts.identity) as f:
        f.seek(start)
        cap = max(HEADER_MAX_BYTES, max_bytes)
        read = 0
        while raw := f.readline(cap + 1 - read):  # never more than the cap, newline or not
            read += len(raw)
            if read > cap:
                _header_too_long(path, b"".join(parts) + raw, cap, max_bytes)
            lines += 1
            parts.append(raw)
            st = csv_state(raw.decode(enc), state)
            if st == ERROR:
                raise NotCSVError(
                    path,
                    "the header row contains a bare carriage return: the file "
                    "seems to use CR-only (classic Mac) line endings",
                    "re-save it with LF or CRLF line endings",
                )
            state = IN_QUOTED if st == IN_QUOTED else START_FIELD
            if state != IN_QUOTED or read > max_bytes:
                break
    src = b"".join(parts)
    if state == IN_QUOTED and len(src) <= max_bytes:
        raise MalformedCSVError(
            path,
            "a quoted field in the header row (record 1, line 1) is never closed",
            "close the quote in the header and drop the file again",
            record=1,
            line=1,
        )
    u8 = to_utf8(src, facts.encoding)
    if len(u8) > max_bytes - 2:
        raise HeaderError(
            path,
            f"the header row alone is {len(u8)} bytes or more; every chunk "
            f"repeats it and must stay within {max_bytes} bytes",
            "drop the columns you do not import (keep the mapped ones) and drop the file again",
        )
    text = u8.decode("utf-8").rstrip("\r\n")
    fields = parse_fields(text) if text.strip() else []
    if not fields or all(not f.strip() for f in fields):
        raise HeaderError(
            path,
            "line 1 is blank: the first line must be the header row",
            "remove the leading blank lines and drop the file again",
        )
    if not src.endswith(b"\n"):
        raise EmptyFileError(
            path,
            "the file holds a header row and no data rows",
            "add data rows below the header, or don't drop the file",
        )
    return _Header(u8, fields, start + len(src), lines)


def _utf8_guess(path: Path, identity: FileIdentity) -> SourceFacts:
    """What the pre-pass says of a valid UTF-8 file (BOM read from the first bytes)."""
    with open_regular(path, identity) as f:
        had_bom = f.read(len(UTF8_BOM)) == UTF8_BOM
    reason = "valid UTF-8" + (" with BOM" if had_bom else "")
    return SourceFacts(
        EncodingDecision("utf-8", had_bom, False, reason), identity.size, identity=identity
    )


def _same_reading(a: SourceFacts, b: SourceFacts) -> bool:
    """Same bytes read the same way (the decisions' wording aside)."""

    def reading(f: SourceFacts) -> tuple[str, bool, bool, int]:
        return f.encoding.name, f.encoding.had_bom, f.encoding.transcoded, f.size

    return reading(a) == reading(b)


@dataclass
class _Acc:
    """What one scan pass accumulates."""

    packer: Packer
    dedupe: Deduper = field(default_factory=Deduper)
    rejects: list[RejectedRecord] = field(default_factory=list)
    removed: list[RejectedRecord] = field(default_factory=list)
    missing_required: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)
    hashes: list[np.ndarray] = field(default_factory=list)
    data_records: int = 0
    blank_records: int = 0
    fast_batches: int = 0
    exact_batches: int = 0


class _Abandoned(Exception):
    """The reading in progress was started on a guess the pre-pass has since contradicted."""


def _consume(
    batches: Iterator[Batch],
    acc: _Acc,
    seen: np.ndarray | None,
    abandon: Callable[[], bool] | None = None,
) -> None:
    for b in batches:
        if abandon is not None and abandon():
            raise _Abandoned
        if b.exact:
            acc.exact_batches += 1
        else:
            acc.fast_batches += 1
        data = b.kind != KIND_BLANK
        acc.data_records += int(np.count_nonzero(data))
        acc.blank_records += len(b) - int(np.count_nonzero(data))
        acc.hashes.append(b.content_h[data])
        for i in np.flatnonzero(b.kind == KIND_REJECT).tolist():
            code, detail = b.reasons[i]
            acc.rejects.append(
                RejectedRecord(
                    b.first_record + i,
                    int(b.line[i]),
                    code,
                    detail,
                    int(b.src_start[i]),
                    int(b.src_end[i]),
                )
            )
        removed = acc.dedupe.process(b)
        keep = b.kind == KIND_DATA
        for i, reason in sorted(removed.items()):
            keep[i] = False
            what = "e-mail" if reason == "duplicate_email" else "LinkedIn URL"
            acc.removed.append(
                RejectedRecord(
                    b.first_record + i,
                    int(b.line[i]),
                    reason,
                    f"same {what} as an earlier row (kept)",
                    int(b.src_start[i]),
                    int(b.src_end[i]),
                )
            )
        if seen is not None and len(seen):
            idx = np.flatnonzero(keep)
            h = b.content_h[idx]
            pos = np.minimum(np.searchsorted(seen, h), len(seen) - 1)
            hit = idx[seen[pos] == h]
            keep[hit] = False
            acc.already.extend((hit + b.first_record).tolist())
        acc.missing_required.extend(
            (np.flatnonzero(keep & ~b.has_required) + b.first_record).tolist()
        )
        acc.packer.add(b, np.flatnonzero(keep))


def plan_file(
    path: str | Path,
    column_mapping: Mapping[str, str] | None = None,
    encoding: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = API_MAX_ROWS,
    seen_record_hashes: np.ndarray | None = None,
    workers: int = 1,
    identity: FileIdentity | None = None,
) -> ImportPlan:
    """Read ``path`` once (after an encoding pre-pass) and plan its chunks.

    ``column_mapping`` is ``{canonical_field: header}``; None looks for ``<drop>.mapping.json``,
    then infers from the synonym table. ``seen_record_hashes`` (append mode): records whose
    content hash is in it were imported before and are left out. Raises an
    :class:`~cleanlist_pipeline.ingest.errors.IngestError` subclass for a file that cannot be
    imported as it is; a single bad row is a reject instead. ``workers``: scan processes for
    files over 96 MB; the plan is the same. One by default: each worker holds its own
    interpreter and numpy (about 120 MB), and on a busy machine the extra processes buy nothing
    (the Dagster layer passes ``Settings.ingest_workers``). ``identity``: the file the drop scan
    found (``ingest.identity``; default: the file at ``path`` now). Every read opens the file
    without following a symlink and refuses another file or a changed one
    (:class:`~cleanlist_pipeline.ingest.errors.DropChangedError`), so nothing is planned from a
    file swapped in after the scan.
    """
    path = Path(path)
    identity = identity or file_identity(path)
    parallel = workers > 1 and identity.size >= _parallel.PARALLEL_MIN_BYTES
    seen = None
    if seen_record_hashes is not None:
        seen = np.unique(np.asarray(seen_record_hashes, dtype=np.uint64))

    def scan_as(
        facts: SourceFacts, hasher: Executor, abandon: Callable[[], bool] | None = None
    ) -> tuple[_Header, Any, bytes, _Acc]:
        header = _read_header(path, facts, max_bytes)
        mapping = resolve_mapping(path, header.fields, column_mapping)
        newline = b"\r\n" if header.u8.endswith(b"\r\n") else b"\n"
        layout = Layout.from_index(
            len(header.fields), mapping.column_index, max_bytes - len(header.u8)
        )
        ctx = ScanContext(path, facts.encoding, layout, newline, identity)
        acc = _Acc(Packer(header.u8, newline, max_bytes, max_rows, hasher))
        scan = (header.end, header.lines + 1, facts.size)
        if parallel and facts.split_points:
            try:
                _consume(
                    parallel_batches(ctx, *scan[:2], list(facts.split_points), facts.size, workers),
                    acc,
                    seen,
                )
                return header, mapping, newline, acc
            except RetrySerially:
                acc = _Acc(Packer(header.u8, newline, max_bytes, max_rows, hasher))
        _consume(scan_batches(ctx, *scan), acc, seen, abandon)
        return header, mapping, newline, acc

    # hashlib releases the GIL: the file's sha256 and each chunk's digests are computed on these
    # threads while the scan goes on (on a second core they cost no wall time). The encoding
    # pre-pass runs there too: the scan starts at once as if the file were UTF-8 (it is tried
    # first whatever is configured) and is redone, or gives way to the pre-pass's error, only
    # when the pre-pass decides otherwise.
    with ThreadPoolExecutor(3, thread_name_prefix="cleanlist-plan") as pool:
        file_sha256 = pool.submit(sha256_file, path, identity)
        if parallel:  # segment boundaries come from the pre-pass
            facts = detect(path, encoding, _parallel.SEGMENT_BYTES, identity)
            header, mapping, newline, acc = scan_as(facts, pool)
        else:
            prepass = pool.submit(detect, path, encoding, None, identity)
            guess = _utf8_guess(path, identity)

            def contradicted() -> bool:  # checked per batch: a binary file stops the scan early
                if not prepass.done():
                    return False
                return prepass.exception() is not None or not _same_reading(prepass.result(), guess)

            try:
                result = scan_as(guess, pool, contradicted)
            except Exception:
                facts = prepass.result()  # the pre-pass's verdict (binary, undecodable…) first
                if _same_reading(facts, guess):
                    raise
                result = None
            facts = prepass.result()
            if result is None or not _same_reading(facts, guess):
                result = scan_as(facts, pool)
            header, mapping, newline, acc = result
        chunks = acc.packer.finish()
        source_sha256 = file_sha256.result()
    mode = ("exact" if not acc.fast_batches else "mixed") if acc.exact_batches else "fast"
    if acc.data_records == 0:
        raise EmptyFileError(
            path,
            "the file holds a header row and no data rows"
            + (f" (only {acc.blank_records} blank lines)" if acc.blank_records else ""),
            "add data rows below the header, or don't drop the file",
        )
    hashes = np.concatenate(acc.hashes) if acc.hashes else np.zeros(0, np.uint64)
    return ImportPlan(
        path=str(path),
        source_sha256=source_sha256,
        source_size=facts.size,
        encoding=facts.encoding,
        column_mapping=mapping.column_mapping,
        mapping_source=mapping.source,
        unmapped_columns=mapping.unmapped_columns,
        header_fields=header.fields,
        header_line=header.u8.decode("utf-8"),
        newline=newline.decode(),
        max_bytes=max_bytes,
        max_rows=max_rows,
        scan_mode=mode,
        data_records=acc.data_records,
        blank_records=acc.blank_records,
        chunks=chunks,
        rejects=acc.rejects,
        removed_duplicates=acc.removed,
        predicted_skips={"missing_required": acc.missing_required} if acc.missing_required else {},
        already_imported=_ranges(acc.already),
        record_hashes=hashes,
    )


def _csv_prefix(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(values)
    return buf.getvalue()


#: What a spreadsheet takes for the start of a formula (or, tab and CR, what it strips before
#: looking): OWASP's list for CSV injection.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard_formula(cell: str) -> str:
    """``cell`` prefixed with ``'`` when a spreadsheet would read it as a formula.

    >>> guard_formula("=SUM(A1:A9)"), guard_formula("-1"), guard_formula("ann@example.com")
    ("'=SUM(A1:A9)", "'-1", 'ann@example.com')
    """
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _guarded_record(raw: bytes, newline: str) -> bytes:
    """One record with its cells formula-guarded, written back as CSV. A record that does not
    parse (``malformed_row``) becomes one quoted cell, so no part of it can start a cell that a
    spreadsheet would evaluate."""
    text = raw.decode("utf-8")
    body = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    try:
        cells = parse_fields(body)
    except ValueError:
        cells = [body]
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerow([guard_formula(c) for c in cells])
    return buf.getvalue().encode("utf-8")


def write_rejects(
    plan: ImportPlan,
    out_path: str | Path,
    source_path: str | Path | None = None,
    *,
    formula_guard: bool = False,
) -> int:
    """Write every removed or rejected record, with its reason, to a CSV a user can fix and re-drop.

    Columns: ``reject_reason, reject_detail, source_record, source_line`` followed by the original
    columns; each row carries the record's bytes unchanged (UTF-8). A ``ragged_row`` has more
    fields than the header: the header gets ``extra_field_1``… columns for the most surplus, so
    ``pandas.read_csv`` and ``csv.DictReader`` read the file like any other. Returns the number
    of rows.

    ``formula_guard`` (``Settings.rejects_formula_guard``, off by default): every cell starting
    with ``= + - @``, a tab or a CR gets a leading ``'``, so a spreadsheet opening the file shows
    ``=HYPERLINK(…)`` as text instead of evaluating it; the records are then re-written as CSV
    (no longer byte-identical to the drop). Off, the rows are the drop's own bytes, ready to be
    fixed and dropped again.

    The file is written through a ``mkstemp`` descriptor beside ``out_path`` — ``0o600`` from
    its creation (the rows hold personal data), never through a name someone else could have
    planted — and renamed over ``out_path`` once complete; on any failure it is removed.
    """
    source = Path(source_path) if source_path is not None else Path(plan.path)
    items = plan.removed_and_rejected()

    def raw(r: RejectedRecord) -> bytes:
        return b"".join(_read_ranges(source, plan, [(r.start, r.end)]))

    widest = len(plan.header_fields)
    for r in items:
        if r.reason == "ragged_row":
            with contextlib.suppress(ValueError):  # unparseable: nothing to widen for
                widest = max(widest, len(parse_fields(raw(r).decode("utf-8").rstrip("\r\n"))))
    header = plan.header_bytes
    extra = [f"extra_field_{i}" for i in range(1, widest - len(plan.header_fields) + 1)]
    if formula_guard:
        header = _guarded_record(header, plan.newline)
    if extra:
        body = header.rstrip(b"\r\n")
        header = body + b"," + ",".join(extra).encode() + header[len(body) :]
    reason_columns = ["reject_reason", "reject_detail", "source_record", "source_line"]
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_csv_prefix(reason_columns).encode() + b"," + header)
            for r in items:  # streamed: a drop may have many removed duplicates
                prefix = [r.reason, r.detail, str(r.record), str(r.line)]
                if formula_guard:
                    prefix = [guard_formula(c) for c in prefix]
                    row = _guarded_record(raw(r), plan.newline)
                else:
                    row = raw(r)
                f.write(_csv_prefix(prefix).encode() + b"," + row)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return len(items)
