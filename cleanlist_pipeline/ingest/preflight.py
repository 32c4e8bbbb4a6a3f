"""Pre-flight over the whole file: duplicates, predicted skips, rejects (contract section 9).

The server dedupes only within one upload, so a duplicate that lands in another chunk would import
twice: duplicates by e-mail / LinkedIn URL are removed here across the whole file, with the
server's normalisation and order (e-mail checked first; first occurrence kept; a removed row's keys
do not count). Rows the server would skip as ``missing_required`` are only *predicted*: the
server's ``skip_reasons`` stay the authority.

Memory: one 8-byte hash of the normalised key per distinct key (e-mail and LinkedIn, so about 16
bytes a record) in a few sorted numpy runs, plus two fixed 8 MB bitmaps that let most look-ups
skip the runs; never a Python set of the whole file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cleanlist_pipeline.ingest.reader import Batch
from cleanlist_pipeline.ingest.records import KIND_DATA


@dataclass(frozen=True)
class RejectedRecord:
    """A record left out of every chunk: where it is and why (no field values)."""

    record: int  # CSV record number, header = 1
    line: int  # physical line of its first byte
    reason: str  # duplicate_email | duplicate_linkedin | ragged_row | field_too_large | …
    detail: str
    start: int  # source byte range
    end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RejectedRecord:
        return cls(**d)


class KeySet:
    """A growing set of uint64 key hashes: sorted runs (log-structured) behind a bitmap.

    Callers add only keys that are not members yet (kept rows have new keys by construction),
    so runs never need de-duplicating; merging two sorted runs is a linear timsort pass. The
    bitmap (2**26 bits indexed by the hash's top bits, 8 MB) answers "certainly new" for all but
    about one key in 60 at a million members, so few keys reach the binary searches.
    """

    _BITS = 26

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []
        self._size = 0
        self._map: np.ndarray | None = None

    def __len__(self) -> int:
        return self._size

    def _slots(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        slot = keys >> np.uint64(64 - self._BITS)
        return (slot >> np.uint64(3)).astype(np.intp), (slot & np.uint64(7)).astype(np.uint8)

    def contains_sorted(self, sorted_keys: np.ndarray) -> np.ndarray:
        """Membership of ascending ``sorted_keys``."""
        hit = np.zeros(len(sorted_keys), dtype=bool)
        if self._map is None or len(sorted_keys) == 0:
            return hit
        byte, bit = self._slots(sorted_keys)
        maybe = np.flatnonzero((self._map[byte] >> bit) & 1)
        if len(maybe) == 0:
            return hit
        sub = sorted_keys[maybe]  # still ascending: searchsorted reuses its last position
        found = np.zeros(len(sub), dtype=bool)
        for run in self._runs:
            idx = np.searchsorted(run, sub)
            idx[idx == len(run)] = len(run) - 1
            found |= run[idx] == sub
        hit[maybe] = found
        return hit

    def add_sorted(self, keys: np.ndarray) -> None:
        """Add ascending keys that are not members yet."""
        if len(keys) == 0:
            return
        if self._map is None:
            self._map = np.zeros(1 << (self._BITS - 3), dtype=np.uint8)
        byte, bit = self._slots(keys)
        # keys ascending → bytes ascending: OR each byte's bits together, then one store per byte
        first = np.flatnonzero(np.concatenate(([True], byte[1:] != byte[:-1])))
        self._map[byte[first]] |= np.bitwise_or.reduceat(
            np.left_shift(1, bit, dtype=np.uint8), first
        )
        self._runs.append(keys)
        self._size += len(keys)
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            top = self._runs.pop()
            merged = np.concatenate((self._runs[-1], top))
            merged.sort(kind="stable")
            self._runs[-1] = merged


def _collisions(
    keys: np.ndarray, mask: np.ndarray, seen: KeySet
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(known, colliding) masks for ``keys[mask]``: already kept before, or repeated here; and
    those rows in key order with their sorted keys (what :meth:`KeySet.add_sorted` takes).

    One sort serves all three.
    """
    known = np.zeros(len(keys), dtype=bool)
    colliding = np.zeros(len(keys), dtype=bool)
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return known, colliding, idx, keys[idx]
    order = np.argsort(keys[idx])
    rows = idx[order]
    sk = keys[rows]
    same = sk[1:] == sk[:-1]
    rep = np.zeros(len(sk), dtype=bool)
    rep[1:] |= same
    rep[:-1] |= same
    hit = seen.contains_sorted(sk) if len(seen) else np.zeros(len(sk), dtype=bool)
    known[rows[hit]] = True
    colliding[rows[hit | rep]] = True
    return known, colliding, rows, sk


class Deduper:
    """Whole-file duplicate removal with the server's rules, batch after batch."""

    def __init__(self) -> None:
        self.emails = KeySet()
        self.links = KeySet()

    def process(self, b: Batch) -> dict[int, str]:
        """Return ``{index in batch: reason}`` for removed duplicates; remember kept keys."""
        data = b.kind == KIND_DATA
        e, link = b.email_h, b.link_h
        has_e = data & (e != 0)
        has_l = data & (link != 0)
        known_e, conflict_e, rows_e, sorted_e = _collisions(e, has_e, self.emails)
        known_l, conflict_l, rows_l, sorted_l = _collisions(link, has_l, self.links)
        conflict = conflict_e | conflict_l
        removed: dict[int, str] = {}
        # Only rows whose keys collide need the sequential rule; the rest are kept as a block.
        seen_e: set[int] = set()
        seen_l: set[int] = set()
        for i in np.flatnonzero(conflict).tolist():
            ei, li = int(e[i]), int(link[i])
            if ei and (known_e[i] or ei in seen_e):
                removed[i] = "duplicate_email"
            elif li and (known_l[i] or li in seen_l):
                removed[i] = "duplicate_linkedin"
            else:
                if ei:
                    seen_e.add(ei)
                if li:
                    seen_l.add(li)
        if removed:
            keep = data.copy()
            keep[list(removed)] = False
            sorted_e = sorted_e[keep[rows_e]]
            sorted_l = sorted_l[keep[rows_l]]
        self.emails.add_sorted(sorted_e)
        self.links.add_sorted(sorted_l)
        return removed
