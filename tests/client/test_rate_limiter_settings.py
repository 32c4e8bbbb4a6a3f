"""Rate-limiter settings: where the database lives, the safety margin, the non-blocking form for
sensors, the org bucket, and a clear error when the Redis extra is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cleanlist_pipeline.api import (
    ConfigurationError,
    RateLimitConfig,
    RateLimiter,
    RateLimiterTimeoutError,
)
from cleanlist_pipeline.api.ratelimit import default_db_path


def test_db_lives_in_the_state_dir_given_never_where_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert default_db_path(tmp_path) == tmp_path / "cleanlist-ratelimit.sqlite"
    elsewhere = tmp_path / "dagster-home"
    monkeypatch.setenv("DAGSTER_HOME", str(elsewhere))
    without_dir = default_db_path()
    assert without_dir.name == "cleanlist-ratelimit.sqlite"
    assert "cleanlist-pipeline" in str(without_dir)
    assert elsewhere not in without_dir.parents  # DAGSTER_HOME is the Settings' business
    limiter = RateLimiter(RateLimitConfig(db_path=default_db_path(tmp_path)), "clapi_state_dir")
    try:
        assert limiter.db_path == tmp_path / "cleanlist-ratelimit.sqlite"
        assert limiter.try_acquire()
        assert limiter.db_path.exists()
    finally:
        limiter.close()


def test_config_repr_hides_the_redis_password() -> None:
    config = RateLimitConfig(
        backend="redis", redis_url="redis://:hunter2-secret@cache.internal:6379/0"
    )
    assert "hunter2-secret" not in repr(config)
    assert "hunter2-secret" not in str(config)
    assert "per_key=30" in repr(config)  # the documented default, from the contract


def test_try_acquire_never_blocks_and_honours_the_margin(tmp_path: Path) -> None:
    config = RateLimitConfig(
        per_key=4, per_org=100, window_seconds=60, db_path=tmp_path / "rl.sqlite"
    )
    limiter = RateLimiter(config, "clapi_budget_key")
    try:
        grants = [limiter.try_acquire() for _ in range(6)]
        assert grants == [True, True, True, False, False, False]  # 4 - 1 safety margin
        with pytest.raises(RateLimiterTimeoutError, match="no Cleanlist request slot"):
            limiter.acquire(max_wait=0.2)
    finally:
        limiter.close()


def test_second_limiter_on_same_file_sees_the_same_budget(tmp_path: Path) -> None:
    config = RateLimitConfig(per_key=3, window_seconds=60, db_path=tmp_path / "rl.sqlite")
    a, b = RateLimiter(config, "clapi_shared"), RateLimiter(config, "clapi_shared")
    other = RateLimiter(config, "clapi_another_key")
    try:
        assert a.try_acquire() and b.try_acquire()
        assert not a.try_acquire() and not b.try_acquire()
        assert other.try_acquire()  # buckets are per key
    finally:
        for lim in (a, b, other):
            lim.close()


def test_org_bucket_is_shared_by_keys_of_one_org(tmp_path: Path) -> None:
    config = RateLimitConfig(per_key=10, per_org=3, org_id="org_1", db_path=tmp_path / "rl.sqlite")
    k1, k2 = RateLimiter(config, "clapi_one"), RateLimiter(config, "clapi_two")
    try:
        assert k1.try_acquire() and k2.try_acquire()
        assert not k1.try_acquire() and not k2.try_acquire()  # org: 3 - 1 = 2 per window
    finally:
        k1.close()
        k2.close()


def test_redis_backend_without_the_extra_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # as if the optional extra were absent
    config = RateLimitConfig(backend="redis", redis_url="redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigurationError, match=r"cleanlist-pipeline\[redis\]"):
        RateLimiter(config, "clapi_x")


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimitConfig(per_key=0)
    with pytest.raises(ValueError):
        RateLimitConfig(backend="redis")
