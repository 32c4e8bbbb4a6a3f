"""Encoding pre-pass: decide how a drop's bytes decode, before anything is sent anywhere.

Order of preference: UTF-8 (with or without BOM), else the configured encoding, else Windows-1252.
The API accepts UTF-8 only, so anything else is transcoded chunk by chunk; the decision is recorded
in the plan. Windows-1252 leaves five bytes undefined (0x81 0x8D 0x8F 0x90 0x9D): those, like any
byte no candidate decodes, stop the plan with the byte offset and line.

Only ASCII-compatible encodings are accepted, because record boundaries are found by scanning raw
bytes for quotes, commas and newlines (UTF-16/32 would need the whole file transcoded first).
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cleanlist_pipeline.ingest.errors import EmptyFileError, EncodingError, NotCSVError
from cleanlist_pipeline.ingest.identity import FileIdentity, file_identity, open_regular

UTF8_BOM = b"\xef\xbb\xbf"
FALLBACK_ENCODING = "cp1252"
_BLOCK = 4 * 1024 * 1024

# Leading bytes of formats people rename to .csv by mistake.
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed", "decompress it (gunzip) and drop the .csv inside"),
    (
        b"PK\x03\x04",
        "a ZIP archive (or an .xlsx workbook)",
        "unzip it, or export the sheet as CSV (UTF-8)",
    ),
    (b"\xd0\xcf\x11\xe0", "an old Excel/OLE document", "export the sheet as CSV (UTF-8)"),
    (b"BZh", "bzip2-compressed", "decompress it and drop the .csv inside"),
    (b"\xfd7zXZ\x00", "xz-compressed", "decompress it and drop the .csv inside"),
    (b"PAR1", "a Parquet file", "export it as CSV (UTF-8)"),
    (b"\xff\xfe", "UTF-16 (little-endian BOM)", "re-save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 (big-endian BOM)", "re-save it as UTF-8"),
)


@dataclass(frozen=True)
class EncodingDecision:
    """How the source bytes decode. ``transcoded``: chunks are re-encoded to UTF-8."""

    name: str
    had_bom: bool
    transcoded: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EncodingDecision:
        return cls(
            name=d["name"],
            had_bom=bool(d["had_bom"]),
            transcoded=bool(d["transcoded"]),
            reason=d.get("reason", ""),
        )


@dataclass(frozen=True)
class SourceFacts:
    """What the pre-pass learnt about the file besides its encoding.

    ``split_points``: offsets just after a newline with an even number of quotes before it,
    about every ``segment_bytes`` — record boundaries for parallel scanning (valid for RFC 4180
    quoting; the scanners verify that and fall back if it does not hold). ``identity``: the file
    every later open must find (``ingest.identity``), None for no check beyond ``O_NOFOLLOW``.
    """

    encoding: EncodingDecision
    size: int
    split_points: tuple[int, ...] = ()
    identity: FileIdentity | None = None


def to_utf8(data: bytes, decision: EncodingDecision) -> bytes:
    """Re-encode source bytes (cut at record boundaries) as UTF-8; identity for UTF-8 sources."""
    if not decision.transcoded:
        return data
    return data.decode(decision.name).encode("utf-8")


def _last_ascii(data: bytes) -> int:
    """Index of the last byte < 0x80, or -1 (a UTF-8 sequence can be cut only after one)."""
    for i in range(len(data) - 1, max(len(data) - 64, -1), -1):
        if data[i] < 0x80:
            return i
    return max(data.rfind(b"\n"), data.rfind(b","), data.rfind(b" "))


def line_of_offset(path: str | Path, offset: int, identity: FileIdentity | None = None) -> int:
    """1-based physical line holding byte ``offset`` (counts ``\\n`` before it)."""
    line = 1
    left = offset
    with open_regular(path, identity) as f:
        while left > 0:
            block = f.read(min(_BLOCK, left))
            if not block:
                break
            line += block.count(b"\n")
            left -= len(block)
    return line


def _check_encoding_name(path: str | Path, name: str) -> str:
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        raise EncodingError(
            path,
            f"unknown encoding {name!r}",
            "configure a Python codec name such as 'latin-1' or 'cp1252'",
            offset=0,
            line=1,
        ) from None
    ascii_bytes = bytes(range(1, 128))
    try:
        ok = ascii_bytes.decode(canonical) == ascii_bytes.decode("ascii")
    except UnicodeDecodeError:
        ok = False
    if not ok:
        raise EncodingError(
            path,
            f"encoding {name!r} is not ASCII-compatible",
            "re-save the file as UTF-8 (UTF-16/32 and stateful encodings are not supported)",
            offset=0,
            line=1,
        )
    return canonical


def _first_bad(
    path: str | Path, encoding: str, start: int, identity: FileIdentity | None = None
) -> tuple[int, bytes] | None:
    """Offset and bytes of the first sequence ``encoding`` cannot decode, or None."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    base = start
    with open_regular(path, identity) as f:
        f.seek(start)
        while True:
            block = f.read(_BLOCK)
            final = not block
            try:
                decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                pending = len(decoder.getstate()[0]) if hasattr(decoder, "getstate") else 0
                at = base - pending + exc.start
                return at, exc.object[exc.start : exc.end]
            if final:
                return None
            base += len(block)


