"""Streaming record scanner: CSV records with byte offsets, in batches, in bounded memory.

The fast path works on large buffers with numpy instead of calling ``csv`` per record:

* record ends are newlines preceded by an even number of quotes, delimiters are commas likewise;
* this equals ``csv.reader`` exactly when every quote opens a field, closes one, or is doubled
  inside one. Each buffer is checked for that (two vectorised comparisons); a file that breaks
  it, or holds a bare CR outside quotes, is re-read by the exact scanner (``csv`` semantics,
  line by line), so quirks cost speed, never correctness;
* only the columns the pre-flight needs (e-mail, LinkedIn, and name/company when both are empty)
  are cut out; records whose key fields are quoted, non-ASCII or space-padded are read field by
  field with ``csv`` (``records.classify``).

A batch keeps two views of the same lines: source bytes (offsets for the manifest) and UTF-8 bytes
(what a chunk sends; fields and hashes are read there). Lines correspond one to one, so offsets
translate by line index. A record's content, for hashing and fields, excludes its terminator
(``\n`` or ``\r\n``) and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cleanlist_pipeline.ingest.encoding import EncodingDecision
from cleanlist_pipeline.ingest.errors import MalformedCSVError
from cleanlist_pipeline.ingest.records import (
    CSV_FIELD_LIMIT,
    ERROR,
    IN_QUOTED,
    KIND_DATA,
    KIND_REJECT,
    START_FIELD,
    Layout,
    classify,
    csv_state,
    hash64,
    key_hash,
)

BLOCK_SIZE = 4 * 1024 * 1024
#: A record still open after this many bytes is treated as an unterminated quote.
MAX_PENDING = 64 * 1024 * 1024

_NL, _CR, _QUOTE, _COMMA = 10, 13, 34, 44


class NeedsExactScan(Exception):
    """Raised by the fast path when a buffer has quoting only ``csv`` semantics can settle."""


@dataclass
class Batch:
    """Consecutive records (blank lines included) with everything the planner needs."""

    first_record: int
    src_start: np.ndarray  # int64 source offsets
    src_end: np.ndarray
    line: np.ndarray  # int64 physical line of each record's first byte
    out: bytes  # UTF-8 bytes of these records, as chunks carry them
    out_start: np.ndarray  # int64 offsets into ``out``
    out_end: np.ndarray
    kind: np.ndarray  # int8: KIND_DATA / KIND_BLANK / KIND_REJECT
    email_h: np.ndarray  # uint64, 0 = no e-mail
    link_h: np.ndarray  # uint64, 0 = no LinkedIn URL
    has_required: np.ndarray  # bool
    content_h: np.ndarray  # uint64
    reasons: dict[int, tuple[str, str]] = field(default_factory=dict)
    unterminated_last: bool = False  # the file's last record has no line terminator

    def __len__(self) -> int:
        return len(self.src_start)

    @property
    def out_size(self) -> np.ndarray:
        return self.out_end - self.out_start


@dataclass
class ScanContext:
    """Fixed facts for one scan: file, encoding, layout, newline used for a missing terminator."""

    path: Path
    encoding: EncodingDecision
    layout: Layout
    newline: bytes


def _starts_from_ends(nl: np.ndarray, start_lines: np.ndarray) -> np.ndarray:
    """Byte offset where each line starts, given the newline positions."""
    out = np.zeros(len(start_lines), dtype=np.int64)
    m = start_lines > 0
    out[m] = nl[start_lines[m] - 1] + 1
    return out


def _field_bounds(c: np.ndarray, c_lo: np.ndarray, n_commas: np.ndarray, ws: np.ndarray,
                  we: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) of field ``k`` of each record from its delimiter positions (empty if absent)."""
    if len(c) == 0:
        return (ws.copy(), we.copy()) if k == 0 else (we.copy(), we.copy())
    top = len(c) - 1
    present = n_commas >= k
    start = ws if k == 0 else np.where(present, c[np.minimum(c_lo + k - 1, top)] + 1, we)
    end = np.where(n_commas > k, c[np.minimum(c_lo + k, top)], we)
    return start.astype(np.int64), np.where(present, end, we).astype(np.int64)


