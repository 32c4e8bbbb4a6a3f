"""Hostile drops are refused (or their one bad record rejected) in bounded time and memory.

Each file is planned in a child process (``plan_in_child.py``) that reports its own peak RSS, so
the figure is the planning's alone. Bounds: 30 s wall time and 256 MB peak RSS per file, for
files of hundreds of megabytes. The error must name the file and say what to do. Before the
bounds, a file without a line break was read whole to find the end of its header row, and a long
record grew the buffer to 128 MB with 8 bytes of offsets per comma in it.

The last test runs a hostile drop through Dagster into a list that already holds rows: the run
fails with the same message and the list keeps exactly its rows.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability.harness import csv_bytes, find_list, lead_rows
from reliability.inprocess import InProcessDeployment

from cleanlist_pipeline.ingest.plan import HEADER_MAX_BYTES
from cleanlist_pipeline.ingest.reader import MAX_PENDING
from cleanlist_pipeline.testing import SandboxHandle

pytestmark = pytest.mark.slow

MB = 1024 * 1024
CHILD = Path(__file__).with_name("plan_in_child.py")
MAX_SECONDS = 30
MAX_RSS_MB = 256
HEADER = b"email,name\n"
GOOD = b"ann@example.com,Ann\nbob@example.com,Bob\n"


def _write(path: Path, head: bytes, block: bytes, size: int, tail: bytes = b"") -> Path:
    """``head``, then ``block`` repeated up to ``size`` bytes in all, then ``tail``."""
    with open(path, "wb") as f:
        f.write(head)
        left = size - len(head)
        while left > 0:
            f.write(block[:left])
            left -= len(block)
        f.write(tail)
    return path


def _repeat(unit: bytes, size: int = 8 * MB) -> bytes:
    return unit * (size // len(unit))


def _plan(path: Path) -> dict[str, object]:
    """Plan ``path`` in a child process; its outcome, wall time and peak RSS."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(CHILD), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    wall = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall"] = wall
    return out


def _assert_bounded(out: dict[str, object], size: int) -> None:
    assert out["wall"] <= MAX_SECONDS, out  # type: ignore[operator]
    assert out["peak_rss_mb"] <= MAX_RSS_MB, out  # type: ignore[operator]
    # far below the file: nothing proportional to the file's size is held
    assert out["peak_rss_mb"] < size / MB / 2, out  # type: ignore[operator]


def _assert_refused(out: dict[str, object], path: Path, cls: str, *needles: str) -> None:
    assert out["error"] == cls, out
    message = str(out["message"])
    assert message.startswith(f"{path}: "), message[:300]
    assert " — " in message, message[:300]  # problem — what to do
    for needle in needles:
        assert needle in message, (needle, message[:500])


def test_a_file_without_a_line_break_stops_at_the_header_limit(tmp_path: Path) -> None:
    size = 300 * MB
    p = _write(tmp_path / "no_newline.csv", b"", _repeat(b"lead"), size)
    out = _plan(p)
    _assert_refused(
        out,
        p,
        "HeaderError",
        f"does not end within its first {HEADER_MAX_BYTES} bytes",
        "no line break",
        "export it again as a CSV with one record per line",
    )
    _assert_bounded(out, size)


def test_a_million_column_header_is_refused_at_the_header_limit(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(1_000_000)).encode() + b"\n"
    p = _write(tmp_path / "million_columns.csv", header, GOOD, len(header) + len(GOOD))
    out = _plan(p)
    _assert_refused(out, p, "HeaderError", "columns or more", "drop the columns you do not import")
    assert out["wall"] <= MAX_SECONDS and out["peak_rss_mb"] <= MAX_RSS_MB, out  # type: ignore[operator]
    # the message stays short: no million column names in the event log
    assert len(str(out["message"])) < 1000


