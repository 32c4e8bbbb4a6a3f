"""Client-side rate limiting shared by every process on the machine (or across machines).

Cleanlist allows 30 requests/min per key and 60/min per organization (reference §6) and answers
429 above that. Dagster runs many processes at once (a run per partition, sensors, the
webserver), so a per-process limiter is not enough: the buckets live in a SQLite file guarded by
a file lock (pyrate-limiter's ``SQLiteBucket`` with ``use_file_lock=True``), or in Redis for
executors that spread over several machines.

Choices:

* Every request counts — reads and status polls too (the docs do not exempt them).
* A *safety margin* (default 1) is taken off each limit: our clock and the server's disagree a
  little, and a request counted in our window may land in the server's next.
* Buckets are named by a hash of the API key, never the key; the file holds only timestamps.
* The per-organization bucket is keyed by ``RateLimitConfig.org_id`` when given (set it when
  several keys of one organization run on the same machine or Redis). When it is not given the
  organization is unknown and the bucket would be keyed by the key hash — the same requests as
  the per-key bucket — so only ``min(per_key, per_org)`` applies and that second bucket is
  skipped. We do not call ``whoami`` to learn the organization: that call would itself need a slot,
  and a bucket that changes name mid-run would forget what was already spent.
* ``try_acquire()`` never blocks: sensors use it for a per-tick budget.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cleanlist_pipeline.api.errors import ConfigurationError, RateLimiterTimeoutError
from cleanlist_pipeline.contract import (
    RATE_LIMIT_PER_KEY,
    RATE_LIMIT_PER_ORG,
    RATE_LIMIT_WINDOW_SECONDS,
)

__all__ = ["DB_NAME", "RateLimitConfig", "RateLimiter", "default_db_path", "key_fingerprint"]

_log = logging.getLogger("cleanlist_pipeline.api")
_ITEM = "cleanlist"


def key_fingerprint(api_key: str) -> str:
    """A short, non-reversible name for a key (safe in file names, logs and bucket names)."""
    return hashlib.sha256(b"cleanlist-pipeline-key:" + api_key.encode("utf-8")).hexdigest()[:16]


#: The limiter file's name inside a state directory.
DB_NAME = "cleanlist-ratelimit.sqlite"


def default_db_path(state_dir: str | Path | None = None) -> Path:
    """``<state_dir>/cleanlist-ratelimit.sqlite``; without a directory, the user's cache directory.

    Only processes that name the same file share a budget: the Dagster resource passes its
    deployment's state directory, so every run, step and sensor process of it counts together.

    >>> default_db_path("/srv/dagster").as_posix()
    '/srv/dagster/cleanlist-ratelimit.sqlite'
    """
    if state_dir is not None:
        return Path(state_dir) / DB_NAME
    import platformdirs

    return Path(platformdirs.user_cache_dir("cleanlist-pipeline")) / DB_NAME


@dataclass(frozen=True)
class RateLimitConfig:
    """Rate-limit settings (requests per ``window_seconds``).

    >>> RateLimitConfig(per_key=20, window_seconds=60).effective_per_key
    19
    """

    per_key: int = RATE_LIMIT_PER_KEY
    per_org: int = RATE_LIMIT_PER_ORG
    window_seconds: float = RATE_LIMIT_WINDOW_SECONDS
    safety_margin: int = 1
    backend: Literal["sqlite", "redis", "memory"] = "sqlite"
    #: The SQLite file shared by every process that should count together (see
    #: :func:`default_db_path`, used when this is None).
    db_path: str | Path | None = None
    #: May hold a password: kept out of the repr (reprs end up in logs and tracebacks).
    redis_url: str | None = field(default=None, repr=False)
    org_id: str | None = None
    #: Longest a blocking ``acquire`` waits for a slot before raising RateLimiterTimeoutError.
    max_wait: float = 300.0

    def __post_init__(self) -> None:
        if self.per_key < 1 or self.per_org < 1:
            raise ValueError("rate limits must be at least 1 request per window")
        if self.window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        if self.backend == "redis" and not self.redis_url:
            raise ValueError("backend='redis' needs redis_url")

    @property
    def effective_per_key(self) -> int:
        """The per-key limit minus the safety margin (at least 1)."""
        return max(self.per_key - self.safety_margin, 1)

    @property
    def effective_per_org(self) -> int:
        """The per-org limit minus the safety margin (at least 1)."""
        return max(self.per_org - self.safety_margin, 1)


class _FlockLock:
    """Cross-process lock on ``path``: a thread lock plus ``fcntl.flock`` (a few µs).

    pyrate-limiter guards its SQLite bucket with ``filelock.FileLock``, which costs ~120 µs per
    acquire in Python bookkeeping — more than the SQL itself, on every request. This does the
    same job (the OS lock on ``<db>.lock``) for ~2 µs. The descriptor is reopened after a fork:
    flock locks belong to the open file description, which a forked child would share.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._thread_lock = threading.RLock()
        self._fd: int | None = None
        self._pid = 0
        self._depth = 0

    def __enter__(self) -> _FlockLock:
        import fcntl

        self._thread_lock.acquire()
        if self._depth == 0:
            if self._pid != os.getpid() or self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._depth += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        import fcntl

        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        with self._thread_lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


