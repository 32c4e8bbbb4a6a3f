"""Malformed CSV drops: a clear error naming the file and the place, and nothing lost.

Each bad drop is imported into a list that already holds a good drop's rows. Files that cannot
be read safely fail before any call, with a message naming the file, where the damage is (record,
line or byte offset) and what to do; files with a few bad records import the rest and report
the bad ones by record number. In every case the rows imported before are still there.
See docs/bad-input.md for the table.
"""

from __future__ import annotations

import gzip
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cleanlist_pipeline.dropstore import rejects_name
from cleanlist_pipeline.testing import SandboxHandle

from .harness import csv_bytes, find_list, lead_rows
from .inprocess import InProcessDeployment

LIST = "Bad input proofs"
GOOD_ROWS = 50
HEADER = "first_name,last_name,email,company_name\n"


def _good(n: int, tag: str) -> str:
    return "".join(f"F{tag}{i},L{tag}{i},{tag}.{i}@example.com,Co {i}\n" for i in range(n))


@dataclass(frozen=True)
class Case:
    """A bad drop and what the user must read about it."""

    name: str
    content: bytes
    fails: bool
    must_say: tuple[str, ...]  # regexes, all required (case-insensitive)
    imported: int = 0  # rows that must still import when the run succeeds
    rejected_record: int | None = None


def _garbage() -> bytes:
    rng = random.Random(4)
    return bytes(rng.randrange(256) for _ in range(30_000))


CASES = [
    Case(
        "unterminated_quote.csv",
        (HEADER + _good(10, "u") + 'Fx,"never closed,x@example.com,Co\n' + _good(10, "v")).encode(),
        True,
        (r"record 12", r"line 12", r"quote", r"close"),
    ),
    Case(
        "nul_bytes.csv",
        (HEADER + _good(3, "n")).encode().replace(b"Co 1", b"Co\x00\x001"),
        True,
        (r"NUL", r"byte offset \d+", r"line \d+", r"UTF-8 CSV"),
    ),
    Case("binary_garbage.csv", _garbage(), True, (r"binary|not a text CSV|decode|encoding",)),
    Case(
        "gzip_renamed.csv",
        gzip.compress((HEADER + _good(20, "g")).encode()),
        True,
        (r"gzip", r"decompress|gunzip"),
    ),
    Case(
        "hundred_thousand_columns.csv",
        (
            ",".join(["email"] + [f"col{i}" for i in range(100_000)])
            + "\n"
            + "w@example.com"
            + "," * 100_000
            + "\n"
        ).encode(),
        True,
        (r"header", r"\d+ bytes", r"drop the columns|fewer columns|remove"),
    ),
    Case(
        "ragged_rows.csv",
        (
            HEADER + _good(10, "r") + "Fr,Lr,ragged@example.com,Co,EXTRA,MORE\n" + _good(10, "s")
        ).encode(),
        False,
        (),
        imported=20,
        rejected_record=12,
    ),
    Case(
        "ten_megabyte_field.csv",
        (
            HEADER
            + _good(10, "b")
            + "Fb,Lb,big@example.com,"
            + "x" * (10 * 1024 * 1024)
            + "\n"
            + _good(10, "c")
        ).encode(),
        False,
        (),
        imported=20,
        rejected_record=12,
    ),
]


@pytest.fixture
def deployment(cleanlist_sandbox: SandboxHandle, tmp_path: Path) -> Iterator[InProcessDeployment]:
    dep = InProcessDeployment(tmp_path, cleanlist_sandbox.v2, cleanlist_sandbox.key, LIST)
    yield dep
    dep.close()


@pytest.mark.slow
def test_malformed_drops_fail_clearly_or_reject_records_and_lose_nothing(
    deployment: InProcessDeployment, cleanlist_sandbox: SandboxHandle
) -> None:
    deployment.write("good.csv", csv_bytes(lead_rows(GOOD_ROWS, tag="good")))
    first = deployment.run("good.csv")
    assert first.success, first.message
    list_id, _ = find_list(cleanlist_sandbox.ledger(), LIST)
    expected = GOOD_ROWS

    problems: list[str] = []
    for case in CASES:
        deployment.write(case.name, case.content)
        before = cleanlist_sandbox.ledger()["lists"][list_id]["lead_count"]
        result = deployment.run(case.name)
        after = cleanlist_sandbox.ledger()["lists"][list_id]["lead_count"]
        if case.fails:
            if result.success:
                problems.append(f"{case.name}: imported although it is unreadable")
                continue
            if after != before:
                problems.append(f"{case.name}: lead_count changed {before} → {after}")
            if case.name not in result.message:
                problems.append(
                    f"{case.name}: the message does not name the file: {result.message[:300]!r}"
                )
            for pattern in case.must_say:
                if not re.search(pattern, result.message, re.IGNORECASE):
                    problems.append(
                        f"{case.name}: message lacks /{pattern}/: {result.message[:300]!r}"
                    )
        else:
            if not result.success:
                problems.append(
                    f"{case.name}: failed instead of rejecting one record: {result.message[:300]!r}"
                )
                continue
            expected += case.imported
            if after != expected:
                problems.append(f"{case.name}: list holds {after}, expected {expected}")
            report = deployment.report(case.name)
            if report.get("rejected") != 1:
                problems.append(f"{case.name}: report rejected={report.get('rejected')}")
            if f"{case.rejected_record}" not in str(report.get("report")):
                problems.append(f"{case.name}: report does not name record {case.rejected_record}")
            rejects = list(deployment.data.rglob("*.csv"))
            if not any(p.name == rejects_name(case.name).rsplit("/", 1)[-1] for p in rejects):
                problems.append(f"{case.name}: no rejects file among {rejects}")
    assert cleanlist_sandbox.ledger()["lists"][list_id]["lead_count"] == expected
    assert not problems, "\n".join(problems)
