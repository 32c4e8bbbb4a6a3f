"""Property: the chunks carry exactly the source's records minus the removed ones, within caps.

The oracle is ``csv.reader`` over the whole file plus contract section 9 applied to parsed rows
(tests/ingest/oracle.py), never the implementation's own boundary rule.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cleanlist_pipeline.ingest import plan_file, read_chunk
from cleanlist_pipeline.ingest import reader as reader_mod
from tests.ingest.conftest import chunk_rows
from tests.ingest.oracle import expected

# Bounded for the shared test machine; INGEST_PROPERTY_EXAMPLES=1000 for a deeper run.
EXAMPLES = int(os.environ.get("INGEST_PROPERTY_EXAMPLES", "150"))
TOKENS = ["a", "b", "Zo", " ", ",", '"', "\n", "\r\n", "é", "€", "日本", "x" * 9, "\r,"]
EMAILS = ["ann@x.com", " ANN@x.com", "bob@y.org", "", "", "cy@z.net", "é@ü.de", "Bob@Y.org "]
# word-sized and long keys (the key hash works on 8-byte words; over 64 bytes in another group)
EMAILS += ["abc@x.io", "ABC@X.io", "a" * 70 + "@X.com", "A" * 70 + "@x.COM", "a" * 71 + "@x.com"]
LINKS = [
    "https://www.linkedin.com/in/a/",
    "linkedin.com/in/A",
    "http://linkedin.com/in/b//",
    "",
    "",
    "www.linkedin.com/in/c",
    "https://http://x",
    "HTTP://WWW.LinkedIn.com/in/A",
    "https://www.",
    "http://www.linkedin.com/in/b",
    "WwW.linkedin.com/in/c///",
    "http:/linkedin.com/in/a",
]
NAMES = [
    "",
    "",
    "Ann",
    "Bob",
    "José",
    ' "Q" ',
    "  ",
    "Łukasz",
    "\u00a0",
    "\u3000",
    "\u3000Li",
    "\u2003",
    "\u0085",
]
COLUMNS = ["email", "linkedin", "first", "last", "company", "notes"]
MAPPING = {
    "email": "email",
    "linkedin_url": "linkedin",
    "first_name": "first",
    "last_name": "last",
    "company_name": "company",
}

free_text = st.lists(st.sampled_from(TOKENS), max_size=6).map("".join)
# Unquoted fields with quotes in the middle: legal for csv.reader, not RFC 4180 (exact path).
stray = st.lists(st.sampled_from(["a", 'b"', "c", "é"]), min_size=1, max_size=4).map("".join)


@st.composite
def drops(draw: st.DrawFn) -> tuple[bytes, str]:
    cols = draw(st.permutations(COLUMNS))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    stray_quotes = draw(st.booleans()) and draw(st.booleans())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(cols)
    for _ in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(["row"] * 8 + ["blank", "spaces", "ragged", "short"]))
        if kind == "blank":
            buf.write(newline)
            continue
        if kind == "spaces":
            buf.write("  " + newline)
            continue
        values = {
            "email": draw(st.sampled_from(EMAILS)),
            "linkedin": draw(st.sampled_from(LINKS)),
            "first": draw(st.sampled_from(NAMES)),
            "last": draw(st.sampled_from(NAMES)),
            "company": draw(st.sampled_from(["", "Acme, Inc.", "Globex"])),
            "notes": draw(free_text),
        }
        row = [values[c] for c in cols]
        if kind == "ragged":
            row += draw(st.lists(free_text, min_size=1, max_size=2))
        elif kind == "short":
            row = row[: draw(st.integers(1, len(row) - 1))]
        ni = cols.index("notes")
        if stray_quotes and ni < len(row) and draw(st.booleans()):
            row[ni] = draw(stray)
            if all(i == ni or not any(ch in v for ch in ',"\r\n') for i, v in enumerate(row)):
                buf.write(",".join(row) + newline)
                continue
        w.writerow(row)
    text = buf.getvalue()
    if draw(st.booleans()) and text.endswith(newline) and not text.endswith(newline * 2):
        text = text[: -len(newline)]
    bom = draw(st.booleans())
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    return data, ("utf-8-sig" if bom else "utf-8")


@pytest.mark.parametrize("mode", ["fast", "exact"])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    case=drops(),
    max_bytes=st.integers(420, 1500),
    max_rows=st.integers(1, 7),
    block=st.integers(16, 400),
)
def test_chunks_carry_exactly_the_kept_records(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    case: tuple[bytes, str],
    max_bytes: int,
    max_rows: int,
    block: int,
) -> None:
    data, encoding = case
    path = tmp_path / "drop.csv"
    path.write_bytes(data)
    monkeypatch.setattr(reader_mod, "BLOCK_SIZE", block)
    if mode == "exact":

        def refuse(*_a: object, **_k: object) -> None:
            raise reader_mod.NeedsExactScan("forced by the test")

        monkeypatch.setattr(reader_mod._Fast, "scan", refuse)
    exp = expected(path, encoding, MAPPING)
    if not exp.kept and not exp.removed:
        return  # only blank lines: covered by the bad-input tests (EmptyFileError)
    plan = plan_file(path, column_mapping=MAPPING, max_bytes=max_bytes, max_rows=max_rows)
    assert plan.scan_mode == ("exact" if mode == "exact" else plan.scan_mode)

    event(f"scan={plan.scan_mode}")
    event(f"chunks>1={len(plan.chunks) > 1}")
    event(f"removed={bool(exp.removed)}")
    assert chunk_rows(path, plan) == [rec for _, rec in exp.kept]
    assert [n for c in plan.chunks for n in c.record_numbers] == [n for n, _ in exp.kept]
    assert {r.record: r.reason for r in plan.removed_and_rejected()} == exp.removed
    assert plan.predicted_skips.get("missing_required", []) == exp.missing_required
    assert plan.data_records == len(exp.kept) + len(exp.removed)
    assert len(plan.record_hashes) == plan.data_records
    for c in plan.chunks:
        body = read_chunk(path, plan, c)
        assert len(body) == c.size <= max_bytes
        assert 1 <= c.rows <= max_rows
        assert body.endswith(b"\n")
    # greedy packing: no two neighbouring chunks could have been one
    for a, b in zip(plan.chunks, plan.chunks[1:], strict=False):
        header = len(plan.header_bytes)
        assert a.rows + b.rows > max_rows or a.size + b.size - header > max_bytes
    assert plan.record_hashes.dtype == np.uint64 and np.all(plan.record_hashes != 0)
