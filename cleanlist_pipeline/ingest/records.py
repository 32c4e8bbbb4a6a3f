"""Per-record helpers shared by the fast and the exact scanner: tokenising, keys, hashes.

``csv_state`` / ``tokenize`` reproduce the standard library's ``csv.reader`` (default dialect,
non-strict) so that boundaries agree with what a Python server reads, including its quirks: a quote
in the middle of an unquoted field is a literal character, and text after a closing quote is
appended to the field. They run only where the vectorised scanner cannot decide (files with such
quirks, rows over the csv field limit); the standard module itself is used where it can be.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xxhash import xxh3_64_intdigest

#: Python's default ``csv.field_size_limit()``: a reader with the default raises on a longer field,
#: which would fail a whole upload on a server that keeps the default.
CSV_FIELD_LIMIT = 131_072

# csv.reader states that matter at a line end.
START_FIELD, IN_FIELD, IN_QUOTED, QUOTE_IN_QUOTED, EAT_CRNL, DONE, ERROR = range(7)
_SPECIAL = re.compile(r'[",\r\n]')


def csv_state(line: str, state: int = START_FIELD) -> int:
    """Feed one physical line (with its newline) to the csv state machine.

    Returns ``IN_QUOTED`` when the record continues on the next line, ``DONE`` when it ends here,
    ``ERROR`` for a line break inside an unquoted field (a bare CR), which ``csv.reader`` refuses.
    """
    pos = 0
    for m in _SPECIAL.finditer(line):
        i = m.start()
        if i > pos:  # ordinary characters between specials
            if state in (START_FIELD, QUOTE_IN_QUOTED):
                state = IN_FIELD
            elif state == EAT_CRNL:
                return ERROR
        c = line[i]
        if state == IN_QUOTED:
            if c == '"':
                state = QUOTE_IN_QUOTED
        elif state == EAT_CRNL:
            if c not in "\r\n":
                return ERROR
        elif c == '"':
            state = (
                IN_QUOTED
                if state == START_FIELD
                else (IN_QUOTED if state == QUOTE_IN_QUOTED else IN_FIELD)
            )
        elif c == ",":
            state = START_FIELD
        else:  # \r or \n
            state = EAT_CRNL
        pos = i + 1
    if pos < len(line):
        if state in (START_FIELD, QUOTE_IN_QUOTED):
            state = IN_FIELD
        elif state == EAT_CRNL:
            return ERROR
    return state if state == IN_QUOTED else DONE


def tokenize(text: str) -> list[str]:
    """Fields of one complete record (no trailing newline), as ``csv.reader`` would give them.

    Unlike ``csv.reader`` it has no field size limit. Raises ``ValueError`` for a line break in an
    unquoted field or a quote left open.
    """
    if text == "":
        return []
    fields: list[str] = []
    buf: list[str] = []
    state = START_FIELD
    pos = 0
    for m in _SPECIAL.finditer(text):
        i = m.start()
        if i > pos:
            chunk = text[pos:i]
            if state == EAT_CRNL:
                raise ValueError("new-line character seen in unquoted field")
            if state in (START_FIELD, QUOTE_IN_QUOTED):
                state = IN_FIELD
            buf.append(chunk)
        c = text[i]
        if state == IN_QUOTED:
            if c == '"':
                state = QUOTE_IN_QUOTED
            else:
                buf.append(c)
        elif state == EAT_CRNL:
            if c not in "\r\n":
                raise ValueError("new-line character seen in unquoted field")
        elif c == '"':
            if state == START_FIELD:
                state = IN_QUOTED
            elif state == QUOTE_IN_QUOTED:
                buf.append('"')
                state = IN_QUOTED
            else:
                buf.append('"')
        elif c == ",":
            fields.append("".join(buf))
            buf = []
            state = START_FIELD
        else:
            fields.append("".join(buf))
            buf = []
            state = EAT_CRNL
        pos = i + 1
    if pos < len(text):
        if state == EAT_CRNL:
            raise ValueError("new-line character seen in unquoted field")
        buf.append(text[pos:])
        if state in (START_FIELD, QUOTE_IN_QUOTED):
            state = IN_FIELD
    if state == IN_QUOTED:
        raise ValueError("unexpected end of data inside a quoted field")
    if state != EAT_CRNL:
        fields.append("".join(buf))
    return fields


def parse_fields(text: str) -> list[str]:
    """Fields of one complete record; the C ``csv`` module when the field limit allows."""
    if len(text) <= CSV_FIELD_LIMIT:
        try:
            rows = list(csv.reader([text]))
        except csv.Error as exc:
            raise ValueError(str(exc)) from None
        return rows[0] if rows else []
    return tokenize(text)


def norm_email(value: str) -> bytes:
    """Dedupe key of an e-mail: trimmed, lower-cased (contract section 9)."""
    return value.strip().lower().encode("utf-8")


def norm_linkedin(value: str) -> bytes:
    """Dedupe key of a LinkedIn URL: lower-cased, one scheme, ``www.`` and trailing ``/`` off."""
    u = value.strip().lower()
    for scheme in ("https://", "http://"):
        if u.startswith(scheme):
            u = u[len(scheme) :]
            break
    if u.startswith("www."):
        u = u[4:]
    return u.rstrip("/").encode("utf-8")


def hash64(items: Sequence[bytes]) -> np.ndarray:
    """Stable 64-bit hashes (XXH3-64, seed 0) of byte strings, never 0 (0 means "no key").

    Stable across processes, machines and versions (the XXH3 output is specified), which the
    ``append`` mode needs for content hashes; fast enough to run over every record in C.
    """
    out = np.fromiter(map(xxh3_64_intdigest, items), dtype=np.uint64, count=len(items))
    out[out == 0] = 1
    return out


_K0 = np.uint64(0x9E3779B97F4A7C15)
_K1 = np.uint64(0xBF58476D1CE4E5B9)
_K2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
#: Keys up to this many bytes are hashed in one matrix; longer ones (rare) in their own group.
_KEY_WIDTH = 64


def _mix(h: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection of uint64 with full avalanche."""
    h ^= h >> _S30
    h *= _K1
    h ^= h >> _S27
    h *= _K2
    h ^= h >> _S31
    return h