def utf8_valid(data: bytes, end: int | None = None) -> bool:
    """True when ``data[:end]`` is valid UTF-8 (``end`` right after an ASCII byte, or at EOF).

    Multi-byte sequences never contain ASCII bytes, so only the runs of bytes >= 0x80 need
    checking: they are gathered, separated by an ASCII byte, and decoded together. On mostly
    ASCII text this is several times cheaper than decoding the whole buffer.
    """
    if data.isascii():
        return True
    w = np.frombuffer(data, dtype=np.uint8)
    hi = np.flatnonzero(w >= 0x80)
    if end is not None:
        hi = hi[: np.searchsorted(hi, end)]
    if len(hi) == 0:
        return True
    runs = np.flatnonzero(np.diff(hi) != 1) + 1
    packed = np.insert(w[hi], runs, 0x61)
    try:
        packed.tobytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _even_newline_after(block: bytes, lo: int, quotes_before: int) -> int | None:
    """First index after ``lo`` just past a newline that has an even number of quotes before."""
    w = np.frombuffer(block, dtype=np.uint8)
    nl = np.flatnonzero(w[lo:] == 0x0A) + lo
    if len(nl) == 0:
        return None
    q = np.flatnonzero(w == 0x22)
    even = nl[((quotes_before + np.searchsorted(q, nl)) & 1) == 0]
    return int(even[0]) + 1 if len(even) else None


def sha256_file(path: str | Path, identity: FileIdentity | None = None) -> str:
    """Hex sha256 of a file's bytes (``hashlib`` releases the GIL: fine to run on a thread).

    Never through a symlink; with ``identity``, only that very file (``ingest.identity``)."""
    with open_regular(path, identity) as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def detect(
    path: str | Path,
    configured: str | None = None,
    segment_bytes: int | None = None,
    identity: FileIdentity | None = None,
) -> SourceFacts:
    """Read the whole file once: refuse binary content, pick the encoding.

    The file's sha256 is :func:`sha256_file`'s job (``plan_file`` runs both on threads).
    ``identity`` (default: the file's own, taken now) is checked at every open and carried in
    the result for the reads that follow.

    >>> detect("drop.csv").encoding.name  # doctest: +SKIP
    'utf-8'
    """
    size = 0
    head = b""
    nul_at: int | None = None
    utf8_ok = True
    pending = b""  # bytes after the last ASCII byte: a sequence may continue in the next block
    points: list[int] = []
    quotes = 0
    target = segment_bytes or 0
    identity = identity or file_identity(path)
    with open_regular(path, identity) as f:
        while True:
            block = f.read(_BLOCK)
            if not block:
                break
            if size == 0:
                head = block[:8]
            if nul_at is None:
                i = block.find(b"\x00")
                if i >= 0:
                    nul_at = size + i
            if utf8_ok:
                data = pending + block if pending else block
                cut = _last_ascii(data) + 1
                if cut == 0 and len(data) > _BLOCK * 4:
                    cut = len(data)  # no ASCII for 16 MB: not text; let the check fail here
                utf8_ok = utf8_valid(data, cut)
                pending = data[cut:] if cut < len(data) else b""
            while segment_bytes and size + len(block) > target:
                at = _even_newline_after(block, max(0, target - size), quotes)
                if at is None:
                    break
                points.append(size + at)
                target = size + at + segment_bytes
            if segment_bytes:
                quotes += block.count(b'"')
            size += len(block)
    if utf8_ok and pending:
        utf8_ok = utf8_valid(pending)
    if size == 0:
        raise EmptyFileError(
            path,
            "the file is empty (0 bytes)",
            "drop a CSV with a header row and at least one data row",
        )
    for magic, what, todo in _MAGIC:
        if head.startswith(magic):
            raise NotCSVError(path, f"the file is {what}, not a CSV", todo)
    if nul_at is not None:
        raise NotCSVError(
            path,
            f"NUL byte at byte offset {nul_at} (line "
            f"{line_of_offset(path, nul_at, identity)}): this is binary data, not a text CSV",
            "export the data as a plain UTF-8 CSV and drop that file",
        )
    had_bom = head.startswith(UTF8_BOM)
    if utf8_ok:
        return SourceFacts(
            EncodingDecision(
                "utf-8", had_bom, False, "valid UTF-8" + (" with BOM" if had_bom else "")
            ),
            size,
            tuple(p for p in points if p < size),
            identity,
        )
    bad = _first_bad(path, "utf-8", 0, identity)
    assert bad is not None
    utf8_at = bad[0]
    candidate = _check_encoding_name(path, configured) if configured else FALLBACK_ENCODING
    origin = "configured" if configured else "fallback"
    second = _first_bad(path, candidate, 0, identity)
    if second is not None:
        at, raw = second
        line = line_of_offset(path, at, identity)
        raise EncodingError(
            path,
            f"byte 0x{raw[:1].hex()} at byte offset {at} (line {line}) is neither UTF-8 nor "
            f"{candidate}",
            "re-save the file as UTF-8, or configure the encoding it was written in",
            offset=at,
            line=line,
        )
    reason = (
        f"not UTF-8 (first invalid byte at offset {utf8_at}, line "
        f"{line_of_offset(path, utf8_at, identity)}); decoded as {candidate} ({origin}) and "
        "transcoded to UTF-8"
    )
    return SourceFacts(
        EncodingDecision(candidate, had_bom, True, reason),
        size,
        tuple(p for p in points if p < size),
        identity,
    )
