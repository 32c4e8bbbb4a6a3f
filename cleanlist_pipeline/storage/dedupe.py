"""Compact "seen this lead_id?" table for snapshots of any size.

Cursors over a list that changes while it is read may hand the same lead out twice, so a snapshot
keeps the first occurrence of each ``lead_id``. A Python ``set`` of the id strings costs ~100 B per
lead (150 MB at a million); this table keeps a 64-bit hash per lead instead:

* a sorted ``numpy.int64`` array (8 B/lead) checked with a vectorised ``searchsorted``;
* a small Python ``set`` of the hashes admitted since the last merge (plus the same hashes as
  per-page arrays), folded into the array once it holds ``merge_at`` entries (the concatenation
  of two sorted runs re-sorts in linear time).

The hash is Python's built-in ``hash(str)``: SipHash with a per-process random key, computed in C
and cached on the string. The table lives for one snapshot write in one process, so the per-process
key is no drawback, and being keyed means no input can be crafted to collide. Two distinct ids
share a hash with probability ≈ n²/2⁶⁵ (3·10⁻⁸ for a million leads); such a lead would be counted
as a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


class LeadIdDeduper:
    """Admit each id once across all pages.

    >>> d = LeadIdDeduper()
    >>> d.admit(["a", "b"]) is None          # all new: nothing to filter
    True
    >>> d.admit(["b", "c", "c"]).tolist()   # keep-mask: "b" seen, second "c" repeats
    [False, True, False]
    >>> d.duplicates
    2
    """

    def __init__(self, merge_at: int = 65_536) -> None:
        self._sorted: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._recent_arrays: list[npt.NDArray[np.int64]] = []
        self._recent: set[int] = set()
        self._merge_at = merge_at
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def admit(self, ids: Sequence[object]) -> npt.NDArray[np.bool_] | None:
        """Record ``ids``; return ``None`` if all were new, else a keep-mask (first occurrences)."""
        n = len(ids)
        if n == 0:
            return None
        hashes = list(map(hash, ids))
        page = np.fromiter(hashes, dtype=np.int64, count=n)
        in_sorted = self._in_sorted(page)
        recent = self._recent
        keep: npt.NDArray[np.bool_] | None = None
        if not in_sorted.any() and recent.isdisjoint(hashes):
            before = len(recent)
            recent.update(hashes)
            if len(recent) - before != n:  # repeats inside this page
                keep = np.ones(n, dtype=np.bool_)
                page_seen: set[int] = set()
                for i, h in enumerate(hashes):
                    if h in page_seen:
                        keep[i] = False
                    else:
                        page_seen.add(h)
        else:
            keep = ~in_sorted
            for i, h in enumerate(hashes):
                if keep[i]:
                    if h in recent:
                        keep[i] = False
                    else:
                        recent.add(h)
        if keep is None:
            self._recent_arrays.append(page)
        else:
            self.duplicates += n - int(keep.sum())
            self._recent_arrays.append(page[keep])
        if len(recent) >= self._merge_at:
            self._merge()
        return keep

    def _in_sorted(self, hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        table = self._sorted
        if len(table) == 0:
            return np.zeros(len(hashes), dtype=np.bool_)
        idx = np.searchsorted(table, hashes)
        np.minimum(idx, len(table) - 1, out=idx)
        return table[idx] == hashes

    def _merge(self) -> None:
        fresh = np.concatenate(self._recent_arrays)
        fresh.sort()
        # Timsort ("stable") finds the two sorted runs and merges them in linear time.
        self._sorted = np.sort(np.concatenate((self._sorted, fresh)), kind="stable")
        self._recent = set()
        self._recent_arrays = []
        # Grow the merge threshold with the table so merges stay amortised O(1) per id while
        # the Python set (≈ 60 B/entry) stays a small fraction of the 8 B/entry array.
        self._merge_at = max(self._merge_at, len(self._sorted) // 8)
