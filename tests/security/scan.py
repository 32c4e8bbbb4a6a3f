"""Byte-level search of everything a deployment keeps, for canary secrets and personal data.

A secret can hide in more shapes than its plain text: base64 (in HTTP Basic auth, pickles,
JSON-encoded bytes), where the encoding depends on the secret's offset inside the encoded blob
(three alignments), URL-safe base64, percent-encoding, JSON escaping, UTF-16 (Windows tools,
some SQLite text). ``forms_of`` lists them all; ``scan_files`` searches raw bytes, and also the
decoded contents of SQLite databases (pages may hold a value split by an overflow boundary —
reading the rows back through SQLite avoids that blind spot) and Parquet files (compressed).
"""

from __future__ import annotations

import base64
import json
import sqlite3
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Hit", "forms_of", "scan_files", "scan_text"]


def _b64_alignments(secret: bytes, encode: object) -> list[bytes]:
    """The base64 of ``secret`` at each of the 3 offsets inside a longer encoded blob.

    Characters touched by neighbouring bytes are cut off, so what remains is exactly what any
    encoding of ``...secret...`` must contain.
    """
    out = []
    for pad in range(3):
        encoded = encode(b"\0" * pad + secret)  # type: ignore[operator]
        start = {0: 0, 1: 2, 2: 3}[pad]
        tail = (pad + len(secret)) % 3
        end = len(encoded.rstrip(b"=")) - (1 if tail else 0)
        out.append(encoded[start:end])
    return out


def forms_of(secret: str, name: str = "secret") -> dict[str, bytes]:
    """Encodings of ``secret`` to look for (name → bytes)."""
    raw = secret.encode("utf-8")
    forms: dict[str, bytes] = {f"{name}": raw}
    for i, chunk in enumerate(_b64_alignments(raw, base64.b64encode)):
        forms[f"{name} base64[{i}]"] = chunk
    for i, chunk in enumerate(_b64_alignments(raw, base64.urlsafe_b64encode)):
        forms[f"{name} urlsafe-base64[{i}]"] = chunk
    quoted = urllib.parse.quote(secret, safe="").encode()
    if quoted != raw:
        forms[f"{name} percent-encoded"] = quoted
    escaped = json.dumps(secret).strip('"').encode()
    if escaped != raw:
        forms[f"{name} json-escaped"] = escaped
    forms[f"{name} utf-16le"] = secret.encode("utf-16-le")
    forms[f"{name} hex"] = raw.hex().encode()
    return {k: v for k, v in forms.items() if len(v) >= 8}


@dataclass(frozen=True)
class Hit:
    """Where a needle was found."""

    path: str
    needle: str
    where: str

    def __str__(self) -> str:
        return f"{self.needle} in {self.path} ({self.where})"


def scan_text(data: bytes, needles: Mapping[str, bytes], path: str, where: str) -> list[Hit]:
    """Case-sensitive search of ``data`` for each needle (and case-folded for plain text)."""
    hits = []
    lowered = data.lower()
    for name, needle in needles.items():
        if needle in data or ("base64" not in name and needle.lower() in lowered):
            hits.append(Hit(path, name, where))
    return hits


def _sqlite_rows(path: Path) -> Iterable[bytes]:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        yield value
                    elif value is not None:
                        yield str(value).encode("utf-8", "surrogatepass")
    except sqlite3.Error:
        return
    finally:
        conn.close()


def _parquet_text(path: Path) -> bytes:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return json.dumps(table.to_pylist(), default=str).encode()


def scan_files(files: Iterable[Path], needles: Mapping[str, bytes]) -> tuple[list[Hit], int, int]:
    """Search every file's bytes (and decoded SQLite rows / Parquet values).

    Returns ``(hits, files_scanned, bytes_scanned)`` so a test can also prove it looked.
    """
    hits: list[Hit] = []
    count = total = 0
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        count += 1
        total += len(data)
        hits += scan_text(data, needles, str(path), "raw bytes")
        if data.startswith(b"SQLite format 3\0"):
            blob = b"\n".join(_sqlite_rows(path))
            hits += scan_text(blob, needles, str(path), "sqlite rows")
        elif data[:4] == b"PAR1":
            hits += scan_text(_parquet_text(path), needles, str(path), "parquet values")
    return hits, count, total
