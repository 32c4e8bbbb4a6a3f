"""Fixtures for the storage tests: synthetic leads shaped like the API's LeadRow."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest


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
    """A moto S3 server on a loopback port; yields its ``host:port``; stopped afterwards."""
    # moto[server] is a dev dependency (moto ≥ 5.2.5: 5.2.1 answers pyarrow's
    # CompleteMultipartUpload with a wrong XML root, getmoto/moto#10055).
    import boto3
    from moto.server import ThreadedMotoServer

    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        boto3.client("s3", endpoint_url=f"http://{host}:{port}").create_bucket(Bucket="snapshots")
        yield f"{host}:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
