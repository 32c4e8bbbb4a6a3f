"""Compact "seen this lead_id?" table for snapshots of any size.

Cursors over a list that changes while it is read may hand the same lead out twice, so a snapshot
keeps the first occurrence of each ``lead_id``. A Python ``set`` of the id strings costs ~100 B per
lead (150 MB at a million); this table keeps a 64-bit hash per lead in two sorted ``numpy.int64``
arrays (8 B/lead), checked with vectorised ``searchsorted``:

* a large array of everything admitted before the last fold;
* a small one of the hashes admitted since (at most 1/8 of the large one, or ``merge_at``), folded
  into the large one when it outgrows that (two sorted runs merge in linear time), so a batch costs
  O(batch · log n + recent) and the folds stay amortised O(1) per id.

Batches are cheapest large: the snapshot builder admits a whole row group (50,000 ids) at a time,
about 0.1 µs per id at a million ids; ``admit`` per page of 500 works too, only slower.

The hash is Python's built-in ``hash(str)``: SipHash with a per-process random key, computed in C
and cached on the string. The table lives for one snapshot write in one process, so the per-process
key is no drawback, and being keyed means no input can be crafted to collide. Two distinct ids
share a hash with probability ≈ n²/2⁶⁵ (3·10⁻⁸ for a million leads); such a lead would be counted
as a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

Hashes = npt.NDArray[np.int64]


def hash_ids(ids: Iterable[object], count: int) -> Hashes:
    """The 64-bit keyed hashes of ``count`` ids, as ``LeadIdDeduper.admit_hashes`` takes them."""
    return np.fromiter(map(hash, ids), dtype=np.int64, count=count)


class LeadIdDeduper:
    """Admit each id once across all batches.

    >>> d = LeadIdDeduper()
    >>> d.admit(["a", "b"]) is None          # all new: nothing to filter
    True
    >>> d.admit(["b", "c", "c"]).tolist()   # keep-mask: "b" seen, second "c" repeats
    [False, True, False]
    >>> d.duplicates
    2
    """

    def __init__(self, merge_at: int = 65_536) -> None:
        self._sorted: Hashes = np.empty(0, dtype=np.int64)
        self._recent: Hashes = np.empty(0, dtype=np.int64)
        self._merge_at = merge_at
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def admit(self, ids: Iterable[object]) -> npt.NDArray[np.bool_] | None:
        """Record ``ids``; return ``None`` if all were new, else a keep-mask (first occurrences)."""
        ids = ids if isinstance(ids, list | tuple) else list(ids)
        return self.admit_hashes(hash_ids(ids, len(ids)))

    def admit_hashes(self, hashes: Hashes) -> npt.NDArray[np.bool_] | None:
        """``admit`` for ids already hashed with ``hash_ids`` (one vectorised pass per batch)."""
        n = len(hashes)
        if n == 0:
            return None
        # Sorted unique hashes with the index of each one's first occurrence in the batch.
        unique, first = np.unique(hashes, return_index=True)
        fresh = ~(_contains(self._sorted, unique) | _contains(self._recent, unique))
        if len(unique) == n and fresh.all():
            keep = None
            new = unique
        else:
            keep = np.zeros(n, dtype=np.bool_)
            keep[first[fresh]] = True
            new = unique[fresh]
            self.duplicates += n - len(new)
        if len(new):
            self._recent = _merge_sorted(self._recent, new)
        if len(self._recent) >= max(self._merge_at, len(self._sorted) // 8):
            self._sorted = _merge_sorted(self._sorted, self._recent)
            self._recent = np.empty(0, dtype=np.int64)
        return keep


def _contains(table: Hashes, needles: Hashes) -> npt.NDArray[np.bool_]:
    if len(table) == 0:
        return np.zeros(len(needles), dtype=np.bool_)
    idx = np.searchsorted(table, needles)
    np.minimum(idx, len(table) - 1, out=idx)
    return table[idx] == needles  # type: ignore[no-any-return]


def _merge_sorted(a: Hashes, b: Hashes) -> Hashes:
    if len(a) == 0:
        return b
    # Timsort ("stable") finds the two sorted runs and merges them in linear time.
    return np.sort(np.concatenate((a, b)), kind="stable")