class _Slot:
    """One pyrate-limiter bucket, used directly.

    pyrate-limiter's ``Limiter`` wrapper is not used: its background leak thread takes the same
    (thread-local) file lock and makes callers poll for it, adding ~50 ms stalls, and it crashes
    noisily when its last bucket is disposed. ``bucket.put`` alone is atomic (the SQLite bucket
    counts and inserts under the file lock; the Redis bucket runs one Lua script), and we leak
    expired items ourselves once per window.
    """

    def __init__(self, bucket: Any, limit: int, window_ms: int) -> None:
        self.bucket = bucket
        self.limit = limit
        self.window_ms = window_ms
        self._next_leak = 0

    def try_acquire(self) -> bool:
        from pyrate_limiter import RateItem

        now = int(time.time() * 1000)
        if now >= self._next_leak:
            self._next_leak = now + self.window_ms
            self.bucket.leak(now)
        return bool(self.bucket.put(RateItem(_ITEM, now)))

    def wait_hint(self) -> float:
        """Seconds until the bucket should have room again (a hint; we re-check anyway)."""
        from pyrate_limiter import RateItem

        try:
            ms = self.bucket.waiting(RateItem(_ITEM, int(time.time() * 1000)))
        except Exception:  # a racing leak can empty the bucket under us; just poll soon
            ms = 50
        return max(int(ms), 10) / 1000.0

    def close(self) -> None:
        # SQLiteBucket keeps its connection in ``conn``, RedisBucket its client in ``redis``
        for name in ("conn", "redis"):
            conn = getattr(self.bucket, name, None)
            if conn is not None:
                conn.close()
        lock = getattr(self.bucket, "lock", None)
        if isinstance(lock, _FlockLock):
            lock.close()


class RateLimiter:
    """Blocking and non-blocking request slots for one API key, shared across processes.

    >>> limiter = RateLimiter(RateLimitConfig(backend="memory"), "clapi_example")
    >>> limiter.try_acquire()
    True
    >>> limiter.close()
    """

    def __init__(self, config: RateLimitConfig, api_key: str) -> None:
        self.config = config
        self.key_hash = key_fingerprint(api_key)
        self._lock = threading.Lock()
        self._closed = False
        window_ms = int(config.window_seconds * 1000)
        self.db_path: Path | None = None
        if config.backend == "sqlite":
            self.db_path = Path(config.db_path) if config.db_path else default_db_path()
            if self.db_path.suffix != ".sqlite":
                raise ConfigurationError(
                    f"rate-limit db_path must end in .sqlite (got {self.db_path.name})"
                )
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        per_key = config.effective_per_key
        if not config.org_id:
            # Organization unknown: its bucket would count exactly this key's requests.
            per_key = min(per_key, config.effective_per_org)
        self._slots: list[_Slot] = [self._make_slot(f"k_{self.key_hash}", per_key, window_ms)]
        if config.org_id:
            org_hash = hashlib.sha256(config.org_id.encode("utf-8")).hexdigest()[:16]
            self._slots.append(
                self._make_slot(f"o_{org_hash}", config.effective_per_org, window_ms)
            )

    def _make_slot(self, name: str, limit: int, window_ms: int) -> _Slot:
        from pyrate_limiter import Rate

        rates = [Rate(limit, window_ms)]
        if self.config.backend == "sqlite":
            from pyrate_limiter import SQLiteBucket

            assert self.db_path is not None
            # init_from_file creates the table under filelock's lock on "<db>.lock" (WAL mode);
            # the bucket then uses a cheaper flock on the same file for every request.
            bucket: Any = SQLiteBucket.init_from_file(
                rates, table=name, db_path=str(self.db_path), use_file_lock=True
            )
            if hasattr(os, "fork"):  # POSIX: fcntl is there; elsewhere keep filelock
                lock = _FlockLock(str(self.db_path) + ".lock")
                bucket = SQLiteBucket(rates, bucket.conn, table=name, lock=lock)
        elif self.config.backend == "redis":
            try:
                import redis  # optional extra: pip install 'cleanlist-pipeline[redis]'
            except ImportError as exc:
                raise ConfigurationError(
                    "backend='redis' needs the redis package: pip install 'cleanlist-pipeline[redis]'"
                ) from exc
            from pyrate_limiter import RedisBucket

            client = redis.Redis.from_url(str(self.config.redis_url))
            bucket = RedisBucket.init(rates, client, f"cleanlist-pipeline:{name}")
        else:
            from pyrate_limiter import InMemoryBucket

            bucket = InMemoryBucket(rates)
        return _Slot(bucket, limit, window_ms)

    def try_acquire(self) -> bool:
        """Take a slot now if one is free; never waits.

        A slot taken from the key bucket is not given back when the org bucket is full: the
        error is on the safe side (one request fewer in this window).
        """
        with self._lock:
            return all(slot.try_acquire() for slot in self._slots)

    def acquire(self, max_wait: float | None = None) -> float:
        """Wait for a slot in every bucket; return the seconds waited.

        Raises ``RateLimiterTimeoutError`` after ``max_wait`` (default ``config.max_wait``).
        """
        budget = self.config.max_wait if max_wait is None else max_wait
        start = time.monotonic()
        deadline = start + budget
        for slot in self._slots:
            while True:
                with self._lock:
                    if slot.try_acquire():
                        break
                    hint = slot.wait_hint()
                now = time.monotonic()
                if now >= deadline:
                    scope = "key" if slot is self._slots[0] else "organization"
                    raise RateLimiterTimeoutError(
                        f"no Cleanlist request slot free within {budget:.0f}s "
                        f"(limit {slot.limit} per {self.config.window_seconds:g}s per {scope}); "
                        f"other processes are using the same {scope}'s budget"
                    )
                # A little jitter so processes woken together do not collide on the lock.
                time.sleep(min(hint + random.uniform(0, 0.02), max(deadline - now, 0.0)))
        return time.monotonic() - start

    def close(self) -> None:
        """Release the database connections."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for slot in self._slots:
                slot.close()
