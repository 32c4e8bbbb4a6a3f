"""Chunk steps get a manifest, not bytes: read_chunk re-reads and verifies; 413 → split."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from xxhash import xxh3_128

from cleanlist_pipeline.ingest import (
    ChunkSpec,
    DropChangedError,
    ImportPlan,
    IngestError,
    plan_file,
    read_chunk,
    split_chunk,
)

Drop = Callable[..., Path]
MAP = {"email": "email"}


def _body(n: int, newline: str = "\n") -> str:
    return (
        newline.join(["email,notes"] + [f'u{i}@x.com,"n{i}, with\nbreak"' for i in range(n)])
        + newline
    )


def test_chunk_bytes_are_header_plus_source_records(drop: Drop) -> None:
    text = _body(7)
    p = drop(text)
    plan = plan_file(p, column_mapping=MAP, max_rows=3)
    joined = b"".join(read_chunk(p, plan, c)[len(plan.header_bytes) :] for c in plan.chunks)
    assert joined == text.encode()[len(plan.header_bytes) :]
    for c in plan.chunks:
        assert hashlib.sha256(read_chunk(p, plan, c)).hexdigest() == c.sha256


def test_crlf_is_kept_and_a_missing_final_newline_is_added_in_its_style(drop: Drop) -> None:
    p = drop("email,notes\r\na@x.com,1\r\nb@x.com,2")
    plan = plan_file(p, column_mapping=MAP)
    assert read_chunk(p, plan, plan.chunks[0]) == b"email,notes\r\na@x.com,1\r\nb@x.com,2\r\n"


def test_edited_drop_is_detected(drop: Drop) -> None:
    p = drop(_body(5))
    plan = plan_file(p, column_mapping=MAP)
    data = bytearray(p.read_bytes())
    data[-5] = ord("X")
    p.write_bytes(bytes(data))
    with pytest.raises(DropChangedError) as ei:
        read_chunk(p, plan, plan.chunks[0])
    assert str(p) in str(ei.value) and "re-plan" in str(ei.value)


def test_chunks_carry_a_digest_and_older_manifests_still_verify_by_sha256(drop: Drop) -> None:
    p = drop(_body(5))
    plan = plan_file(p, column_mapping=MAP)
    chunk = plan.chunks[0]
    assert chunk.digest == xxh3_128(read_chunk(p, plan, chunk)).hexdigest()
    legacy = ChunkSpec.from_dict({k: v for k, v in chunk.to_dict().items() if k != "digest"})
    assert legacy.digest == "" and read_chunk(p, plan, legacy) == read_chunk(p, plan, chunk)
    data = bytearray(p.read_bytes())
    data[-5] = ord("X")  # same size, different bytes
    p.write_bytes(bytes(data))
    for spec in (chunk, legacy):
        with pytest.raises(DropChangedError, match="no longer matches the planned bytes"):
            read_chunk(p, plan, spec)


def test_truncated_drop_is_detected(drop: Drop) -> None:
    p = drop(_body(5))
    plan = plan_file(p, column_mapping=MAP)
    with open(p, "r+b") as f:
        f.truncate(os.path.getsize(p) - 10)
    with pytest.raises(DropChangedError, match="shorter"):
        read_chunk(p, plan, plan.chunks[0])


def test_manifest_round_trips_through_json(drop: Drop) -> None:
    p = drop(_body(9))
    plan = plan_file(p, column_mapping=MAP, max_rows=4)
    again = ImportPlan.from_json(plan.to_json())
    assert again.chunks == plan.chunks and again.encoding == plan.encoding
    assert list(again.record_hashes) == list(plan.record_hashes)
    assert [read_chunk(p, again, c) for c in again.chunks] == [
        read_chunk(p, plan, c) for c in plan.chunks
    ]
    slim = ImportPlan.from_json(plan.to_json(include_record_hashes=False))
    assert len(slim.record_hashes) == 0 and slim.chunks == plan.chunks


def test_split_spec_halves_with_own_sha_and_record_numbers(drop: Drop) -> None:
    p = drop(
        "email,notes\n"
        + "".join(f'u{i}@x.com,"multi\nline {i}"\n' + ("\n" if i == 2 else "") for i in range(7))
    )
    plan = plan_file(p, column_mapping=MAP)
    (chunk,) = plan.chunks
    a, b = split_chunk(chunk, p, plan)
    assert (a.label, b.label) == ("0a", "0b")
    assert a.rows + b.rows == chunk.rows == 7
    assert a.record_numbers + b.record_numbers == chunk.record_numbers
    assert a.record_numbers == [2, 3, 4]  # record 5 is the blank line
    for half in (a, b):
        data = read_chunk(p, plan, half)
        assert hashlib.sha256(data).hexdigest() == half.sha256 != chunk.sha256
        assert data.startswith(plan.header_bytes)
    rows = [
        r
        for h in (a, b)
        for r in csv.reader(io.StringIO(read_chunk(p, plan, h).decode(), newline=""))
    ][0:]
    assert sum(1 for r in rows if r[0] != "email") == 7
    aa, ab = split_chunk(a, p, plan)
    assert (aa.label, ab.label, aa.rows, ab.rows) == ("0aa", "0ab", 1, 2)


def test_split_bytes_keeps_multiline_records_whole() -> None:
    data = b'email,notes\na@x,"1\n2"\nb@x,3\nc@x,"4\n5"\n'
    first, second = split_chunk(data)
    assert first == b'email,notes\na@x,"1\n2"\n'
    assert second == b'email,notes\nb@x,3\nc@x,"4\n5"\n'


def test_one_row_chunk_cannot_be_split(drop: Drop) -> None:
    p = drop("email\na@x.com\n")
    plan = plan_file(p, column_mapping=MAP)
    with pytest.raises(IngestError, match="one row"):
        split_chunk(plan.chunks[0], p, plan)
    with pytest.raises(IngestError, match="one row"):
        split_chunk(read_chunk(p, plan, plan.chunks[0]))
