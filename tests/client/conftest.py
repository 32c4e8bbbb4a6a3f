"""Fixtures for the client tests: clients bound to the session's sandbox process, and a small
MockTransport helper for the few behaviours a real server cannot show (malformed answers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import stamina

from cleanlist_pipeline.api import CleanlistClient, RetryPolicy
from cleanlist_pipeline.testing import SandboxHandle

FAST_RETRY = RetryPolicy(max_attempts=6, backoff_initial=0.01, backoff_max=0.05, max_total_wait=30)


@pytest.fixture(autouse=True)
def _stamina_active() -> None:
    """Retries are what these tests check: make sure nothing left stamina switched off."""
    stamina.set_active(True)


@pytest.fixture(params=["v1", "v2"])
def prefix(request: pytest.FixtureRequest) -> str:
    """Both documented API prefixes: every sandbox test runs against each."""
    return str(request.param)


@pytest.fixture
def client_factory() -> Iterator[Callable[..., CleanlistClient]]:
    """``CleanlistClient(key, base_url, **kw)`` with the test defaults (rate limiter off, fast
    retries); every client made is closed at teardown."""
    made: list[CleanlistClient] = []

    def make(key: str, base_url: str, **kw: Any) -> CleanlistClient:
        kw.setdefault("rate_limit", None)
        kw.setdefault("retry", FAST_RETRY)
        client = CleanlistClient(key, base_url, **kw)
        made.append(client)
        return client

    yield make
    for c in made:
        c.close()


@pytest.fixture
def make_client(
    cleanlist_sandbox: SandboxHandle, client_factory: Callable[..., CleanlistClient]
) -> Callable[..., CleanlistClient]:
    """Build clients against the sandbox (closed at teardown); rate limiter off by default."""

    def make(prefix: str = "v2", key: str | None = None, **kw: Any) -> CleanlistClient:
        base = cleanlist_sandbox.v1 if prefix == "v1" else cleanlist_sandbox.v2
        return client_factory(key or cleanlist_sandbox.key, base, **kw)

    return make


@pytest.fixture
def client(make_client: Callable[..., CleanlistClient], prefix: str) -> CleanlistClient:
    """A client on the parametrised prefix."""
    return make_client(prefix)


MOCK_KEY = "clapi_mock_key_0123456789abcdef"


@pytest.fixture
def mock_client(
    client_factory: Callable[..., CleanlistClient],
) -> Callable[..., CleanlistClient]:
    """Factory: a client whose HTTP goes to ``handler`` (no network, no limiter)."""

    def make(
        handler: Callable[[httpx.Request], httpx.Response],
        *,
        base_url: str = "https://api.cleanlist.ai/api/v2",
        key: str = MOCK_KEY,
        **kw: Any,
    ) -> CleanlistClient:
        return client_factory(key, base_url, transport=httpx.MockTransport(handler), **kw)

    return make


@pytest.fixture
def seeded_lead_ids(
    client: CleanlistClient, cleanlist_sandbox: SandboxHandle
) -> Callable[[int], list[str]]:
    """Seed a sandbox list of ``n`` leads; return their ids as the client reads them back."""

    def seed(n: int) -> list[str]:
        source = cleanlist_sandbox.seed_list("source", n)
        return [lead.lead_id for lead in client.iter_leads(source)]

    return seed


@pytest.fixture
def ledger_requests(cleanlist_sandbox: SandboxHandle) -> Callable[[str], int]:
    """How many requests the sandbox ledger counted for a route, e.g. "GET /lead-lists"."""

    def count(route: str) -> int:
        return int(cleanlist_sandbox.ledger()["requests"].get(route, 0))

    return count
