"""Large drops are scanned by worker processes; the plan must equal the serial one exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanlist_pipeline.ingest import ImportPlan, MalformedCSVError, plan_file
from cleanlist_pipeline.ingest import parallel as parallel_mod


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel_mod, "SEGMENT_BYTES", 40_000)
    monkeypatch.setattr(parallel_mod, "PARALLEL_MIN_BYTES", 0)


def _drop(tmp_path: Path, rows: int, extra: str = "") -> Path:
    lines = ["email,linkedin,first,last,company,notes"]
    for i in range(rows):
        email = f"u{i % (rows - 50)}@x.com" if i % 9 else ""
        note = f'"line one, {i}\nline ""two"""' if i % 5 == 0 else f"plain {i}"
        lines.append(
            f'{email},https://www.linkedin.com/in/p{i if i % 13 else i // 2}/,Zoë,Lee,"Acme, Inc.",'
            f"{note}"
        )
        if i % 400 == 0:
            lines.append("")
    p = tmp_path / "big.csv"
    p.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return p


def _same(a: ImportPlan, b: ImportPlan) -> None:
    assert a.chunks == b.chunks
    assert a.rejects == b.rejects and a.removed_duplicates == b.removed_duplicates
    assert a.predicted_skips == b.predicted_skips
    assert a.record_hashes.tolist() == b.record_hashes.tolist()
    assert (a.data_records, a.blank_records) == (b.data_records, b.blank_records)


@pytest.mark.usefixtures("small_segments")
def test_parallel_plan_equals_serial_plan(tmp_path: Path) -> None:
    p = _drop(tmp_path, 3000)
    serial = plan_file(p, workers=1)
    par = plan_file(p, workers=2)
    assert len(serial.chunks) >= 5 and serial.removed_duplicates
    _same(par, serial)


@pytest.mark.usefixtures("small_segments")
def test_quirky_quoting_falls_back_to_the_exact_serial_scan(tmp_path: Path) -> None:
    p = _drop(tmp_path, 2000, extra='late@x.com,,a"b,c,d,e\n')
    par = plan_file(p, workers=2)
    assert par.scan_mode in ("mixed", "exact")
    _same(par, plan_file(p, workers=1))


@pytest.mark.usefixtures("small_segments")
def test_errors_from_a_segment_name_file_wide_record_numbers(tmp_path: Path) -> None:
    p = _drop(tmp_path, 2000, extra='late@x.com,,A,B,C,"never closed\n')
    with pytest.raises(MalformedCSVError) as ei:
        plan_file(p, workers=2)
    with pytest.raises(MalformedCSVError) as serial:
        plan_file(p, workers=1)
    assert (ei.value.record, ei.value.line) == (serial.value.record, serial.value.line)
    assert ei.value.record > 2000
