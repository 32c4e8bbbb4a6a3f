"""The Redis rate-limiter backend against a live redis-server and a live sandbox process.

A client with ``RateLimitConfig(backend="redis")`` calls through buckets stored in Redis under
the key's fingerprint (never the key), two OS processes sharing one Redis stay within one key's
limit without a 429, and a spent budget outlives the client that spent it. The worker processes
are ``tests/client/limiter_worker.py`` (the SQLite tests' too), given a ``redis://`` URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import redis

from cleanlist_pipeline.api import (
    CleanlistClient,
    RateLimitConfig,
    RateLimiterTimeoutError,
)
from cleanlist_pipeline.api.ratelimit import key_fingerprint
from cleanlist_pipeline.testing import SandboxHandle
from tests.client.limiter_worker import run_workers

from .redis_server import RedisServer, RedisServerMissingError, start_redis_server

PREFIX = b"cleanlist-pipeline:"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for this module (free loopback port, no persistence).

    Fails (never skips) when redis-server is missing: the message says how to install it.
    """
    stack = ExitStack()
    try:
        server = stack.enter_context(start_redis_server())
    except RedisServerMissingError as exc:
        missing = str(exc)
    else:
        missing = ""
    if missing:  # failed outside the except block: one clear message, no chained traceback
        pytest.fail(missing, pytrace=False)
    with stack:
        yield server


