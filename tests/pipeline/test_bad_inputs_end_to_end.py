"""Bad drops end with a clear message; nothing already imported is lost or imported twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import HEADER, Pipeline, failure_message, lead_rows

GOOD_ROWS = 20


def _empty(folder: Path) -> None:
    (folder / "bad.csv").write_bytes(b"")


def _header_only(folder: Path) -> None:
    (folder / "bad.csv").write_text(HEADER)


def _ambiguous_header(folder: Path) -> None:
    (folder / "bad.csv").write_text(
        "first_name,last_name,email,E-mail,company_name\nA,B,a@example.com,b@example.com,C\n"
    )


def _undecodable(folder: Path) -> None:
    # 0x81 and 0x8D are undefined in Windows-1252 and invalid UTF-8.
    (folder / "bad.csv").write_bytes(
        HEADER.encode() + b"Ann,Lee,ann@example.com,Ac\x81\x8dme,CEO\n"
    )


FAILING: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "empty file": (_empty, ("bad.csv",)),
    "header only": (_header_only, ("bad.csv",)),
    "ambiguous header": (_ambiguous_header, ("bad.csv",)),
    "undecodable bytes": (_undecodable, ("bad.csv", "line")),
}


@pytest.mark.parametrize("case", list(FAILING))
def test_unreadable_drop_fails_clearly_and_imports_nothing(pipeline: Pipeline, case: str) -> None:
    p = pipeline
    (p.drops / "good.csv").write_text(HEADER + lead_rows(GOOD_ROWS))
    assert p.run("good.csv").success
    make, words = FAILING[case]
    make(p.drops)

    result = p.run("bad.csv")

    assert not result.success
    message = failure_message(result)
    for word in words:
        assert word in message, message
    assert "Nothing was imported" in message
    assert p.lead_count() == GOOD_ROWS
    assert p.run("good.csv").success and p.lead_count() == GOOD_ROWS


def test_missing_mapped_header_names_the_header(pipeline: Pipeline) -> None:
    p = pipeline
    (p.drops / "bad.csv").write_text(HEADER + lead_rows(3))
    result = p.run(
        "bad.csv", {"column_mapping": {"email": "E-mail Address", "first_name": "first_name"}}
    )
    assert not result.success
    message = failure_message(result)
    assert "E-mail Address" in message and "bad.csv" in message
    assert p.imports_executed() == 0


def _big_field(rows: str) -> str:
    return HEADER + rows + "Big,Field,big@example.com,Acme," + "y" * (10 * 1024 * 1024) + "\n"


def _oversized_row(rows: str) -> str:
    # One row alone above the API's 150 KB cap (but under the csv field limit per field).
    return HEADER + rows + "Huge,Row,huge@example.com," + ",".join(["z" * 100_000] * 2) + "\n"


@pytest.mark.parametrize("make", [_big_field, _oversized_row], ids=["10MB field", "oversized row"])
def test_oversized_record_is_rejected_and_the_rest_imports(
    pipeline: Pipeline, make: Callable[[str], str]
) -> None:
    p = pipeline
    (p.drops / "big.csv").write_text(make(lead_rows(GOOD_ROWS)))
    result = p.run("big.csv")
    assert result.success, failure_message(result)
    meta = p.materialization("big.csv")
    assert meta["rejected"] == 1
    assert meta["rows_imported"] == GOOD_ROWS == p.lead_count()
    assert "y" * 100 not in meta["report"] and "z" * 100 not in meta["report"]
    assert p.run("big.csv").success and p.lead_count() == GOOD_ROWS


def test_five_thousand_rows_import_in_chunks_exactly_once(pipeline: Pipeline) -> None:
    p = pipeline
    (p.drops / "big.csv").write_text(HEADER + lead_rows(5000))
    result = p.run("big.csv")
    assert result.success, failure_message(result)
    meta = p.materialization("big.csv")
    assert meta["chunks"] >= 9  # ≤ 600 records per chunk
    assert meta["rows_imported"] == 5000 == p.lead_count()
    assert p.run("big.csv").success and p.lead_count() == 5000
