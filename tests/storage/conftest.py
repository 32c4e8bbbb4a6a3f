"""Fixtures for the storage tests: synthetic leads shaped like the API's LeadRow."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.moto_s3 import moto_s3


@dataclass(frozen=True, slots=True)
class Lead:
    """Same attribute names as the client's frozen ``Lead`` dataclass."""

    lead_id: str
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    company: str | None = None
    location: str | None = None
    linkedin_url: str | None = None
    provider: str | None = None


def make_lead(i: int, prefix: str = "ld") -> Lead:
    """Lead ``i``: every third has no email, every other one no phone; providers rotate."""
    first, last = f"Ann{i}", f"Lee{i}"
    return Lead(
        lead_id=f"{prefix}_{i:06d}",
        first_name=first,
        last_name=last,
        full_name=f"{first} {last}",
        email=None if i % 3 == 0 else f"ann.lee{i}@acme.com",
        phone=f"+1415555{i:04d}" if i % 2 == 0 else None,
        title="VP Sales",
        company="Acme",
        location="Austin, TX, US",
        linkedin_url=f"https://www.linkedin.com/in/ann-lee-{i}",
        provider=("wiza", "leadmagic", None)[i % 3],
    )


def lead_pages(n: int, page_size: int = 100, *, as_dict: bool = False, prefix: str = "ld") -> list:
    """``n`` leads in pages of ``page_size`` (dataclasses, or dicts with ``as_dict``)."""
    leads: list[Any] = [make_lead(i, prefix) for i in range(n)]
    if as_dict:
        leads = [asdict(lead) for lead in leads]
    return [leads[i : i + page_size] for i in range(0, n, page_size)]


@pytest.fixture
def snapshot_at() -> datetime:
    return datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)


@pytest.fixture
def root(tmp_path: Path) -> str:
    return str(tmp_path / "data")


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """A moto S3 server on a loopback port with bucket ``snapshots``; yields its ``host:port``."""
    with moto_s3("snapshots") as (host, port):
        yield f"{host}:{port}"
