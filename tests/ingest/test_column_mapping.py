"""Column mapping: explicit, sidecar, or inferred from the published synonym table."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cleanlist_pipeline.ingest import (
    CANONICAL_FIELDS,
    SYNONYMS,
    HeaderError,
    MappingError,
    normalise_header,
    plan_file,
    sidecar_path,
)

Drop = Callable[..., Path]


def test_synonym_table_covers_every_canonical_field_once() -> None:
    assert set(SYNONYMS) == set(CANONICAL_FIELDS) and len(CANONICAL_FIELDS) == 14
    seen: dict[str, str] = {}
    for field, names in SYNONYMS.items():
        for n in names:
            assert seen.setdefault(normalise_header(n), field) == field


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("First Name", "first_name"),
        ("last", "last_name"),
        ("Company Domain", "company_domain"),
        ("LinkedIn", "linkedin_url"),
        ("E-mail", "email"),
        ("EMAIL_ADDRESS", "email"),
        ("  job title ", "job_title"),
        ("Mobile Phone", "mobile_phone"),
        ("Work-Phone", "work_phone"),
    ],
)
def test_inference_matches_spellings_after_normalising(drop: Drop, header: str, field: str) -> None:
    p = drop(f"{header},Other\nv,w\n")
    plan = plan_file(p)
    assert plan.column_mapping == {field: header}
    assert plan.mapping_source == "inferred"
    assert plan.unmapped_columns == ["Other"]


def test_inferred_mapping_of_a_typical_export(drop: Drop) -> None:
    p = drop("First Name,Last Name,E-mail,Company,Website,Title,Notes\nA,B,a@x.com,C,c.com,T,n\n")
    plan = plan_file(p)
    assert plan.column_mapping == {
        "first_name": "First Name",
        "last_name": "Last Name",
        "email": "E-mail",
        "company_name": "Company",
        "company_domain": "Website",
        "job_title": "Title",
    }
    assert plan.unmapped_columns == ["Notes"]


@pytest.mark.parametrize("header", ["URL", "Location", "Address"])
def test_headers_with_several_meanings_are_not_guessed(drop: Drop, header: str) -> None:
    p = drop(f"Email,{header}\na@x.com,v\n")
    with pytest.raises(HeaderError) as ei:
        plan_file(p)
    assert header in str(ei.value) and "explicit column_mapping" in str(ei.value)


def test_no_recognisable_header_asks_for_a_mapping(drop: Drop) -> None:
    p = drop("foo,bar\n1,2\n")
    with pytest.raises(HeaderError, match="no header matches"):
        plan_file(p)


def test_explicit_mapping_beats_inference_and_matches_trimmed_headers(drop: Drop) -> None:
    p = drop(" Mail ,Email\nwork@x.com,home@x.com\n")
    plan = plan_file(p, column_mapping={"email": "Mail"})
    assert plan.column_mapping == {"email": "Mail"} and plan.mapping_source == "explicit"
    assert plan.unmapped_columns == ["Email"]


def test_sidecar_mapping_next_to_the_drop_is_used(drop: Drop) -> None:
    p = drop("Who,Where\nAnn,Acme\n", name="d.csv")
    sidecar_path(p).write_text(json.dumps({"full_name": "Who", "company_name": "Where"}))
    plan = plan_file(p)
    assert plan.mapping_source == "sidecar"
    assert plan.column_mapping == {"full_name": "Who", "company_name": "Where"}


def test_unreadable_sidecar_is_a_mapping_error(drop: Drop) -> None:
    p = drop("Email\na@x.com\n", name="d.csv")
    sidecar_path(p).write_text("{not json")
    with pytest.raises(MappingError, match=r"d\.csv\.mapping\.json"):
        plan_file(p)


def test_duplicate_mapped_header_is_refused(drop: Drop) -> None:
    p = drop("Email,Email\na@x.com,b@x.com\n")
    with pytest.raises(HeaderError, match="more than once"):
        plan_file(p, column_mapping={"email": "Email"})


def test_empty_mapping_is_refused(drop: Drop) -> None:
    p = drop("Email\na@x.com\n")
    with pytest.raises(MappingError, match="empty"):
        plan_file(p, column_mapping={})
