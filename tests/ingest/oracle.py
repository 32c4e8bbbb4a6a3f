"""An independent reading of a drop with the standard ``csv`` module, for comparison.

It applies contract section 9 directly to fully parsed records (the way a Python server would),
sharing no code with ``cleanlist_pipeline.ingest``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path


def _blank(rec: list[str]) -> bool:
    return not rec or (len(rec) == 1 and not rec[0].strip())


def _li(url: str) -> str:
    u = url.strip().lower()
    for scheme in ("https://", "http://"):
        if u.startswith(scheme):
            u = u[len(scheme) :]
            break
    if u.startswith("www."):
        u = u[4:]
    return u.rstrip("/")


@dataclass
class Expected:
    header: list[str]
    kept: list[tuple[int, list[str]]] = field(default_factory=list)  # (record number, fields)
    removed: dict[int, str] = field(default_factory=dict)  # record number → reason
    blank: list[int] = field(default_factory=list)
    missing_required: list[int] = field(default_factory=list)


def read_records(text: str) -> list[list[str]]:
    csv.field_size_limit(1 << 30)
    return list(csv.reader(io.StringIO(text, newline="")))


def expected(path: Path, encoding: str, mapping: dict[str, str]) -> Expected:
    """What a correct plan keeps and removes, by record number (header = 1)."""
    text = Path(path).read_bytes().decode(encoding)
    text = text.removeprefix("\ufeff")
    recs = read_records(text)
    header = recs[0]
    idx = {f: [h.strip() for h in header].index(h.strip()) for f, h in mapping.items()}
    out = Expected(header)
    emails: set[str] = set()
    links: set[str] = set()

    def get(rec: list[str], f: str) -> str:
        i = idx.get(f)
        return rec[i].strip() if i is not None and i < len(rec) else ""

    for n, rec in enumerate(recs[1:], start=2):
        if _blank(rec):
            out.blank.append(n)
            continue
        if len(rec) > len(header):
            out.removed[n] = "ragged_row"
            continue
        email, link = get(rec, "email"), get(rec, "linkedin_url")
        if email and email.lower() in emails:
            out.removed[n] = "duplicate_email"
            continue
        if link and _li(link) in links:
            out.removed[n] = "duplicate_linkedin"
            continue
        if email:
            emails.add(email.lower())
        if link:
            links.add(_li(link))
        named = get(rec, "full_name") or (get(rec, "first_name") and get(rec, "last_name"))
        company = get(rec, "company_name") or get(rec, "company_domain")
        if not (email or link or (named and company)):
            out.missing_required.append(n)
        out.kept.append((n, rec))
    return out
