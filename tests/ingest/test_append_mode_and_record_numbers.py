"""Append mode (records imported before are left out) and record numbers as the server counts."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cleanlist_pipeline.ingest import plan_file, read_chunk
from tests.ingest.conftest import chunk_rows

Drop = Callable[..., Path]
MAP = {"email": "email", "full_name": "name", "company_name": "company"}


def test_append_mode_sends_only_new_records(drop: Drop) -> None:
    first = "email,name,company\n" + "".join(f"u{i}@x.com,N{i},C\n" for i in range(5))
    p = drop(first)
    v1 = plan_file(p, column_mapping=MAP)
    p.write_text(first + "u9@x.com,New,C\n,Old Name,C\nu2@x.com,Again,C\n")
    v2 = plan_file(p, column_mapping=MAP, seen_record_hashes=v1.record_hashes)
    assert [r[0] for r in chunk_rows(p, v2)] == ["u9@x.com", ""]
    assert v2.already_imported == [(2, 6)]
    assert [(r.record, r.reason) for r in v2.removed_duplicates] == [(9, "duplicate_email")]
    assert len(v2.record_hashes) == 8


def test_record_hashes_ignore_line_endings_and_are_stable_across_processes(drop: Drop) -> None:
    lf = drop('email,name,company\na@x.com,"A\nB",C\nb@x.com,D,E\n', name="lf.csv")
    crlf = drop('email,name,company\r\na@x.com,"A\nB",C\r\nb@x.com,D,E\r\n', name="crlf.csv")
    h_lf = plan_file(lf, column_mapping=MAP).record_hashes
    assert list(h_lf) == list(plan_file(crlf, column_mapping=MAP).record_hashes)
    code = (
        "import sys; from cleanlist_pipeline.ingest import plan_file;"
        "print(plan_file(sys.argv[1], column_mapping={'email': 'email'}).record_hashes.tolist())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(lf)], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == str(h_lf.tolist())
    assert h_lf.dtype == np.uint64


def _server_rows(chunk: bytes) -> list[tuple[int, list[str]]]:
    """Rows as the server numbers them in one upload: header = 1, blank lines take a number."""
    recs = list(csv.reader(io.StringIO(chunk.decode(), newline="")))
    return [
        (n, r)
        for n, r in enumerate(recs[1:], start=2)
        if r and not (len(r) == 1 and not r[0].strip())
    ]


def test_server_row_numbers_map_back_to_source_records(drop: Drop) -> None:
    lines = ["email,name,company"]
    for i in range(30):
        lines.append(
            f'u{i}@x.com,"N{i}\nsecond line",C'
            if i % 4 == 0
            else ("" if i % 7 == 0 else f"u{i}@x.com,N{i},C")
        )
        if i % 5 == 0:
            lines.append("u1@x.com,dup,C")
    p = drop("\n".join(lines) + "\n")
    plan = plan_file(p, column_mapping=MAP, max_rows=4)
    source = list(csv.reader(io.StringIO(p.read_text(), newline="")))
    for c in plan.chunks:
        for server_row, rec in _server_rows(read_chunk(p, plan, c)):
            assert source[c.source_record(server_row) - 1] == rec
        assert c.source_records([2]) == [c.record_numbers[0]]
    excluded = {n for c in plan.chunks for n in c.excluded_records}
    assert excluded <= {r.record for r in plan.removed_duplicates} | {
        n for n, rec in enumerate(source, start=1) if not rec
    }


def test_lines_and_records_differ_after_multiline_fields(drop: Drop) -> None:
    p = drop('email,name,company\na@x.com,"A\nB\nC",X\n\nb@x.com,B,X,ragged\n')
    plan = plan_file(p, column_mapping=MAP)
    (rej,) = plan.rejects
    assert (rej.record, rej.line) == (4, 6)
    assert plan.blank_records == 1
