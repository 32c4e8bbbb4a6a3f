"""Leads handed out twice (cursors shifting while the list changes) are written once."""

from __future__ import annotations

import random
from datetime import datetime

import numpy as np
import pyarrow.parquet as pq
import pytest

from cleanlist_pipeline.storage import LeadIdDeduper, write_leads_snapshot
from cleanlist_pipeline.storage.dedupe import hash_ids

from .conftest import make_lead


def test_repeats_across_and_within_pages_keep_the_first(root: str, snapshot_at: datetime) -> None:
    pages = [
        [make_lead(0), make_lead(1), make_lead(2)],
        [make_lead(2), make_lead(3)],  # page boundary shifted: lead 2 again
        [make_lead(4), make_lead(4), make_lead(0)],  # in-page repeat, and a very old one
    ]
    result = write_leads_snapshot(pages, root, "lst_1", snapshot_at)
    ids = pq.read_table(result.path).column("lead_id").to_pylist()
    assert ids == [f"ld_{i:06d}" for i in range(5)]
    assert result.rows == 5 and result.duplicates_dropped == 3


def test_all_duplicate_page_adds_nothing(root: str, snapshot_at: datetime) -> None:
    page = [make_lead(i) for i in range(4)]
    result = write_leads_snapshot([page, list(page)], root, "lst_1", snapshot_at)
    assert result.rows == 4 and result.duplicates_dropped == 4


@pytest.mark.parametrize("merge_at", [7, 1000])
def test_deduper_matches_a_plain_set(merge_at: int) -> None:
    rng = random.Random(merge_at)
    universe = [f"ld_{rng.getrandbits(40):x}" for _ in range(3000)]
    deduper = LeadIdDeduper(merge_at=merge_at)
    seen: set[str] = set()
    for _ in range(60):
        page = [rng.choice(universe) for _ in range(rng.randrange(0, 120))]
        keep = deduper.admit(page)
        expected = []
        for lead_id in page:
            expected.append(lead_id not in seen)
            seen.add(lead_id)
        got = [True] * len(page) if keep is None else keep.tolist()
        assert got == expected
    assert len(deduper) == len(seen)


def test_deduper_table_is_compact() -> None:
    deduper = LeadIdDeduper()
    for start in range(0, 200_000, 500):
        deduper.admit([f"ld_{i}" for i in range(start, start + 500)])
    assert len(deduper) == 200_000 and deduper.duplicates == 0
    table_bytes = deduper._sorted.nbytes
    # 8 bytes per id, most in the large sorted array; the recent one holds at most an eighth.
    assert table_bytes + deduper._recent.nbytes == 8 * 200_000
    assert len(deduper._recent) <= max(65_536, 200_000 // 8)
    assert np.all(np.diff(deduper._sorted) > 0) and np.all(np.diff(deduper._recent) > 0)


def test_one_large_batch_matches_page_by_page() -> None:
    rng = random.Random(5)
    ids = [f"ld_{rng.randrange(40_000)}" for _ in range(60_000)]  # about a third repeat
    whole = LeadIdDeduper(merge_at=1000)
    keep = whole.admit_hashes(hash_ids(ids, len(ids)))
    paged = LeadIdDeduper(merge_at=1000)
    masks = [paged.admit(ids[i : i + 500]) for i in range(0, len(ids), 500)]
    expected = np.concatenate([np.ones(500, bool) if m is None else m for m in masks])
    assert keep is not None and keep.tolist() == expected.tolist()
    assert whole.duplicates == paged.duplicates == len(ids) - len(set(ids))
