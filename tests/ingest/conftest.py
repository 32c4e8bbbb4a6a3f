"""Helpers for ingest tests: write a drop, plan it, read every chunk back."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from cleanlist_pipeline.ingest import ImportPlan, read_chunk


def csv_text(rows: list[list[str]], newline: str = "\n") -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows(rows)
    return buf.getvalue()


@pytest.fixture
def drop(tmp_path: Path) -> Callable[..., Path]:
    """``drop(content, name="drop.csv")`` writes bytes or text (UTF-8) and returns the path."""

    def make(content: bytes | str | list[list[str]], name: str = "drop.csv") -> Path:
        p = tmp_path / name
        if isinstance(content, list):
            content = csv_text(content)
        p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return p

    return make


def chunk_rows(path: Path, plan: ImportPlan) -> list[list[str]]:
    """Every data row the chunks would send, parsed by ``csv``, in order."""
    rows: list[list[str]] = []
    for c in plan.chunks:
        recs = list(csv.reader(io.StringIO(read_chunk(path, plan, c).decode("utf-8"), newline="")))
        assert recs[0] == plan.header_fields
        rows.extend(recs[1:])
    return rows