def _slices(buf: bytes, starts: np.ndarray, ends: np.ndarray) -> list[bytes]:
    return list(map(buf.__getitem__, map(slice, starts.tolist(), ends.tolist())))


class _Fast:
    """Vectorised reading of one buffer that starts at a record boundary."""

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx

    def scan(self, src: bytes, base: int, first_record: int, first_line: int,
             final: bool) -> tuple[Batch | None, int]:
        """Read the complete records of ``src``; returns the batch and source bytes consumed."""
        ctx = self.ctx
        lay = ctx.layout
        u8 = src.decode(ctx.encoding.name).encode("utf-8") if ctx.encoding.transcoded else src
        wb = u8
        w = np.frombuffer(wb, dtype=np.uint8)
        nl_w = np.flatnonzero(w == _NL)
        q = np.flatnonzero(w == _QUOTE)
        has_cr = b"\r" in wb
        if len(q):
            self._check_quoting(w, q)
            ends_mask = (np.searchsorted(q, nl_w) & 1) == 0
            end_lines = np.flatnonzero(ends_mask)
            open_at_end = (len(q) & 1) == 1
        else:
            end_lines = np.arange(len(nl_w))
            open_at_end = False
        if has_cr:
            cr = np.flatnonzero(w == _CR)
            nxt = w[np.minimum(cr + 1, len(w) - 1)]
            bare = cr[(nxt != _NL) | (cr + 1 >= len(w))]
            if len(bare) and (len(q) == 0 or np.any((np.searchsorted(q, bare) & 1) == 0)):
                raise NeedsExactScan("bare CR outside quotes")
        nl_s = nl_w if src is wb else np.flatnonzero(np.frombuffer(src, np.uint8) == _NL)
        nl_u = nl_w
        n_full = len(end_lines)
        last_line_end = int(nl_w[end_lines[-1]]) + 1 if n_full else 0
        tail = final and last_line_end < len(wb)
        if final and open_at_end:
            start_line = int(end_lines[-1]) + 1 if n_full else 0
            raise MalformedCSVError(
                ctx.path, f"a quoted field opened in record {first_record + n_full} (line "
                f"{first_line + start_line}) is never closed", "close the quote (a field that "
                "contains quotes must double them: \"\" ) and drop the file again",
                record=first_record + n_full, line=first_line + start_line)
        n = n_full + (1 if tail else 0)
        if n == 0:
            return None, 0
        start_lines = np.empty(n, dtype=np.int64)
        start_lines[0] = 0
        if n > 1:
            start_lines[1:n_full + (1 if tail else 0)] = end_lines[:n - 1] + 1
        ws = _starts_from_ends(nl_w, start_lines)
        we = np.empty(n, dtype=np.int64)
        we[:n_full] = nl_w[end_lines]
        if has_cr and n_full:
            we[:n_full] -= w[np.maximum(we[:n_full] - 1, 0)] == _CR
        s_start = _starts_from_ends(nl_s, start_lines)
        s_end = np.empty(n, dtype=np.int64)
        s_end[:n_full] = nl_s[end_lines] + 1
        o_start = _starts_from_ends(nl_u, start_lines)
        o_end = np.empty(n, dtype=np.int64)
        o_end[:n_full] = nl_u[end_lines] + 1
        if tail:
            we[-1] = len(wb) - (1 if wb.endswith(b"\r") else 0)
            s_end[-1] = len(src)
            o_end[-1] = len(u8)
        consumed = int(s_end[-1])
        # out_size counts the newline a chunk adds to an unterminated last record
        out_end_sized = o_end.copy()
        if tail:
            out_end_sized[-1] += len(ctx.newline)
        kind = np.zeros(n, dtype=np.int8)
        email_h = np.zeros(n, dtype=np.uint64)
        link_h = np.zeros(n, dtype=np.uint64)
        has_req = np.zeros(n, dtype=bool)
        reasons: dict[int, tuple[str, str]] = {}

        length = we - ws
        if len(q):
            c = np.flatnonzero(w == _COMMA)
            c = c[(np.searchsorted(q, c) & 1) == 0]
        else:
            c = np.flatnonzero(w == _COMMA)
        c_lo = np.searchsorted(c, ws)
        n_commas = np.searchsorted(c, we) - c_lo
        slow = (n_commas == 0) | (length > CSV_FIELD_LIMIT)
        ragged = (n_commas + 1 > lay.n_fields) & ~slow
        for i in np.flatnonzero(ragged).tolist():
            reasons[i] = ("ragged_row", f"{int(n_commas[i]) + 1} fields; the header has "
                          f"{lay.n_fields}")
        kind[ragged] = KIND_REJECT
        too_big = (out_end_sized - o_start) > lay.max_record_bytes
        for i in np.flatnonzero(too_big & ~ragged).tolist():
            reasons[i] = ("row_too_large", f"{int(out_end_sized[i] - o_start[i])} bytes; a chunk "
                          f"allows {lay.max_record_bytes} bytes per row next to the header")
        kind[too_big] = KIND_REJECT
        slow &= ~too_big
        slow &= ~ragged
        live = kind == KIND_DATA

        hi = np.flatnonzero(w >= 128)

        def bounds(col: int | None) -> tuple[np.ndarray, np.ndarray] | None:
            if col is None:
                return None
            return _field_bounds(c, c_lo, n_commas, ws, we, col)

        def plain_key(b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            """(non-empty, needs-slow) for a key field: quoted/padded/non-ASCII keys go slow."""
            s, e = b
            ln = e - s
            nonempty = ln > 0
            sl = np.minimum(s, len(w) - 1) if len(w) else s
            el = np.maximum(e - 1, 0)
            first = w[sl] if len(w) else np.zeros(len(s), np.uint8)
            last = w[el] if len(w) else np.zeros(len(s), np.uint8)
            bad_edge = (first <= 32) | (first >= 127) | (first == _QUOTE) | (last <= 32) | (
                last >= 127)
            non_ascii = (np.searchsorted(hi, e) - np.searchsorted(hi, s)) > 0 if len(hi) else \
                np.zeros(len(s), bool)
            return nonempty, nonempty & (bad_edge | non_ascii)

        def presence(b: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
            """(surely non-empty, undecided) after trimming, from the first byte alone."""
            if b is None:
                z = np.zeros(n, bool)
                return z, z
            s, e = b
            ln = e - s
            first = w[np.minimum(s, len(w) - 1)] if len(w) else np.zeros(n, np.uint8)
            sure = (ln > 0) & (first > 32) & (first < 127) & (first != _QUOTE)
            return sure, (ln > 0) & ~sure

        eb = bounds(lay.email)
        lb = bounds(lay.linkedin)
        if eb is not None:
            e_has, e_slow = plain_key(eb)
        else:
            e_has = e_slow = np.zeros(n, bool)
        if lb is not None:
            l_has, l_slow = plain_key(lb)
        else:
            l_has = l_slow = np.zeros(n, bool)
        slow |= live & (e_slow | l_slow)
        neither = ~e_has & ~l_has
        fn, fn_u = presence(bounds(lay.full_name))
        f1, f1_u = presence(bounds(lay.first_name))
        l1, l1_u = presence(bounds(lay.last_name))
        cn, cn_u = presence(bounds(lay.company_name))
        cd, cd_u = presence(bounds(lay.company_domain))
        slow |= live & neither & (fn_u | f1_u | l1_u | cn_u | cd_u)
        has_req[:] = e_has | l_has | ((fn | (f1 & l1)) & (cn | cd))

        fast = live & ~slow
        if eb is not None:
            sel = np.flatnonzero(fast & e_has)
            if len(sel):
                keys = b"\n".join(_slices(wb, eb[0][sel], eb[1][sel])).lower().split(b"\n")
                email_h[sel] = key_hash(keys)
        if lb is not None:
            sel = np.flatnonzero(fast & l_has)
            if len(sel):
                joined = b"\n" + b"\n".join(_slices(wb, lb[0][sel], lb[1][sel])).lower() + b"\n"
                joined = joined.replace(b"\nhttps://", b"\n\x00").replace(b"\nhttp://", b"\n\x00")
                joined = joined.replace(b"\n\x00", b"\n").replace(b"\nwww.", b"\n")
                while b"/\n" in joined:
                    joined = joined.replace(b"/\n", b"\n")
                link_h[sel] = key_hash(joined[1:-1].split(b"\n"))

        if n_full == n and n_full == len(nl_w) and not has_cr:
            contents = wb[:last_line_end - 1].split(b"\n")
        elif (n_full == n and n_full == len(nl_w)
              and wb.count(b"\r\n", 0, last_line_end) == n_full):
            contents = wb[:last_line_end - 2].split(b"\r\n")
        else:
            contents = _slices(wb, ws, we)
        content_h = hash64(contents)

        for i in np.flatnonzero(slow).tolist():
            r = classify(contents[i].decode("utf-8"), lay)
            kind[i] = r.kind
            has_req[i] = r.has_required
            if r.reason is not None:
                reasons[i] = r.reason
            email_h[i] = key_hash([r.email])[0] if r.email is not None else 0
            link_h[i] = key_hash([r.linkedin])[0] if r.linkedin is not None else 0
        has_req[kind != KIND_DATA] = False

        batch = Batch(first_record=first_record, src_start=s_start + base, src_end=s_end + base,
                      line=start_lines + first_line, out=u8, out_start=o_start,
                      out_end=o_end, kind=kind, email_h=email_h, link_h=link_h,
                      has_required=has_req, content_h=content_h, reasons=reasons,
                      unterminated_last=tail)
        # line numbers: lines are counted on the work copy, which has as many '\n' as the source
        return batch, consumed

    @staticmethod
    def _check_quoting(w: np.ndarray, q: np.ndarray) -> None:
        """Quotes must open a field, close one, or be doubled inside one (RFC 4180)."""
        idx = np.arange(len(q))
        opening = (idx & 1) == 0
        prev = np.where(q > 0, w[np.maximum(q - 1, 0)], _NL)
        ok_open = (prev == _COMMA) | (prev == _NL) | (prev == _QUOTE)
        top = len(w) - 1
        nxt = np.where(q + 1 < len(w), w[np.minimum(q + 1, top)], _NL)
        nxt2 = np.where(q + 2 < len(w), w[np.minimum(q + 2, top)], _NL)
        ok_close = (nxt == _QUOTE) | (nxt == _COMMA) | (nxt == _NL) | (
            (nxt == _CR) & (nxt2 == _NL))
        if not np.all(np.where(opening, ok_open, ok_close)):
            raise NeedsExactScan("quote inside an unquoted field")


def _exact_batches(ctx: ScanContext, start: int, first_record: int, first_line: int,
                   batch_records: int = 20_000) -> Iterator[Batch]:
    """``csv``-exact scanning, line by line: for files the fast path declines."""
    enc = ctx.encoding.name
    lay = ctx.layout
    pending: list[tuple[int, int, int, bytes, bytes, int]] = []  # start, end, line, u8, work, kind
    record = first_record
    line = first_line

    def flush() -> Batch:
        n = len(pending)
        u8_parts = [p[3] for p in pending]
        out = b"".join(u8_parts)
        lens = np.fromiter(map(len, u8_parts), dtype=np.int64, count=n)
        o_end = np.cumsum(lens)
        o_start = o_end - lens
        kind = np.zeros(n, dtype=np.int8)
        email_h = np.zeros(n, dtype=np.uint64)
        link_h = np.zeros(n, dtype=np.uint64)
        has_req = np.zeros(n, dtype=bool)
        reasons: dict[int, tuple[str, str]] = {}
        contents = [p[4] for p in pending]
        unterminated = bool(n) and not out.endswith(b"\n")
        for i, p in enumerate(pending):
            size = int(lens[i]) + (len(ctx.newline) if unterminated and i == n - 1 else 0)
            if p[5] == KIND_REJECT:
                kind[i] = KIND_REJECT
                reasons[i] = ("malformed_row", "a line break (bare CR) inside an unquoted field")
                continue
            if size > lay.max_record_bytes:
                kind[i] = KIND_REJECT
                reasons[i] = ("row_too_large", f"{size} bytes; a chunk allows "
                              f"{lay.max_record_bytes} bytes per row next to the header")
                continue
            r = classify(contents[i].decode("utf-8"), lay)
            kind[i] = r.kind
            has_req[i] = r.has_required and r.kind == KIND_DATA
            if r.reason is not None:
                reasons[i] = r.reason
            if r.email is not None:
                email_h[i] = key_hash([r.email])[0]
            if r.linkedin is not None:
                link_h[i] = key_hash([r.linkedin])[0]
        b = Batch(first_record=first_of_batch,
                  src_start=np.array([p[0] for p in pending], dtype=np.int64),
                  src_end=np.array([p[1] for p in pending], dtype=np.int64),
                  line=np.array([p[2] for p in pending], dtype=np.int64), out=out,
                  out_start=o_start, out_end=o_end, kind=kind, email_h=email_h, link_h=link_h,
                  has_required=has_req, content_h=hash64(contents), reasons=reasons,
                  unterminated_last=unterminated)
        return b

    first_of_batch = record
    with open(ctx.path, "rb") as f:
        f.seek(start)
        pos = start
        rec_start = pos
        rec_line = line
        parts: list[bytes] = []
        state = START_FIELD
        bad = False
        for raw in f:
            text = raw.decode(enc)
            st = csv_state(text, IN_QUOTED if state == IN_QUOTED else START_FIELD)
            if st == ERROR:
                bad = True
            parts.append(raw)
            pos += len(raw)
            line += 1
            if st == IN_QUOTED:
                state = IN_QUOTED
                if pos - rec_start > MAX_PENDING:
                    break
                continue
            state = START_FIELD
            src = b"".join(parts)
            u8 = src.decode(enc).encode("utf-8") if ctx.encoding.transcoded else src
            work = u8[:-2] if u8.endswith(b"\r\n") else (u8[:-1] if u8.endswith(b"\n") else u8)
            pending.append((rec_start, pos, rec_line, u8, work,
                            KIND_REJECT if bad else KIND_DATA))
            record += 1
            parts = []
            bad = False
            rec_start = pos
            rec_line = line
            if len(pending) >= batch_records:
                yield flush()
                pending = []
                first_of_batch = record
        if parts:
            raise MalformedCSVError(
                ctx.path, f"a quoted field opened in record {record} (line {rec_line}) is never "
                "closed", "close the quote (a field that contains quotes must double them: \"\")"
                " and drop the file again", record=record, line=rec_line)
    if pending:
        yield flush()


def scan_batches(ctx: ScanContext, start: int, first_line: int, size: int,
                 block_size: int | None = None) -> Iterator[Batch]:
    """All data records from byte ``start`` (just after the header), in batches.

    Uses the fast path, and restarts with the exact scanner if a buffer needs ``csv`` semantics
    (no batch has been handed out by then only if it happens in the first buffer, so the caller
    must be ready for a restart: see :func:`plan.plan_file`).
    """
    fast = _Fast(ctx)
    block_size = block_size or BLOCK_SIZE
    with open(ctx.path, "rb") as f:
        f.seek(start)
        base = start
        record = 2
        line = first_line
        carry = b""
        want = block_size
        while True:
            data = f.read(want)
            final = f.tell() >= size or not data
            buf = carry + data if carry else data
            if not buf:
                return
            batch, consumed = fast.scan(buf, base, record, line, final)
            if batch is None:
                if final:
                    return
                if len(buf) > MAX_PENDING:
                    raise MalformedCSVError(
                        ctx.path, f"record {record} (line {line}) is still open after "
                        f"{len(buf)} bytes: most likely a quote that is never closed",
                        "close the quote and drop the file again", record=record, line=line)
                carry = buf
                want = max(block_size, len(buf))
                continue
            want = block_size
            yield batch
            record += len(batch)
            line += buf.count(b"\n", 0, consumed)
            base += consumed
            carry = buf[consumed:]
            if final and not carry:
                return


def scan_exact(ctx: ScanContext, start: int, first_line: int) -> Iterator[Batch]:
    """Exact (``csv``-semantics) scan from ``start``; slower, used as the fallback."""
    return _exact_batches(ctx, start, 2, first_line)
