"""Streaming record scanner: CSV records with byte offsets, in batches, in bounded memory.

The fast path works on large buffers with numpy instead of calling ``csv`` per record:

* record ends are newlines preceded by an even number of quotes, delimiters are commas likewise;
* this equals ``csv.reader`` exactly when every quote opens a field, closes one, or is doubled
  inside one. Each buffer is checked for that (two vectorised comparisons); a buffer that breaks
  it, or holds a bare CR outside quotes, is read by the exact scanner instead (``csv`` semantics,
  line by line), so a quirky row costs its own buffer speed, never correctness;
* only the columns the pre-flight needs (e-mail, LinkedIn, and name/company when both are empty)
  are cut out; records whose key fields are quoted, non-ASCII or space-padded are read field by
  field with ``csv`` (``records.classify``).

A batch keeps two views of the same lines: source bytes (offsets for the manifest) and UTF-8 bytes
(what a chunk sends; fields and hashes are read there). Lines correspond one to one, so offsets
translate by line index. A record's content, for hashing and fields, excludes its terminator
(``\n`` or ``\r\n``) and nothing else.
"""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from xxhash import xxh3_64

from cleanlist_pipeline.ingest.encoding import EncodingDecision
from cleanlist_pipeline.ingest.errors import MalformedCSVError
from cleanlist_pipeline.ingest.identity import FileIdentity, open_regular
from cleanlist_pipeline.ingest.records import (
    CSV_FIELD_LIMIT,
    ERROR,
    IN_QUOTED,
    KIND_DATA,
    KIND_REJECT,
    START_FIELD,
    Layout,
    SlowResult,
    classify,
    csv_state,
    hash64,
    key_hash64,
    key_hash64_of,
    lower_ascii_words,
)

# Measured on the 210 MB benchmark drop (benchmarks/bench_split.py, plan only, 5 alternating
# runs): 2 MiB buffers 7% faster than 1 MiB (fewer per-batch numpy calls, larger dedupe batches)
# for +8 MB peak RSS; 512 KiB 30% slower; 4 MiB no faster and +50 MB (temporaries malloc no longer
# recycles).
BLOCK_SIZE = 2 * 1024 * 1024
#: A record still open after this many bytes is treated as an unterminated quote.
MAX_PENDING = 64 * 1024 * 1024

_NL, _CR, _QUOTE, _COMMA, _SLASH = 10, 13, 34, 44, 47


def _is_space(b: np.ndarray) -> np.ndarray:
    """ASCII whitespace that ``bytes.strip`` and ``str.strip`` agree on (no CR/LF in a field)."""
    return (b == 32) | (b == 9) | (b == 11) | (b == 12)


def _word(text: bytes) -> np.uint64:
    return np.uint64(int.from_bytes(text.ljust(8, b"\0"), "little"))


_HTTPS, _HTTP, _WWW = _word(b"https://"), _word(b"http://"), _word(b"www.")
_LOW7, _LOW4 = np.uint64(2**56 - 1), np.uint64(2**32 - 1)
_S8, _S56 = np.uint64(8), np.uint64(56)