_H80 = np.uint64(0x8080808080808080)
_A3F = np.uint64(0x3F3F3F3F3F3F3F3F)  # + byte: high bit set from "A" (0x41) up
_A25 = np.uint64(0x2525252525252525)  # + byte: high bit set from "[" (0x5B) up
_S2 = np.uint64(2)
#: Mask of the bytes of a key's last word, by ``len % 8`` (0: the word is full).
_PART = np.array([2**64 - 1] + [(1 << (8 * k)) - 1 for k in range(1, 8)], dtype=np.uint64)
_SALT_K = np.uint64(0xD6E8FEB86659FD93)
_ROW = np.arange(512)[:, None]
_SALT = np.arange(1, 513, dtype=np.uint64)[:, None] * _SALT_K


def lower_ascii_words(x: np.ndarray) -> np.ndarray:
    """ASCII upper-case letters lower-cased in every byte of uint64 words, in place (SWAR).

    Exact for bytes below 0x80; words holding other bytes come out unspecified (callers send
    such keys to the exact path).
    """
    t = x + _A3F
    u = x + _A25
    np.invert(u, out=u)
    t &= u
    t &= _H80
    t >>= _S2
    x |= t
    return x


def _hash_group(
    w: np.ndarray, starts: np.ndarray, lens: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    if len(lens) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, bool)
    nwords = (lens + 7) >> 3
    rows = max(int(nwords.max()), 1)
    width = 8 * rows
    if int(starts.max()) + width > len(w):
        w = np.concatenate((w, np.zeros(width, np.uint8)))
    # one row per 8-byte word, one column per key: every step below is a flat numpy op
    words = np.lib.stride_tricks.sliding_window_view(w, width)[starts].view("<u8").T.copy()
    words[np.minimum(lens >> 3, rows - 1), np.arange(len(lens))] &= _PART[lens & 7]
    if rows <= len(_ROW):
        row, salt = _ROW[:rows], _SALT[:rows]
    else:  # a key over 4 KB: not a real e-mail or URL, but it must hash exactly all the same
        row = np.arange(rows)[:, None]
        salt = np.arange(1, rows + 1, dtype=np.uint64)[:, None] * _SALT_K
    valid = row < nwords
    words *= valid
    ascii_ = (np.bitwise_or.reduce(words, axis=0) & _H80) == 0
    lower_ascii_words(words)
    words ^= salt
    _mix(words)
    words *= valid
    h = words.sum(axis=0, dtype=np.uint64)
    h ^= (lens.astype(np.uint64) + np.uint64(1)) * _K0
    return _mix(h), ascii_


