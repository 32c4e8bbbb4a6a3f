"""The committed sample drops are what the generator makes, and show what they claim to."""

from __future__ import annotations

import csv
import importlib.util
import io
import sys
from pathlib import Path

import pytest

from cleanlist_pipeline.ingest import plan_file
from tests.ingest.conftest import chunk_rows

ROOT = Path(__file__).resolve().parents[2]
DROPS = ROOT / "sample_data" / "drops"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "sample_generate", ROOT / "sample_data" / "generate.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sample_generate"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_generator_is_deterministic_and_matches_the_committed_drops(tmp_path: Path) -> None:
    _generator().make_drops(tmp_path)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in DROPS.iterdir())
    for name in made:
        assert (tmp_path / name).read_bytes() == (DROPS / name).read_bytes(), name
    assert sum(p.stat().st_size for p in DROPS.iterdir()) < 3 * 1024 * 1024
    assert 5 <= len([n for n in made if n.endswith(".csv")]) <= 7


@pytest.mark.parametrize("path", sorted(DROPS.glob("*.csv")), ids=lambda p: p.name)
def test_every_sample_drop_plans_and_reads_back(path: Path) -> None:
    plan = plan_file(path)
    rows = chunk_rows(path, plan)
    assert len(rows) == plan.rows_planned > 0
    assert all(c.size <= plan.max_bytes and c.rows <= plan.max_rows for c in plan.chunks)


def test_samples_cover_the_awkward_cases() -> None:
    plans = {p.name: plan_file(p) for p in DROPS.glob("*.csv")}
    badges = plans["2025-02-trade-show-badges.csv"]
    assert badges.encoding.had_bom and badges.newline == "\r\n"
    partner = plans["2025-03-partner-referrals.csv"]
    assert partner.encoding.transcoded and partner.encoding.name == "cp1252"
    crm = plans["2025-04-crm-export.csv"]
    assert len(crm.chunks) >= 10 and crm.blank_records > 0
    notes = plans["2025-05-research-notes.csv"]
    assert [r.reason for r in notes.rejects] == ["row_too_large"]
    assert plans["2025-06-linkedin-scrape.csv"].mapping_source == "sidecar"
    assert {p.mapping_source for n, p in plans.items() if "linkedin" not in n} == {"inferred"}
    assert all(p.predicted_skips.get("missing_required") for p in plans.values())
    assert sum(len(p.removed_duplicates) for p in plans.values()) > 50
    webinar = (DROPS / "2025-01-acme-webinar.csv").read_text(encoding="utf-8")
    assert '"Acme, Inc."' in webinar and any(ord(ch) > 127 for ch in webinar)
    crm_text = (DROPS / "2025-04-crm-export.csv").read_text(encoding="utf-8")
    assert '"Two bullet points:\n- budget approved\n- needs SSO"' in crm_text


def test_some_emails_repeat_across_drops() -> None:
    seen: dict[str, set[str]] = {}
    # one sample drop holds a field over csv's default limit (on purpose): read past it here
    limit = csv.field_size_limit(1 << 24)
    try:
        texts = {
            p: (
                p.read_bytes().decode("cp1252")
                if "partner" in p.name
                else p.read_bytes().decode("utf-8-sig")
            )
            for p in DROPS.glob("*.csv")
        }
        rows = {p: list(csv.reader(io.StringIO(t, newline=""))) for p, t in texts.items()}
    finally:
        csv.field_size_limit(limit)
    for p, recs in rows.items():
        col = next((i for i, h in enumerate(recs[0]) if "mail" in h.lower()), None)
        if col is None:
            continue
        for r in recs[1:]:
            if len(r) > col and r[col].strip():
                seen.setdefault(r[col].strip().lower(), set()).add(p.name)
    assert sum(1 for files in seen.values() if len(files) > 1) >= 5
