"""Drops that cannot be imported stop with an IngestError naming the file and what to do;
a row that alone is bad is rejected and reported instead."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest

from cleanlist_pipeline.ingest import (
    EmptyFileError,
    EncodingError,
    HeaderError,
    IngestError,
    MalformedCSVError,
    MappingError,
    NotCSVError,
    plan_file,
    read_chunk,
)
from tests.ingest.conftest import chunk_rows

Drop = Callable[..., Path]
MAP = {"email": "email"}


def _assert_clear(err: IngestError, path: Path, *words: str) -> None:
    msg = str(err)
    assert str(path) in msg, "the message names the file"
    assert " — " in msg and err.hint, "the message says what to do"
    for w in words:
        assert w.lower() in msg.lower(), f"{w!r} missing from: {msg}"


def test_empty_file(drop: Drop) -> None:
    p = drop(b"")
    with pytest.raises(EmptyFileError) as ei:
        plan_file(p, column_mapping=MAP)
    _assert_clear(ei.value, p, "empty")


@pytest.mark.parametrize("content", [b"email,name\n", b"email,name", b"email,name\n\n\n"])
def test_header_only(drop: Drop, content: bytes) -> None:
    p = drop(content)
    with pytest.raises(EmptyFileError) as ei:
        plan_file(p, column_mapping=MAP)
    _assert_clear(ei.value, p, "no data rows")


def test_missing_mapped_headers_are_listed_together(drop: Drop) -> None:
    p = drop("email,name\na@x.com,Ann\n")
    with pytest.raises(HeaderError) as ei:
        plan_file(p, column_mapping={"email": "email", "phone": "Phone", "city": "Town"})
    _assert_clear(ei.value, p, "'Phone'", "'Town'", "not in the file")


def test_ambiguous_inferred_header(drop: Drop) -> None:
    p = drop("Email,E-mail,Name\na@x.com,b@x.com,Ann\n")
    with pytest.raises(HeaderError) as ei:
        plan_file(p)
    _assert_clear(ei.value, p, "Email", "E-mail", "explicit column_mapping")


def test_unknown_canonical_field_lists_valid_ones(drop: Drop) -> None:
    p = drop("email,name\na@x.com,Ann\n")
    with pytest.raises(MappingError) as ei:
        plan_file(p, column_mapping={"email": "email", "nickname": "name"})
    _assert_clear(ei.value, p, "nickname", "first_name", "work_phone", "country")


def test_undecodable_bytes_name_offset_and_line(drop: Drop) -> None:
    # 0x81 is undefined in Windows-1252 and invalid as UTF-8
    body = b"email,name\na@x.com,Ann\nb@x.com,B\x81b\n"
    p = drop(body)
    with pytest.raises(EncodingError) as ei:
        plan_file(p, column_mapping=MAP)
    at = body.index(b"\x81")
    assert ei.value.offset == at
    assert ei.value.line == 3
    _assert_clear(ei.value, p, f"offset {at}", "line 3", "utf-8")


def test_nul_bytes_are_refused(drop: Drop) -> None:
    p = drop(b"email,name\na@x.com,A\x00nn\n")
    with pytest.raises(NotCSVError) as ei:
        plan_file(p, column_mapping=MAP)
    _assert_clear(ei.value, p, "NUL", "line 2")


def test_gzip_renamed_csv(drop: Drop) -> None:
    p = drop(gzip.compress(b"email\na@x.com\n"), name="leads.csv")
    with pytest.raises(NotCSVError) as ei:
        plan_file(p, column_mapping=MAP)
    _assert_clear(ei.value, p, "gzip", "gunzip")


def test_xlsx_renamed_csv(drop: Drop) -> None:
    p = drop(b"PK\x03\x04" + b"\x00" * 40, name="leads.csv")
    with pytest.raises(NotCSVError) as ei:
        plan_file(p, column_mapping=MAP)
    _assert_clear(ei.value, p, "zip", "export")


def test_ten_megabyte_field_rejects_only_its_row(drop: Drop) -> None:
    big = "x" * (10 * 1024 * 1024)
    p = drop(f"email,notes\na@x.com,ok\nb@x.com,{big}\nc@x.com,fine\n")
    plan = plan_file(p, column_mapping=MAP)
    assert [r[0] for r in chunk_rows(p, plan)] == ["a@x.com", "c@x.com"]
    (rej,) = plan.rejects
    assert (rej.record, rej.line, rej.reason) == (3, 3, "row_too_large")


def test_field_over_csv_limit_in_a_row_under_the_byte_cap(drop: Drop) -> None:
    field = "y" * 140_000  # over csv's 131072 default, under the 148,000-byte chunk cap
    p = drop(f'email,notes\na@x.com,"{field}"\nb@x.com,ok\n')
    plan = plan_file(p, column_mapping=MAP)
    (rej,) = plan.rejects
    assert (rej.record, rej.reason) == (2, "field_too_large")
    assert "131072" in rej.detail
    assert [r[0] for r in chunk_rows(p, plan)] == ["b@x.com"]


def test_one_oversized_row_is_rejected_with_its_size(drop: Drop) -> None:
    p = drop(
        "email,notes\n"
        + "".join(f"u{i}@x.com,{'z' * (60_000 if i == 4 else 10)}\n" for i in range(8))
    )
    plan = plan_file(p, column_mapping=MAP, max_bytes=50_000)
    (rej,) = plan.rejects
    assert rej.record == 6 and rej.reason == "row_too_large" and "60010 bytes" in rej.detail
    assert plan.rows_planned == 7


def test_five_thousand_rows_plan_into_row_capped_chunks(drop: Drop) -> None:
    p = drop("email,name\n" + "".join(f"u{i}@x.com,N{i}\n" for i in range(5000)))
    plan = plan_file(p, column_mapping=MAP)
    assert [c.rows for c in plan.chunks] == [600] * 8 + [200]
    assert plan.rows_planned == 5000
    assert read_chunk(p, plan, plan.chunks[-1]).count(b"\n") == 201


def test_unterminated_quote_names_record_and_line(drop: Drop) -> None:
    p = drop('email,notes\na@x.com,ok\nb@x.com,"never closed\nc@x.com,more\n')
    with pytest.raises(MalformedCSVError) as ei:
        plan_file(p, column_mapping=MAP)
    assert (ei.value.record, ei.value.line) == (3, 3)
    _assert_clear(ei.value, p, "record 3", "line 3", "never closed")


def test_hundred_thousand_columns(drop: Drop) -> None:
    header = ",".join(["email"] + [f"c{i}" for i in range(100_000)])
    p = drop(header + "\n" + "a@x.com" + "," * 100_000 + "\n")
    with pytest.raises(HeaderError) as ei:
        plan_file(p, column_mapping=MAP)
    _assert_clear(ei.value, p, "header row alone", "drop the columns")


def test_ragged_row_is_rejected_and_short_row_is_fine(drop: Drop) -> None:
    p = drop("email,name,city\na@x.com,Ann,Rome,EXTRA\nb@x.com,Bob\n")
    plan = plan_file(p, column_mapping=MAP)
    (rej,) = plan.rejects
    assert (rej.record, rej.reason) == (2, "ragged_row")
    assert "4 fields" in rej.detail and "3" in rej.detail
    assert chunk_rows(p, plan) == [["b@x.com", "Bob"]]


def test_bare_carriage_return_outside_quotes_rejects_the_row(drop: Drop) -> None:
    p = drop(b"email,name\r\na@x.com,A\rnn\r\nb@x.com,Bob\r\n")
    plan = plan_file(p, column_mapping=MAP)
    (rej,) = plan.rejects
    assert (rej.record, rej.reason) == (2, "malformed_row")
    assert plan.scan_mode == "exact"
    assert chunk_rows(p, plan) == [["b@x.com", "Bob"]]


def test_cr_only_line_endings_are_refused(drop: Drop) -> None:
    p = drop(b"email,name\ra@x.com,Ann\rb@x.com,Bob\r")
    with pytest.raises(NotCSVError) as ei:
        plan_file(p, column_mapping=MAP)
    _assert_clear(ei.value, p, "CR-only", "LF")


def test_blank_first_line_is_a_header_error(drop: Drop) -> None:
    p = drop("\nemail,name\na@x.com,Ann\n")
    with pytest.raises(HeaderError) as ei:
        plan_file(p, column_mapping=MAP)
    _assert_clear(ei.value, p, "line 1 is blank")


def test_utf16_file_is_refused(drop: Drop) -> None:
    p = drop("email\na@x.com\n".encode("utf-16"))
    with pytest.raises(NotCSVError) as ei:
        plan_file(p, column_mapping=MAP)
    _assert_clear(ei.value, p, "UTF-16", "UTF-8")


def test_unclosed_quote_early_in_a_long_file_stops_at_the_pending_limit(
    drop: Drop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cleanlist_pipeline.ingest import reader

    monkeypatch.setattr(reader, "MAX_PENDING", 10_000)
    monkeypatch.setattr(reader, "BLOCK_SIZE", 1_000)
    p = drop('email,notes\na@x.com,ok\nb@x.com,"oops\n' + "c@x.com,fine\n" * 5_000)
    with pytest.raises(MalformedCSVError) as ei:
        plan_file(p, column_mapping=MAP)
    assert (ei.value.record, ei.value.line) == (3, 3)
    _assert_clear(ei.value, p, "record 3", "line 3", "quote")


def test_a_quirky_row_slows_only_its_own_buffer(
    drop: Drop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cleanlist_pipeline.ingest import reader

    monkeypatch.setattr(reader, "BLOCK_SIZE", 2_000)
    rows = [f'u{i}@x.com,"note, {i}"' for i in range(400)]
    rows[200] = "odd@x.com,5'11\" tall"  # a quote inside an unquoted field: csv keeps it literal
    p = drop("email,notes\n" + "\n".join(rows) + "\n")
    plan = plan_file(p, column_mapping=MAP)
    assert plan.scan_mode == "mixed"
    sent = chunk_rows(p, plan)
    assert len(sent) == 400 and sent[200] == ["odd@x.com", "5'11\" tall"]