def test_a_record_that_never_ends_stops_at_the_pending_limit(tmp_path: Path) -> None:
    size = 300 * MB
    p = _write(tmp_path / "endless_record.csv", HEADER + b'a@x.com,"', _repeat(b"x,y "), size)
    out = _plan(p)
    _assert_refused(out, p, "MalformedCSVError", "record 2 (line 2) has no end", "close the quote")
    # the buffer is cut at the limit (plus one block), not doubled past it
    got = int(str(out["message"]).split("has no end after ")[1].split(" bytes")[0])
    assert MAX_PENDING < got <= MAX_PENDING + 4 * MB
    _assert_bounded(out, size)


@pytest.mark.parametrize("unit", [b",", b'"a",'], ids=["line_of_commas", "line_of_quoted_fields"])
def test_a_long_dense_record_is_rejected_alone(tmp_path: Path, unit: bytes) -> None:
    """A 32 MB record of delimiters: its row is rejected, the rows around it plan."""
    p = tmp_path / "dense_row.csv"
    p.write_bytes(
        HEADER
        + GOOD
        + b"cid@example.com,"
        + unit * (32 * MB // len(unit))
        + b"\n"
        + GOOD.replace(b"n@", b"n2@")
    )
    out = _plan(p)
    assert out["error"] is None, out
    assert out["rejects"] == [[4, "row_too_large"]], out
    assert out["chunks"] == 1
    assert out["wall"] <= MAX_SECONDS and out["peak_rss_mb"] <= MAX_RSS_MB, out  # type: ignore[operator]


def test_a_nul_filled_file_is_refused_as_binary(tmp_path: Path) -> None:
    size = 300 * MB
    p = _write(tmp_path / "zeros.csv", b"", bytes(8 * MB), size)
    out = _plan(p)
    _assert_refused(
        out, p, "NotCSVError", "NUL byte at byte offset 0", "export the data as a plain UTF-8 CSV"
    )
    _assert_bounded(out, size)


def test_a_utf16_file_without_bom_is_refused(tmp_path: Path) -> None:
    rows = "".join(f"lead{i}@example.com,Lead {i}\n" for i in range(200_000))
    block = ("email,name\n" + rows).encode("utf-16-le")
    size = 200 * MB
    p = _write(tmp_path / "utf16.csv", b"", block, size)
    assert not block.startswith((b"\xff\xfe", b"\xfe\xff"))
    out = _plan(p)
    _assert_refused(out, p, "NotCSVError", "NUL byte", "plain UTF-8 CSV")
    _assert_bounded(out, size)


def test_a_gzip_file_renamed_csv_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "export.csv"
    rows = _repeat(b"lead@example.com,Lead\n")
    with gzip.open(p, "wb", compresslevel=0) as f:  # stored: as large as the CSV, quick to write
        f.write(HEADER)
        for _ in range(20):
            f.write(rows)
    size = p.stat().st_size
    out = _plan(p)
    _assert_refused(out, p, "NotCSVError", "gzip-compressed", "gunzip")
    _assert_bounded(out, size)


LIST = "Hostile drops"


@pytest.fixture
def deployment(cleanlist_sandbox: SandboxHandle, tmp_path: Path) -> Iterator[InProcessDeployment]:
    dep = InProcessDeployment(tmp_path, cleanlist_sandbox.v2, cleanlist_sandbox.key, LIST)
    yield dep
    dep.close()


def test_a_drop_without_line_breaks_fails_the_run_and_loses_nothing(
    deployment: InProcessDeployment, cleanlist_sandbox: SandboxHandle
) -> None:
    deployment.write("good.csv", csv_bytes(lead_rows(20, tag="kept")))
    assert deployment.run("good.csv").success
    list_id, before = find_list(cleanlist_sandbox.ledger(), LIST)
    path = _write(deployment.drops / "one_line.csv", b"", _repeat(b"lead", MB), 3 * MB)
    result = deployment.run("one_line.csv")
    assert not result.success
    assert f"{path}: the header row (line 1) does not end within" in result.message
    assert "one record per line" in result.message
    after = cleanlist_sandbox.ledger()["lists"][list_id]
    assert after["lead_count"] == before["lead_count"] == 20