def _prefix_words(w: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bytes ``pos..pos+16`` of each position as two little-endian words, ASCII lower-cased."""
    if len(pos) and int(pos.max()) + 16 > len(w):
        w = np.concatenate((w, np.zeros(16, np.uint8)))
    words = np.lib.stride_tricks.sliding_window_view(w, 16)[pos].view("<u8")
    lower_ascii_words(words)
    return words[:, 0], words[:, 1]


#: First bytes after which a field surely has text left after ``str.strip()``: printable ASCII
#: but the quote, and UTF-8 lead bytes of characters that are never Unicode spaces (those start
#: with 0xC2, 0xE1, 0xE2 or 0xE3: NEL, NBSP, U+1680, U+2000-U+205F, U+3000).
_SURELY_NOT_BLANK = np.zeros(256, dtype=bool)
_SURELY_NOT_BLANK[33:127] = True
_SURELY_NOT_BLANK[_QUOTE] = False
_SURELY_NOT_BLANK[0xC3:0xF5] = True
_SURELY_NOT_BLANK[[0xE1, 0xE2, 0xE3]] = False


_MAY_PRECEDE_OPEN = np.zeros(256, dtype=bool)
_MAY_PRECEDE_OPEN[[_COMMA, _NL, _QUOTE]] = True
_MAY_FOLLOW_CLOSE = np.zeros(256, dtype=bool)
_MAY_FOLLOW_CLOSE[[_COMMA, _NL, _QUOTE, _CR]] = True  # CR only when LF follows (checked)


def find_specials(data: bytes) -> np.ndarray:
    """Offsets of every LF, comma, quote and CR in ``data`` (ascending)."""
    w = np.frombuffer(data, dtype=np.uint8)
    special = (w == _NL) | (w == _COMMA)
    if b'"' in data:
        special |= w == _QUOTE
    if b"\r" in data:
        special |= w == _CR
    return np.flatnonzero(special)


#: Blocks read ahead of the scan (each ``BLOCK_SIZE``).
_AHEAD = 3


def _blocks(
    path: Path,
    start: int,
    end: int,
    block_size: int,
    specials: bool,
    identity: FileIdentity | None = None,
) -> Iterator[tuple[bytes, np.ndarray | None]]:
    """The bytes of ``[start, end)`` in blocks, each with its :func:`find_specials`, read and
    searched on a thread a few blocks ahead: numpy releases the GIL for those whole-buffer
    passes, so on a second core they overlap the record-level work of the scan. The file is
    opened without following a symlink and must still be ``identity`` (``ingest.identity``)."""

    def job(f: BinaryIO, size: int) -> tuple[bytes, np.ndarray | None]:
        data = f.read(size)
        return data, (find_specials(data) if specials and data else None)

    with (
        open_regular(path, identity) as f,
        ThreadPoolExecutor(1, thread_name_prefix="cleanlist-scan") as ex,
    ):
        f.seek(start)
        ahead: deque[Future[tuple[bytes, np.ndarray | None]]] = deque()
        offset = start
        while offset < end or ahead:
            while offset < end and len(ahead) < _AHEAD:
                size = min(block_size, end - offset)
                ahead.append(ex.submit(job, f, size))
                offset += size
            data, found = ahead.popleft().result()
            if not data:  # the file is shorter than it was: let the caller see the end
                for rest in ahead:
                    rest.cancel()
                return
            yield data, found


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
    lines: int = 0  # physical lines the batch spans (newlines consumed)
    exact: bool = False  # read by the exact (csv-semantics) scanner

    def __len__(self) -> int:
        return len(self.src_start)

    @property
    def out_size(self) -> np.ndarray:
        return self.out_end - self.out_start


@dataclass
class ScanContext:
    """Fixed facts for one scan: file, encoding, layout, newline used for a missing terminator,
    and the identity the file must keep (``ingest.identity``; None: ``O_NOFOLLOW`` only)."""

    path: Path
    encoding: EncodingDecision
    layout: Layout
    newline: bytes
    identity: FileIdentity | None = None


def _starts_from_ends(nl: np.ndarray, start_lines: np.ndarray) -> np.ndarray:
    """Byte offset where each line starts, given the newline positions."""
    out = np.zeros(len(start_lines), dtype=np.int64)
    m = start_lines > 0
    out[m] = nl[start_lines[m] - 1] + 1
    return out


def _field_bounds(
    c: np.ndarray, c_lo: np.ndarray, n_commas: np.ndarray, ws: np.ndarray, we: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
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

    def scan(
        self,
        src: bytes,
        base: int,
        first_record: int,
        first_line: int,
        final: bool,
        specials: np.ndarray | None = None,
    ) -> tuple[Batch | None, int, int]:
        """Read the complete records of ``src``: (batch, source bytes consumed, lines consumed).

        ``specials``: :func:`find_specials` of ``src`` when already known (UTF-8 sources only).
        """
        ctx = self.ctx
        lay = ctx.layout
        u8 = src.decode(ctx.encoding.name).encode("utf-8") if ctx.encoding.transcoded else src
        wb = u8
        w = np.frombuffer(wb, dtype=np.uint8)
        # Every byte that matters (LF, CR, quote, comma) is found once; parity and counts are
        # then computed on that short array instead of the whole buffer.
        sp = specials if specials is not None and src is wb else find_specials(wb)
        sb = w[sp]
        isq = sb == _QUOTE
        is_nl = sb == _NL
        nq = int(np.count_nonzero(isq))
        nl_w = sp[is_nl]
        if nq:
            self._check_quoting(w, sp[isq])
            outside = ((np.cumsum(isq) - isq) & 1) == 0
            end_sp = np.flatnonzero(is_nl & outside)
            comma_m = (sb == _COMMA) & outside
            open_at_end = (nq & 1) == 1
        else:
            outside = None
            end_sp = np.flatnonzero(is_nl)
            comma_m = sb == _COMMA
            open_at_end = False
        end_lines = (np.cumsum(is_nl)[end_sp] - 1) if nq else np.arange(len(nl_w))
        has_cr = bool(np.any(sb == _CR))
        if has_cr:
            cr_idx = np.flatnonzero(sb == _CR)
            cr = sp[cr_idx]
            nxt = w[np.minimum(cr + 1, len(w) - 1)]
            bare = (nxt != _NL) | (cr + 1 >= len(w))
            if outside is not None:
                bare &= outside[cr_idx]
            if bare.any():
                raise NeedsExactScan("bare CR outside quotes")
        c = sp[comma_m]
        commas_before_end = np.cumsum(comma_m)[end_sp]
        nl_s = nl_w if src is wb else np.flatnonzero(np.frombuffer(src, np.uint8) == _NL)
        nl_u = nl_w
        n_full = len(end_lines)
        last_line_end = int(nl_w[end_lines[-1]]) + 1 if n_full else 0
        tail = final and last_line_end < len(wb)
        if final and open_at_end:
            start_line = int(end_lines[-1]) + 1 if n_full else 0
            raise MalformedCSVError(
                ctx.path,
                f"a quoted field opened in record {first_record + n_full} (line "
                f"{first_line + start_line}) is never closed",
                "close the quote (a field that "
                'contains quotes must double them: "" ) and drop the file again',
                record=first_record + n_full,
                line=first_line + start_line,
            )
        n = n_full + (1 if tail else 0)
        if n == 0:
            return None, 0, 0
        start_lines = np.empty(n, dtype=np.int64)
        start_lines[0] = 0
        if n > 1:
            start_lines[1 : n_full + (1 if tail else 0)] = end_lines[: n - 1] + 1
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
        c_hi = np.empty(n, dtype=np.int64)
        c_hi[:n_full] = commas_before_end
        if tail:
            c_hi[-1] = len(c)
        c_lo = np.zeros(n, dtype=np.int64)
        c_lo[1:] = c_hi[:-1]
        n_commas = c_hi - c_lo
        # A record without delimiters may be blank (or whitespace only): csv decides, unless its
        # edges are plain characters (one-column files are common: lists of e-mails).
        first_b = w[np.minimum(ws, len(w) - 1)]
        last_b = w[np.maximum(we - 1, 0)]
        plain_edges = (
            (length > 0)
            & (first_b > 32)
            & (first_b < 127)
            & (first_b != _QUOTE)
            & (last_b > 32)
            & (last_b < 127)
        )
        slow = ((n_commas == 0) & ~plain_edges) | (length > CSV_FIELD_LIMIT)
        ragged = (n_commas + 1 > lay.n_fields) & ~slow
        for i in np.flatnonzero(ragged).tolist():
            reasons[i] = (
                "ragged_row",
                f"{int(n_commas[i]) + 1} fields; the header has {lay.n_fields}",
            )
        kind[ragged] = KIND_REJECT
        too_big = (out_end_sized - o_start) > lay.max_record_bytes
        for i in np.flatnonzero(too_big & ~ragged).tolist():
            reasons[i] = (
                "row_too_large",
                f"{int(out_end_sized[i] - o_start[i])} bytes; a chunk "
                f"allows {lay.max_record_bytes} bytes per row next to the header",
            )
        kind[too_big] = KIND_REJECT
        slow &= ~too_big
        slow &= ~ragged
        live = kind == KIND_DATA

        top = len(w) - 1

        def bounds(col: int | None) -> tuple[np.ndarray, np.ndarray] | None:
            if col is None:
                return None
            return _field_bounds(c, c_lo, n_commas, ws, we, col)

        def trimmed_key(
            b: tuple[np.ndarray, np.ndarray],
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            """(start, end, raw non-empty, needs-slow) of a key field after trimming spaces.

            Quoted keys and control bytes at the edges are left to ``csv`` (slow path); ASCII
            spaces/tabs trim the same with bytes as with ``str.strip``.
            """
            s, e = b
            raw = (e > s) & live
            first = w[np.minimum(s, top)]
            bad = raw & ((first == _QUOTE) | (first >= 127))
            s, e = s.copy(), e.copy()
            for _ in range(256):
                m = raw & (e > s) & _is_space(w[np.minimum(s, top)])
                if not m.any():
                    break
                s += m
            for _ in range(256):
                m = raw & (e > s) & _is_space(w[np.maximum(e - 1, 0)])
                if not m.any():
                    break
                e -= m
            f2, l2 = w[np.minimum(s, top)], w[np.maximum(e - 1, 0)]
            bad |= raw & (e > s) & ((f2 < 32) | (l2 < 32) | (l2 >= 127))
            return s, e, raw, bad

        def presence(b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            """(surely non-empty, undecided) after trimming, from the first byte alone."""
            s, e = b
            first = w[np.minimum(s, top)]
            sure = (e > s) & _SURELY_NOT_BLANK[first]
            return sure, (e > s) & ~sure

        def hash_keys(
            s: np.ndarray, e: np.ndarray, sel: np.ndarray, out: np.ndarray, slow_mask: np.ndarray
        ) -> None:
            """Lower-case and hash ASCII keys; non-ASCII ones (Unicode case rules) go slow."""
            h, ascii_ = key_hash64(w, s[sel], e[sel])
            out[sel[ascii_]] = h[ascii_]
            slow_mask[sel[~ascii_]] = True

        e_has = np.zeros(n, bool)
        l_has = np.zeros(n, bool)
        eb = bounds(lay.email)
        lb = bounds(lay.linkedin)
        if eb is not None:
            es, ee, e_raw, e_bad = trimmed_key(eb)
            slow |= e_bad
            e_has = e_raw & (ee > es)
        if lb is not None:
            ls, le, l_raw, l_bad = trimmed_key(lb)
            slow |= l_bad
            l_has = l_raw & (le > ls)
        has_req[:] = e_has | l_has
        # Name and company matter only for rows without e-mail and LinkedIn URL (a few percent).
        nk = np.flatnonzero(live & ~e_has & ~l_has)
        if len(nk):
            sub = (c_lo[nk], n_commas[nk], ws[nk], we[nk])

            def col(k: int | None) -> tuple[np.ndarray, np.ndarray]:
                if k is None:
                    z = np.zeros(len(nk), bool)
                    return z, z
                return presence(_field_bounds(c, *sub, k))

            fn, fn_u = col(lay.full_name)
            f1, f1_u = col(lay.first_name)
            l1, l1_u = col(lay.last_name)
            cn, cn_u = col(lay.company_name)
            cd, cd_u = col(lay.company_domain)
            slow[nk] |= fn_u | f1_u | l1_u | cn_u | cd_u
            has_req[nk] = (fn | (f1 & l1)) & (cn | cd)

        if eb is not None:
            sel = np.flatnonzero(live & ~slow & e_has)
            if len(sel):
                hash_keys(es, ee, sel, email_h, slow)
        if lb is not None:
            sel = np.flatnonzero(live & ~slow & l_has)
            if len(sel):
                # The server's LinkedIn key: lower-cased, one scheme, then "www.", then trailing
                # slashes removed. Decided on the first 16 bytes as two words, so only offsets
                # move; non-ASCII keys go slow in hash_keys whatever this decides.
                ks = ls[sel]
                ln = le[sel] - ks
                w0, w1 = _prefix_words(w, ks)
                https = (ln >= 8) & (w0 == _HTTPS)
                http = ~https & (ln >= 7) & ((w0 & _LOW7) == _HTTP)
                skip = 8 * https + 7 * http
                after = np.where(https, w1, np.where(http, (w0 >> _S56) | (w1 << _S8), w0)) & _LOW4
                www = (ln - skip >= 4) & (after == _WWW)
                ks = ls.copy()
                ks[sel] += skip + 4 * www
                ke = le.copy()
                for _ in range(4096):
                    m = (ke > ks) & (w[np.maximum(ke - 1, 0)] == _SLASH)
                    if not m.any():
                        break
                    ke -= m
                hash_keys(ks, ke, sel, link_h, slow)

        # Content hashes are of the record without its terminator, with every "\n" inside it
        # (quoted line breaks) read as NUL (a byte a drop never holds): then one split of the
        # buffer yields every record, instead of re-joining multi-line records one by one.
        if not has_cr and n_full:
            body = wb[: last_line_end - 1]
            if nq and n_full < int(end_lines[-1]) + 1:
                inner = np.ones(int(end_lines[-1]) + 1, dtype=bool)
                inner[end_lines] = False
                marked = np.frombuffer(body, np.uint8).copy()
                marked[nl_w[: len(inner)][inner]] = 0
                contents = marked.tobytes().split(b"\n")
            else:
                contents = body.split(b"\n")
            if tail:
                contents.append(wb[int(ws[-1]) : int(we[-1])].replace(b"\n", b"\0"))
        else:
            contents = [c.replace(b"\n", b"\0") for c in _slices(wb, ws, we)]
        content_h = hash64(contents)

        classified: list[tuple[int, SlowResult]] = []
        for i in np.flatnonzero(slow).tolist():
            r = classify(wb[int(ws[i]) : int(we[i])].decode("utf-8"), lay)
            kind[i] = r.kind
            has_req[i] = r.has_required
            if r.reason is not None:
                reasons[i] = r.reason
            classified.append((i, r))
        _store_keys(classified, email_h, link_h)
        has_req[kind != KIND_DATA] = False

        batch = Batch(
            first_record=first_record,
            src_start=s_start + base,
            src_end=s_end + base,
            line=start_lines + first_line,
            out=u8,
            out_start=o_start,
            out_end=o_end,
            kind=kind,
            email_h=email_h,
            link_h=link_h,
            has_required=has_req,
            content_h=content_h,
            reasons=reasons,
            unterminated_last=tail,
        )
        lines_consumed = int(end_lines[-1]) + 1 if n_full else 0
        return batch, consumed, lines_consumed + (1 if tail else 0)

    @staticmethod
    def _check_quoting(w: np.ndarray, q: np.ndarray) -> None:
        """Quotes must open a field, close one, or be doubled inside one (RFC 4180).

        ``q`` alternates opening and closing quotes (the buffer starts outside quotes); a
        doubled quote inside a field is a closing quote followed by an opening one.
        """
        top = len(w) - 1
        opening, closing = q[0::2], q[1::2]
        ok = _MAY_PRECEDE_OPEN[w[np.maximum(opening - 1, 0)]]
        if len(opening) and opening[0] == 0:
            ok[0] = True
        if not ok.all():
            raise NeedsExactScan("quote inside an unquoted field")
        if len(closing) == 0:
            return
        nxt = w[np.minimum(closing + 1, top)]
        ok = _MAY_FOLLOW_CLOSE[nxt]
        if closing[-1] == top:
            ok[-1] = True  # the buffer ends there: the record is incomplete, decided later
        cr = np.flatnonzero(nxt == _CR)
        if len(cr):
            at = closing[cr] + 2
            ok[cr] = (at > top) | (w[np.minimum(at, top)] == _NL)
        if not ok.all():
            raise NeedsExactScan("quote inside an unquoted field")


def _store_keys(
    classified: list[tuple[int, SlowResult]], email_h: np.ndarray, link_h: np.ndarray
) -> None:
    """Hash the keys of records read field by field (all in one call) into the batch arrays."""
    targets: list[tuple[np.ndarray, int]] = []
    keys: list[bytes] = []
    for i, r in classified:
        email_h[i] = link_h[i] = 0
        for target, key in ((email_h, r.email), (link_h, r.linkedin)):
            if key is not None:
                targets.append((target, i))
                keys.append(key)
    for (target, i), h in zip(targets, key_hash64_of(keys).tolist(), strict=True):
        target[i] = h


def _exact_batch(
    ctx: ScanContext, pending: list[tuple[int, int, int, bytes, bool]], first_record: int
) -> Batch:
    """Build a batch from records found by the exact scanner: (start, end, line, source, bad)."""
    enc = ctx.encoding.name
    lay = ctx.layout
    n = len(pending)
    u8_parts = [
        p[3].decode(enc).encode("utf-8") if ctx.encoding.transcoded else p[3] for p in pending
    ]
    out = b"".join(u8_parts)
    lens = np.fromiter(map(len, u8_parts), dtype=np.int64, count=n)
    o_end = np.cumsum(lens)
    o_start = o_end - lens
    kind = np.zeros(n, dtype=np.int8)
    email_h = np.zeros(n, dtype=np.uint64)
    link_h = np.zeros(n, dtype=np.uint64)
    has_req = np.zeros(n, dtype=bool)
    reasons: dict[int, tuple[str, str]] = {}
    contents = [
        u[:-2] if u.endswith(b"\r\n") else (u[:-1] if u.endswith(b"\n") else u) for u in u8_parts
    ]
    unterminated = bool(n) and not out.endswith(b"\n")
    classified: list[tuple[int, SlowResult]] = []
    for i, p in enumerate(pending):
        size = int(lens[i]) + (len(ctx.newline) if unterminated and i == n - 1 else 0)
        if p[4]:
            kind[i] = KIND_REJECT
            reasons[i] = ("malformed_row", "a line break (bare CR) inside an unquoted field")
            continue
        if size > lay.max_record_bytes:
            kind[i] = KIND_REJECT
            reasons[i] = (
                "row_too_large",
                f"{size} bytes; a chunk allows "
                f"{lay.max_record_bytes} bytes per row next to the header",
            )
            continue
        r = classify(contents[i].decode("utf-8"), lay)
        kind[i] = r.kind
        has_req[i] = r.has_required and r.kind == KIND_DATA
        if r.reason is not None:
            reasons[i] = r.reason
        classified.append((i, r))
    _store_keys(classified, email_h, link_h)
    return Batch(
        first_record=first_record,
        src_start=np.array([p[0] for p in pending], dtype=np.int64),
        src_end=np.array([p[1] for p in pending], dtype=np.int64),
        line=np.array([p[2] for p in pending], dtype=np.int64),
        out=out,
        out_start=o_start,
        out_end=o_end,
        kind=kind,
        email_h=email_h,
        link_h=link_h,
        has_required=has_req,
        content_h=hash64([c.replace(b"\n", b"\0") for c in contents]),
        reasons=reasons,
        unterminated_last=unterminated,
        exact=True,
    )


def exact_scan(
    ctx: ScanContext, src: bytes, base: int, first_record: int, first_line: int, final: bool
) -> tuple[Batch | None, int, int]:
    """``csv``-exact reading of one buffer, line by line (same contract as ``_Fast.scan``).

    Used for buffers the fast path declines (quotes inside unquoted fields, bare CRs), so one
    quirky row slows down its own buffer, not the whole file.
    """
    enc = ctx.encoding.name
    pending: list[tuple[int, int, int, bytes, bool]] = []
    pos = rec_start = 0
    line = rec_line = first_line
    in_quotes = bad = False
    n = len(src)
    while pos < n:
        nl = src.find(b"\n", pos)
        if nl < 0 and not final:
            break
        end = n if nl < 0 else nl + 1
        st = csv_state(src[pos:end].decode(enc), IN_QUOTED if in_quotes else START_FIELD)
        bad = bad or st == ERROR
        pos = end
        line += 1
        in_quotes = st == IN_QUOTED
        if in_quotes:
            continue
        pending.append((base + rec_start, base + pos, rec_line, src[rec_start:pos], bad))
        rec_start, rec_line, bad = pos, line, False
    if final and in_quotes:
        record = first_record + len(pending)
        raise MalformedCSVError(
            ctx.path,
            f"a quoted field opened in record {record} (line {rec_line}) is never closed",
            'close the quote (a field that contains quotes must double them: "")'
            " and drop the file again",
            record=record,
            line=rec_line,
        )
    if not pending:
        return None, 0, 0
    return _exact_batch(ctx, pending, first_record), rec_start, rec_line - first_line


def _no_end(ctx: ScanContext, record: int, line: int, size: int) -> MalformedCSVError:
    return MalformedCSVError(
        ctx.path,
        f"record {record} (line {line}) has no end after "
        f"{size} bytes: most likely a quote that is never closed (or the "
        "file is not line-based CSV)",
        "close the quote (fields containing quotes must double them) and drop the file again",
        record=record,
        line=line,
    )


#: Window for the per-record passes over a long record: their numpy temporaries (8 bytes per
#: quote or newline) stay a few times this, however dense the record is.
_WINDOW = 2 * 1024 * 1024


def _parity_end(data: bytes | bytearray, lo: int, quotes: int) -> tuple[int | None, int]:
    """First offset past a newline in ``data[lo:]`` with an even number of quotes before it
    (``quotes`` counted before ``lo``), or None; and the quotes counted up to where it stopped."""
    w = np.frombuffer(data, dtype=np.uint8)
    for s in range(lo, len(data), _WINDOW):
        part = w[s : s + _WINDOW]
        nl = np.flatnonzero(part == _NL)
        q = np.flatnonzero(part == _QUOTE)
        if len(nl):
            even = nl[((quotes + np.searchsorted(q, nl)) & 1) == 0]
            if len(even):
                end = int(even[0])
                return s + end + 1, quotes + int(np.searchsorted(q, end))
        quotes += len(q)
    return None, quotes


def _rfc_quoted(data: bytearray, end: int) -> bool:
    """True when ``data[:end]`` (one record) reads the same by quote parity as with ``csv``: every
    quote opens a field, closes one or is doubled inside one, and no CR stands alone outside
    quotes. Checked window by window, so its memory does not grow with the record."""
    w = np.frombuffer(data, dtype=np.uint8)[:end]
    top = len(w) - 1
    quotes = 0
    for s in range(0, len(w), _WINDOW):
        part = w[s : s + _WINDOW]
        q = np.flatnonzero(part == _QUOTE) + s
        opening = q[(quotes + np.arange(len(q))) % 2 == 0]
        closing = q[(quotes + np.arange(len(q))) % 2 == 1]
        before = _MAY_PRECEDE_OPEN[w[np.maximum(opening - 1, 0)]] | (opening == 0)
        nxt = w[np.minimum(closing + 1, top)]
        after = _MAY_FOLLOW_CLOSE[nxt] | (closing == top)
        cr_next = nxt == _CR
        after[cr_next] &= w[np.minimum(closing[cr_next] + 2, top)] == _NL
        cr = np.flatnonzero(part == _CR) + s
        cr_out = ((quotes + np.searchsorted(q, cr)) & 1) == 0
        bare = cr_out & ((cr == top) | (w[np.minimum(cr + 1, top)] != _NL))
        if not (before.all() and after.all()) or bare.any():
            return False
        quotes += len(q)
    return True


def _long_reject(
    ctx: ScanContext, data: bytearray, end: int, base: int, record: int, line: int
) -> Batch:
    """A batch of one record, ``data[:end]``, too large for any chunk: rejected as ``row_too_large``
    without the per-byte arrays of the scanners (8 bytes per comma for a line of commas).

    Its content hash is the scanners' (XXH3-64 of the record's UTF-8 without its terminator,
    inner newlines read as NUL) and its size the UTF-8 one, computed window by window.
    """
    view = memoryview(data)[:end]
    terminated = data[end - 1] == _NL
    stop = end - (1 if terminated else 0)
    if terminated and stop and data[stop - 1] == _CR:
        stop -= 1
    decoder = codecs.getincrementaldecoder(ctx.encoding.name)() if ctx.encoding.transcoded else None
    h = xxh3_64()
    u8_size = 0
    for s in range(0, stop, _WINDOW):
        piece = bytes(view[s : min(s + _WINDOW, stop)])
        if decoder is not None:  # a character cut by the window is completed by the next one
            piece = decoder.decode(piece, s + _WINDOW >= stop).encode("utf-8")
        u8_size += len(piece)
        h.update(piece.replace(b"\n", b"\0"))
    digest = h.intdigest() or 1
    size = u8_size + (end - stop) + (0 if terminated else len(ctx.newline))
    one = np.ones(1, dtype=np.int64)
    return Batch(
        first_record=record,
        src_start=one * base,
        src_end=one * (base + end),
        line=one * line,
        out=b"",  # never packed: a rejected record is read again from the file when written
        out_start=one * 0,
        out_end=one * 0,
        kind=np.full(1, KIND_REJECT, dtype=np.int8),
        email_h=np.zeros(1, dtype=np.uint64),
        link_h=np.zeros(1, dtype=np.uint64),
        has_required=np.zeros(1, dtype=bool),
        content_h=np.full(1, digest, dtype=np.uint64),
        reasons={
            0: (
                "row_too_large",
                f"{size} bytes; a chunk allows "
                f"{ctx.layout.max_record_bytes} bytes per row next to the header",
            )
        },
        unterminated_last=not terminated,
        lines=data.count(b"\n", 0, end) + (0 if terminated else 1),
    )


def scan_batches(
    ctx: ScanContext,
    start: int,
    first_line: int,
    end: int,
    block_size: int | None = None,
    first_record: int = 2,
    exact: bool = False,
) -> Iterator[Batch]:
    """All records in ``[start, end)`` (``start`` just after the header, or any record
    boundary), in batches.

    Each buffer goes through the fast path; a buffer it declines is read by :func:`exact_scan`
    (``exact=True``: every buffer), so the result always has ``csv`` semantics.
    """
    fast = _Fast(ctx)
    block_size = block_size or BLOCK_SIZE
    # specials are only worth finding ahead where the fast path reads the source bytes as they are
    blocks = _blocks(
        ctx.path, start, end, block_size, not exact and not ctx.encoding.transcoded, ctx.identity
    )
    try:
        base = start
        record = first_record
        line = first_line
        carry = b""
        carry_sp: np.ndarray | None = None
        exhausted = False
        quirky = False  # the carry starts with a long record only csv semantics can end
        open_carry = False  # the carry is the start of one record the scanners saw no end of
        while True:
            long_start = b""
            big = open_carry and len(carry) > ctx.layout.max_record_bytes
            if big and not quirky:
                # already too large for any chunk: found its end without re-scanning it
                long_start, carry, carry_sp = carry, b"", None
            else:
                parts: list[bytes] = [carry] if carry else []
                found: list[np.ndarray | None] = [carry_sp] if carry else []
                # a record longer than the buffer: at least double the buffer, so a long record
                # costs a few re-scans, never one per block; never past MAX_PENDING by a block
                want = max(block_size, min(len(carry), MAX_PENDING + block_size - len(carry)))
                got = 0
                while got < want and not exhausted:
                    nxt = next(blocks, None)
                    if nxt is None:
                        exhausted = True
                        break
                    parts.append(nxt[0])
                    found.append(nxt[1])
                    got += len(nxt[0])
                final = exhausted
                buf = parts[0] if len(parts) == 1 else b"".join(parts)
                if not buf:
                    return
                sp = _joined_specials(parts, found)
                del parts, found
                if exact or quirky:
                    batch, consumed, nlines = exact_scan(ctx, buf, base, record, line, final)
                else:
                    try:
                        batch, consumed, nlines = fast.scan(buf, base, record, line, final, sp)
                    except NeedsExactScan:
                        batch, consumed, nlines = exact_scan(ctx, buf, base, record, line, final)
                if batch is None:
                    if final:
                        return
                    if quirky:
                        if len(buf) > MAX_PENDING:
                            raise _no_end(ctx, record, line, len(buf))
                        carry, carry_sp = buf, sp
                        continue
                    long_start, buf, sp = buf, b"", None
            if long_start:
                # ``long_start`` begins one record longer than the buffer. Re-scanning it as it
                # grows would cost the scanners' arrays (8 bytes per comma) over the whole
                # record: its end is found block by block instead, by quote parity.
                rec = bytearray(long_start)
                del long_start
                end, quotes = _parity_end(rec, 0, 0)
                while end is None and len(rec) <= MAX_PENDING:  # the cap before growing
                    nxt = next(blocks, None)
                    if nxt is None:
                        exhausted = True
                        break
                    lo = len(rec)
                    rec += nxt[0]
                    end, quotes = _parity_end(rec, lo, quotes)
                if end is None and not exhausted:
                    raise _no_end(ctx, record, line, len(rec))
                final = exhausted and end is None
                stop = len(rec) if end is None else end
                rfc = _rfc_quoted(rec, stop)
                if end is None and quotes & 1 and rfc:
                    raise MalformedCSVError(
                        ctx.path,
                        f"a quoted field opened in record {record} (line {line}) is never closed",
                        "close the quote (a field that contains quotes must double them: "
                        '"" ) and drop the file again',
                        record=record,
                        line=line,
                    )
                # source bytes: never more than the UTF-8 a chunk would carry (ASCII-compatible)
                size = stop + (0 if rec[stop - 1] == _NL else len(ctx.newline))
                if rfc and size > ctx.layout.max_record_bytes:
                    batch = _long_reject(ctx, rec, stop, base, record, line)
                    yield batch
                    record += 1
                    line += batch.lines
                    base += stop
                    carry, carry_sp, open_carry = bytes(rec[stop:]), None, False
                    del rec
                    if final or (exhausted and not carry):
                        return
                    continue
                # a record that fits a chunk (the scanners read it cheaply), or one whose quotes
                # only csv semantics can settle: the scanners read it from here
                quirky = not rfc
                carry, carry_sp, open_carry = bytes(rec), None, False
                continue
            quirky = False
            batch.lines = nlines
            yield batch
            record += len(batch)
            line += nlines
            base += consumed
            carry = buf[consumed:]
            carry_sp = None
            open_carry = bool(carry) and not final
            if sp is not None and carry:
                carry_sp = sp[np.searchsorted(sp, consumed) :] - consumed
            if final and not carry:
                return
    finally:
        blocks.close()  # stops the read-ahead thread when the caller stops early


def _joined_specials(parts: list[bytes], found: list[np.ndarray | None]) -> np.ndarray | None:
    """Specials of ``b"".join(parts)`` from each part's own (None if any part lacks them)."""
    if any(f is None for f in found) or not found:
        return None
    if len(found) == 1:
        return found[0]
    offsets = np.cumsum([0, *map(len, parts[:-1])])
    return np.concatenate([f + o for f, o in zip(found, offsets.tolist(), strict=True)])
