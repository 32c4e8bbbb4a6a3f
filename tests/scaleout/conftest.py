"""Session fixtures for the scale-out proofs: a real PostgreSQL server and a moto S3 server.

Both are started once per session and stopped at its end (by their own handles, never by name).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .services import PostgresServer, start_moto, start_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster from Debian's packages (trust auth, 127.0.0.1 only)."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of a fresh, empty database for this test."""
    return postgres_server.create_database("dagster_" + uuid.uuid4().hex[:12])


@dataclass(frozen=True)
class S3Endpoint:
    """Where the moto S3 server listens, with the dummy credentials it accepts."""

    endpoint_url: str
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = "us-east-1"

    @property
    def host_port(self) -> str:
        return self.endpoint_url.split("://", 1)[1]

    def env(self) -> dict[str, str]:
        """Environment for processes that talk to this S3 (boto3 and pyarrow read these)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    def client(self):  # -> botocore S3 client (untyped library)
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Endpoint]:
    """An S3-compatible moto server on a free loopback port for the whole session."""
    server, endpoint = start_moto()
    try:
        yield S3Endpoint(endpoint)
    finally:
        server.stop()  # type: ignore[attr-defined]


@pytest.fixture
def s3_bucket(moto_s3: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; AWS_* variables point this process at moto for the test."""
    name = "clp-" + uuid.uuid4().hex[:12]
    for key, value in moto_s3.env().items():
        monkeypatch.setenv(key, value)
    moto_s3.client().create_bucket(Bucket=name)
    return name
