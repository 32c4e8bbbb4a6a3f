"""Masking keeps the shape of a value and drops the person."""

from __future__ import annotations

import pytest

from cleanlist_pipeline.storage import mask_email, mask_lead, mask_name, mask_phone


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("john.smith@acme.com", "j***@acme.com"),
        ("a@b.io", "a***@b.io"),
        ("not-an-email", "***"),
        ("@acme.com", "***"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_email(email: str | None, masked: str | None) -> None:
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+14155550123", "+1******0123"),
        ("+447911123456", "+4*******3456"),
        ("4155550123", "4*****0123"),
        ("+12345", "***"),
        (None, None),
    ],
)
def test_mask_phone(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked


def test_mask_name_gives_initials() -> None:
    assert mask_name("John Smith") == "J. S."
    assert mask_name("  Ann ") == "A."
    assert mask_name("   ") == "***"
    assert mask_name(None) is None


def test_mask_lead_masks_personal_fields_only() -> None:
    row = {
        "lead_id": "ld_1",
        "first_name": "Ann",
        "last_name": "Lee",
        "full_name": "Ann Lee",
        "email": "ann@acme.com",
        "phone": "+14155550123",
        "title": "CTO",
        "company": "Acme",
        "location": "Austin, TX, US",
        "linkedin_url": "https://www.linkedin.com/in/ann-lee",
        "provider": "wiza",
    }
    assert mask_lead(row) == {
        "lead_id": "ld_1",
        "first_name": "A.",
        "last_name": "L.",
        "full_name": "A. L.",
        "email": "a***@acme.com",
        "phone": "+1******0123",
        "title": "CTO",
        "company": "Acme",
        "location": "Austin, TX, US",
        "linkedin_url": "***",
        "provider": "wiza",
    }
