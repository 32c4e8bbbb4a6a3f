"""Pre-flight (contract section 9): whole-file dedupe with the server's rules; missing_required
rows are predicted and reported, never removed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cleanlist_pipeline.ingest import plan_file
from cleanlist_pipeline.ingest import reader as reader_mod
from tests.ingest.conftest import chunk_rows

Drop = Callable[..., Path]
MAP = {
    "email": "email",
    "linkedin_url": "linkedin",
    "first_name": "first",
    "last_name": "last",
    "full_name": "name",
    "company_name": "company",
    "company_domain": "domain",
}
HEADER = ["email", "linkedin", "first", "last", "name", "company", "domain"]


def rows(*data: list[str]) -> list[list[str]]:
    return [HEADER, *data]


def test_duplicate_in_a_later_chunk_is_removed_not_imported_twice(drop: Drop) -> None:
    data = [[f"u{i}@x.com", "", "", "", "", "", ""] for i in range(10)]
    data.append(["  U3@X.COM ", "", "", "", "", "", ""])  # lands in the third chunk
    p = drop(rows(*data))
    plan = plan_file(p, column_mapping=MAP, max_rows=4)
    assert len(plan.chunks) == 3
    (dup,) = plan.removed_duplicates
    assert (dup.record, dup.line, dup.reason) == (12, 12, "duplicate_email")
    assert [r[0] for r in chunk_rows(p, plan)] == [f"u{i}@x.com" for i in range(10)]


def test_dedupe_spans_scan_batches(drop: Drop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader_mod, "BLOCK_SIZE", 64)  # many batches, keys remembered across
    data = [[f"u{i}@x.com", f"https://linkedin.com/in/u{i}", "", "", "", "", ""] for i in range(40)]
    data += [
        ["u5@x.com", "", "", "", "", "", ""],
        ["", "http://www.LinkedIn.com/in/u7/", "", "", "", "", ""],
    ]
    p = drop(rows(*data))
    plan = plan_file(p, column_mapping=MAP)
    assert [(r.record, r.reason) for r in plan.removed_duplicates] == [
        (42, "duplicate_email"),
        (43, "duplicate_linkedin"),
    ]


@pytest.mark.parametrize(
    "variant",
    [
        "linkedin.com/in/ann",
        "HTTPS://WWW.LINKEDIN.COM/in/ann//",
        " http://linkedin.com/in/Ann/ ",
        "www.linkedin.com/in/ann",
    ],
)
def test_linkedin_urls_normalise_like_the_server(drop: Drop, variant: str) -> None:
    p = drop(
        rows(
            ["", "https://www.linkedin.com/in/ann/", "", "", "", "", ""],
            ["", variant, "", "", "", "", ""],
        )
    )
    plan = plan_file(p, column_mapping=MAP)
    assert [r.reason for r in plan.removed_duplicates] == ["duplicate_linkedin"]


def test_non_ascii_emails_compare_case_insensitively(drop: Drop) -> None:
    p = drop(
        rows(["JOSÉ@café.fr", "", "", "", "", "", ""], ["josé@CAFÉ.fr", "", "", "", "", "", ""])
    )
    plan = plan_file(p, column_mapping=MAP)
    assert [r.record for r in plan.removed_duplicates] == [3]


def test_email_is_checked_before_linkedin_and_removed_rows_do_not_count(drop: Drop) -> None:
    p = drop(
        rows(
            ["a@x.com", "linkedin.com/in/one", "", "", "", "", ""],
            ["a@x.com", "linkedin.com/in/two", "", "", "", "", ""],  # dup e-mail
            ["b@x.com", "linkedin.com/in/two", "", "", "", "", ""],  # 'two' never kept
            ["c@x.com", "linkedin.com/in/one", "", "", "", "", ""],
        )
    )  # dup LinkedIn
    plan = plan_file(p, column_mapping=MAP)
    assert [(r.record, r.reason) for r in plan.removed_duplicates] == [
        (3, "duplicate_email"),
        (5, "duplicate_linkedin"),
    ]
    assert [r[0] for r in chunk_rows(p, plan)] == ["a@x.com", "b@x.com"]


def test_missing_required_is_predicted_but_the_rows_are_still_sent(drop: Drop) -> None:
    p = drop(
        rows(
            ["", "", "Ann", "Lee", "", "Acme", ""],  # first+last with company: ok
            ["", "", "", "", "Bob Ray", "", "bob.io"],  # full name with domain: ok
            ["", "", "Cy", "", "", "Acme", ""],  # no last name: skip
            ["", "", "", "", "Dee", "", ""],  # no company: skip
            ["  ", " ", "", "", "", "", ""],  # blanks only: skip
            ["", "", "", "", '"Quoted" Name', "Co", ""],
        )
    )  # quoted name: ok
    plan = plan_file(p, column_mapping=MAP)
    assert plan.predicted_skips == {"missing_required": [4, 5, 6]}
    assert len(chunk_rows(p, plan)) == 6
    assert plan.removed_and_rejected() == []


@pytest.mark.parametrize(
    ("first", "blank"),
    [
        ("Łukasz", False),
        ("Émile", False),
        ("日本", False),
        ("\u00a0", True),  # NBSP
        ("\u0085", True),  # NEL
        ("\u1680", True),  # ogham space mark
        ("\u2003", True),  # em space
        ("\u205f", True),  # medium mathematical space
        ("\u3000", True),  # ideographic space
        ("\u3000Li", False),
    ],
)
def test_names_with_unicode_spaces_are_stripped_like_the_server(
    drop: Drop, first: str, blank: bool
) -> None:
    p = drop(rows(["", "", first, "Lee", "", "Acme", ""], ["", "", "Ann", "Lee", "", "Acme", ""]))
    plan = plan_file(p, column_mapping=MAP)
    assert plan.predicted_skips == ({"missing_required": [2]} if blank else {})


def test_without_name_columns_only_keys_count(drop: Drop) -> None:
    p = drop("email,company\n,Acme\nz@x.com,\n")
    plan = plan_file(p, column_mapping={"email": "email", "company_name": "company"})
    assert plan.predicted_skips == {"missing_required": [2]}


def test_one_column_email_list(drop: Drop) -> None:
    p = drop('Email\r\na@x.com\r\n\r\n  \r\nB@X.com\r\n b@x.com \r\n"c@x.com"\r\nd@x.com')
    plan = plan_file(p)
    assert [r[0] for r in chunk_rows(p, plan)] == ["a@x.com", "B@X.com", "c@x.com", "d@x.com"]
    assert [(r.record, r.reason) for r in plan.removed_duplicates] == [(6, "duplicate_email")]
    assert plan.blank_records == 2
