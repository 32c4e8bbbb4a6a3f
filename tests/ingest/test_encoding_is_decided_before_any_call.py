"""Encoding pre-pass: UTF-8 (BOM or not), else configured, else Windows-1252; chunks are UTF-8."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cleanlist_pipeline.ingest import EncodingError, plan_file, read_chunk
from cleanlist_pipeline.ingest import reader as reader_mod
from tests.ingest.conftest import chunk_rows

Drop = Callable[..., Path]
MAP = {"email": "Email", "full_name": "Name"}


def test_utf8_bom_is_recorded_and_not_repeated_in_chunks(drop: Drop) -> None:
    p = drop(b"\xef\xbb\xbfEmail,Name\r\na@x.com,Zo\xc3\xab\r\n")
    plan = plan_file(p, column_mapping=MAP, max_rows=1)
    assert plan.encoding.name == "utf-8" and plan.encoding.had_bom
    assert not plan.encoding.transcoded
    body = read_chunk(p, plan, plan.chunks[0])
    assert body == b"Email,Name\r\na@x.com,Zo\xc3\xab\r\n"  # header without BOM, CRLF kept


def test_windows_1252_is_transcoded_and_the_decision_recorded(drop: Drop) -> None:
    text = "Email,Name,Deal\r\nj@x.com,José Müller,€40k\r\nk@x.com,“Quoted” Zoë,€5k\r\n"
    p = drop(text.encode("cp1252"))
    plan = plan_file(p, column_mapping=MAP)
    assert (plan.encoding.name, plan.encoding.transcoded) == ("cp1252", True)
    assert "offset" in plan.encoding.reason and "cp1252" in plan.encoding.reason
    body = read_chunk(p, plan, plan.chunks[0])
    assert body.decode("utf-8") == text  # byte-identical to the transcoded source
    assert plan.chunks[0].size == len(text.encode("utf-8"))


def test_transcoded_size_counts_utf8_bytes_against_the_cap(drop: Drop) -> None:
    row = "é" * 60  # 60 bytes in cp1252, 120 in UTF-8
    text = "Email,Name\n" + "".join(f"u{i}@x.com,{row}\n" for i in range(10))
    p = drop(text.encode("cp1252"))
    plan = plan_file(p, column_mapping=MAP, max_bytes=400)
    for c in plan.chunks:
        assert len(read_chunk(p, plan, c)) == c.size <= 400
    assert len(plan.chunks) == 5  # 2 rows of 128 UTF-8 bytes + 11-byte header per chunk


def test_configured_encoding_wins_over_the_windows_1252_fallback(drop: Drop) -> None:
    text = "Email,Name\nd@x.ru,Дмитрий\n"
    p = drop(text.encode("cp1251"))
    plan = plan_file(p, column_mapping=MAP, encoding="cp1251")
    assert plan.encoding.name == "cp1251" and "configured" in plan.encoding.reason
    assert chunk_rows(p, plan) == [["d@x.ru", "Дмитрий"]]


def test_valid_utf8_is_kept_even_when_an_encoding_is_configured(drop: Drop) -> None:
    p = drop("Email,Name\nz@x.com,Zoë\n")
    plan = plan_file(p, column_mapping=MAP, encoding="latin-1")
    assert plan.encoding.name == "utf-8" and not plan.encoding.transcoded


@pytest.mark.parametrize("name", ["utf-16", "no-such-codec"])
def test_unusable_configured_encoding_is_an_error(drop: Drop, name: str) -> None:
    p = drop(b"Email,Name\nz@x.com,Zo\xeb\n")
    with pytest.raises(EncodingError) as ei:
        plan_file(p, column_mapping=MAP, encoding=name)
    assert str(p) in str(ei.value) and name in str(ei.value)


@pytest.mark.parametrize("byte", [b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"])
def test_bytes_undefined_in_windows_1252_are_reported_with_offset(drop: Drop, byte: bytes) -> None:
    body = b"Email,Name\nz@x.com,Zo\xeb\nq@x.com,B" + byte + b"\n"
    p = drop(body)
    with pytest.raises(EncodingError) as ei:
        plan_file(p, column_mapping=MAP)
    assert (ei.value.offset, ei.value.line) == (body.index(byte), 3)


def test_a_bom_before_windows_1252_bytes_is_dropped_not_transcoded(drop: Drop) -> None:
    p = drop(b"\xef\xbb\xbfEmail,Name\nz@x.com,Zo\xeb\n")
    plan = plan_file(p, column_mapping=MAP)
    assert plan.encoding.name == "cp1252" and plan.encoding.had_bom
    assert plan.header_fields == ["Email", "Name"]
    assert chunk_rows(p, plan) == [["z@x.com", "Zoë"]]


@pytest.mark.parametrize("late", [True, False])
def test_a_non_utf8_byte_anywhere_makes_the_whole_file_windows_1252(
    drop: Drop, monkeypatch: pytest.MonkeyPatch, late: bool
) -> None:
    # The scan starts as if the file were UTF-8 while the pre-pass reads it; a byte that is not
    # UTF-8 (here the last record's, after many scanned batches) must still decide the reading.
    monkeypatch.setattr(reader_mod, "BLOCK_SIZE", 256)
    rows = [f"u{i}@x.com,Name {i}" for i in range(300)]
    rows.insert(len(rows) if late else 0, "renee@x.com,Renée Ørsted")
    text = "Email,Name\n" + "\n".join(rows) + "\n"
    p = drop(text.encode("cp1252"))
    plan = plan_file(p, column_mapping=MAP)
    assert (plan.encoding.name, plan.encoding.transcoded) == ("cp1252", True)
    assert plan.rows_planned == 301
    sent = b"".join(read_chunk(p, plan, c)[len(plan.header_bytes) :] for c in plan.chunks)
    assert sent.decode("utf-8") == text.split("\n", 1)[1]
