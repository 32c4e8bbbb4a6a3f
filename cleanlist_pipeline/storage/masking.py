"""Masked previews of lead rows: enough to recognise the shape of the data, no personal data.

Used for Dagster metadata, which anyone with UI access can read.
"""

from __future__ import annotations

from collections.abc import Mapping

_NAME_FIELDS = frozenset({"first_name", "last_name", "full_name"})
_HIDDEN_FIELDS = frozenset({"linkedin_url"})


def mask_email(email: str | None) -> str | None:
    """``john@acme.com`` → ``j***@acme.com``; anything without a local part and domain → ``***``."""
    if not email:
        return email
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_phone(phone: str | None) -> str | None:
    """``+14155550123`` → ``+1******0123``: country prefix digit and last four kept."""
    if not phone:
        return phone
    text = phone.strip()
    head = text[:2] if text.startswith("+") else text[:1]
    if len(text) - len(head) < 7:
        return "***"
    return head + "*" * (len(text) - len(head) - 4) + text[-4:]


def mask_name(name: str | None) -> str | None:
    """``John Smith`` → ``J. S.``."""
    if not name:
        return name
    return " ".join(f"{part[0]}." for part in name.split()) or "***"


def mask_lead(row: Mapping[str, str | None]) -> dict[str, str | None]:
    """A copy of ``row`` with emails, phones, names and profile URLs masked."""
    masked: dict[str, str | None] = {}
    for key, value in row.items():
        if key == "email":
            masked[key] = mask_email(value)
        elif key == "phone":
            masked[key] = mask_phone(value)
        elif key in _NAME_FIELDS:
            masked[key] = mask_name(value)
        elif key in _HIDDEN_FIELDS:
            masked[key] = "***" if value else value
        else:
            masked[key] = value
    return masked