def key_hash64(
    w: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the keys ``w[starts[i]:ends[i]]`` with ASCII letters lower-cased, and
    which keys are pure ASCII (only those are normalised: others need Unicode case rules).

    A dedupe key only lives for one plan, so this need not be a published hash: SplitMix64's
    finaliser of each little-endian 8-byte word salted by its position, summed, then mixed with
    the length; computed for a whole batch with numpy (several times cheaper than slicing the
    keys out and hashing them one call at a time). Never 0 (0 means "no key").
    :func:`key_hash64_of` gives the same values for separate byte strings.

    >>> w = np.frombuffer(b"A@X.io,a@x.io", np.uint8)
    >>> h, ascii_ = key_hash64(w, np.array([0, 7]), np.array([6, 13]))
    >>> bool(h[0] == h[1]), ascii_.tolist()
    (True, [True, True])
    """
    starts = np.asarray(starts, dtype=np.int64)
    lens = np.asarray(ends, dtype=np.int64) - starts
    out = np.empty(len(starts), np.uint64)
    ascii_ = np.empty(len(starts), bool)
    long = lens > _KEY_WIDTH
    groups = (~long, long) if long.any() else (slice(None),)
    for g in groups:
        out[g], ascii_[g] = _hash_group(w, starts[g], lens[g])
    out[out == 0] = 1
    return out, ascii_


def key_hash64_of(keys: Sequence[bytes]) -> np.ndarray:
    """:func:`key_hash64` of separate (already normalised) keys."""
    buf = b"".join(keys)
    lens = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    ends = np.cumsum(lens)
    return key_hash64(np.frombuffer(buf, np.uint8), ends - lens, ends)[0]


@dataclass(frozen=True)
class Layout:
    """Where the columns the pre-flight reads sit (0-based; None when unmapped)."""

    n_fields: int
    email: int | None
    linkedin: int | None
    full_name: int | None
    first_name: int | None
    last_name: int | None
    company_name: int | None
    company_domain: int | None
    max_record_bytes: int

    @classmethod
    def from_index(cls, n_fields: int, index: dict[str, int], max_record_bytes: int) -> Layout:
        return cls(
            n_fields,
            index.get("email"),
            index.get("linkedin_url"),
            index.get("full_name"),
            index.get("first_name"),
            index.get("last_name"),
            index.get("company_name"),
            index.get("company_domain"),
            max_record_bytes,
        )


@dataclass
class SlowResult:
    """Outcome of reading one record field by field."""

    kind: int  # KIND_DATA / KIND_BLANK / KIND_REJECT
    reason: tuple[str, str] | None
    email: bytes | None
    linkedin: bytes | None
    has_required: bool


KIND_DATA, KIND_BLANK, KIND_REJECT = 0, 1, 2


def _get(fields: list[str], i: int | None) -> str:
    if i is None or i >= len(fields):
        return ""
    return fields[i].strip()


def classify(text: str, layout: Layout) -> SlowResult:
    """Read one record (UTF-8 text without its newline) as the server would, field by field."""
    try:
        fields = parse_fields(text)
    except ValueError as exc:
        return SlowResult(
            KIND_REJECT, ("malformed_row", f"not valid CSV: {exc}"), None, None, False
        )
    if not fields or (len(fields) == 1 and not fields[0].strip()):
        return SlowResult(KIND_BLANK, None, None, None, False)
    if len(fields) > layout.n_fields:
        return SlowResult(
            KIND_REJECT,
            ("ragged_row", f"{len(fields)} fields; the header has {layout.n_fields}"),
            None,
            None,
            False,
        )
    big = [i for i, f in enumerate(fields) if len(f) > CSV_FIELD_LIMIT]
    if big:
        return SlowResult(
            KIND_REJECT,
            (
                "field_too_large",
                f"field {big[0] + 1} holds "
                f"{len(fields[big[0]])} characters; the CSV field "
                f"limit is {CSV_FIELD_LIMIT}",
            ),
            None,
            None,
            False,
        )
    email = _get(fields, layout.email)
    link = _get(fields, layout.linkedin)
    named = bool(_get(fields, layout.full_name)) or bool(
        _get(fields, layout.first_name) and _get(fields, layout.last_name)
    )
    company = bool(_get(fields, layout.company_name) or _get(fields, layout.company_domain))
    return SlowResult(
        KIND_DATA,
        None,
        norm_email(email) if email else None,
        norm_linkedin(link) if link else None,
        bool(email or link or (named and company)),
    )