@pytest.fixture
def redis_db(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A connection to the test server, emptied before the test."""
    conn = redis.Redis.from_url(redis_server.url)
    conn.flushall()
    try:
        yield conn
    finally:
        conn.close()


def redis_config(url: str, **kw: Any) -> RateLimitConfig:
    """A Redis-backed limiter config; per-org limit out of the way unless given."""
    kw.setdefault("per_org", 100_000)
    return RateLimitConfig(backend="redis", redis_url=url, **kw)


def every_stored_byte(conn: redis.Redis) -> list[bytes]:
    """Every key name, member and serialized value the server holds."""
    found: list[bytes] = []
    for name in conn.scan_iter(match="*"):
        found.append(name)
        dumped = conn.dump(name)
        assert isinstance(dumped, bytes)
        found.append(dumped)
        if conn.type(name) == b"zset":
            found.extend(member for member, _ in conn.zrange(name, 0, -1, withscores=True))
    return found


def requests_counted(sandbox: SandboxHandle) -> int:
    """Requests the sandbox counted, over every route."""
    return sum(sandbox.ledger()["requests"].values())


def test_calls_go_through_buckets_named_by_key_fingerprint(
    cleanlist_sandbox: SandboxHandle,
    client_factory: Callable[..., CleanlistClient],
    redis_db: redis.Redis,
    redis_server: RedisServer,
) -> None:
    key = cleanlist_sandbox.key
    org_id = "org_redis_limiter_test"
    client = client_factory(
        key, cleanlist_sandbox.v2, rate_limit=redis_config(redis_server.url, org_id=org_id)
    )

    balance = client.credits_balance()
    assert balance.credits > 0
    assert client.whoami().organization_id == balance.organization_id
    assert list(client.iter_lists())
    calls = requests_counted(cleanlist_sandbox)
    assert calls >= 3

    names = sorted(redis_db.keys("*"))
    key_bucket = PREFIX + f"k_{key_fingerprint(key)}".encode()
    assert key_bucket in names
    org_buckets = [n for n in names if n.startswith(PREFIX + b"o_")]
    assert len(org_buckets) == 1 and len(names) == 2, names
    # Every request the server saw took exactly one slot in each bucket.
    assert redis_db.zcard(key_bucket) == calls
    assert redis_db.zcard(org_buckets[0]) == calls
    stored = every_stored_byte(redis_db)
    for secret in (key.encode(), key.removeprefix("clapi_").encode(), org_id.encode()):
        assert not any(secret in blob for blob in stored)


def test_two_processes_share_one_redis_budget_without_429(
    cleanlist_sandbox: SandboxHandle, redis_db: redis.Redis, redis_server: RedisServer
) -> None:
    rpm_key = 10
    cleanlist_sandbox.settings(rpm_key=rpm_key)  # the server answers 429 above 10/min per key
    key = cleanlist_sandbox.add_key()
    # Each process alone would send 8; together they may send only 10 - 1 (safety margin).
    results = run_workers(2, cleanlist_sandbox.v2, key, redis_server.url, rpm_key, 60, 8, 2)

    assert sum(r["http_429"] for r in results) == 0
    assert sum(r["ok"] for r in results) == rpm_key - 1
    assert all(r["ok"] > 0 for r in results)  # both processes got slots: the budget is shared
    assert sum(r["local_timeouts"] for r in results) >= 1  # the rest waited, then gave up
    ledger = cleanlist_sandbox.ledger()
    assert not ledger["rate_limited"]
    per_minute = [n for minutes in ledger["requests_per_minute"].values() for n in minutes.values()]
    assert sum(per_minute) == rpm_key - 1 and max(per_minute) <= rpm_key
    assert redis_db.zcard(PREFIX + f"k_{key_fingerprint(key)}".encode()) == rpm_key - 1


def test_two_processes_wait_for_the_redis_window_to_refill(
    cleanlist_sandbox: SandboxHandle, redis_db: redis.Redis, redis_server: RedisServer
) -> None:
    key = cleanlist_sandbox.add_key()
    # 6 per 2 s minus the margin = 5 per 2 s shared: 12 calls need at least 2 refills (≥ 4 s).
    results = run_workers(2, cleanlist_sandbox.v2, key, redis_server.url, 6, 2, 6, 20)

    assert sum(r["http_429"] for r in results) == 0
    assert sum(r["ok"] for r in results) == 12
    times = sorted(t for r in results for t in r["times"])
    assert times[-1] - times[0] >= 3.5
    # No 2-second window holds more than 5 slots. ``times`` are when calls *returned*, so a slot
    # taken just before a window ended can finish inside the next one: allow 0.5 s of latency.
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 1.5) <= 5


def test_spent_budget_outlives_the_client_that_spent_it(
    cleanlist_sandbox: SandboxHandle,
    client_factory: Callable[..., CleanlistClient],
    redis_db: redis.Redis,
    redis_server: RedisServer,
) -> None:
    key = cleanlist_sandbox.add_key()
    config = redis_config(redis_server.url, per_key=4, window_seconds=60, max_wait=0.5)
    with CleanlistClient(key, cleanlist_sandbox.v2, rate_limit=config) as first:
        for _ in range(3):  # 4 - 1 safety margin
            first.credits_balance()
    assert first.closed

    restarted = client_factory(key, cleanlist_sandbox.v2, rate_limit=config)
    assert restarted.try_acquire() is False
    started = time.monotonic()
    with pytest.raises(RateLimiterTimeoutError, match="no Cleanlist request slot"):
        restarted.credits_balance()
    assert time.monotonic() - started < 5
    assert requests_counted(cleanlist_sandbox) == 3  # the refused call never reached the server

    other = client_factory(cleanlist_sandbox.add_key(), cleanlist_sandbox.v2, rate_limit=config)
    assert other.try_acquire() is True  # buckets are per key
    other.credits_balance()
    assert requests_counted(cleanlist_sandbox) == 4


def test_closing_the_client_closes_its_redis_connections(
    cleanlist_sandbox: SandboxHandle, redis_db: redis.Redis, redis_server: RedisServer
) -> None:
    def clients() -> int:
        return len(redis_db.client_list())  # this test's own connection included

    before = clients()
    config = redis_config(
        redis_server.url, per_key=30, window_seconds=60, max_wait=5, org_id="org-close-test"
    )
    client = CleanlistClient(cleanlist_sandbox.add_key(), cleanlist_sandbox.v2, rate_limit=config)
    client.credits_balance()
    assert clients() == before + 2  # key bucket and org bucket
    client.close()
    # The server drops a closed connection from CLIENT LIST asynchronously: under load that
    # takes a moment, so wait (bounded) instead of reading it once; a leak still fails.
    deadline = time.monotonic() + 5
    while clients() != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert clients() == before
