"""Worker processes for the cross-process rate-limit tests (not a test module).

Usage: python limiter_worker.py BASE_URL KEY STORE PER_KEY WINDOW CALLS MAX_WAIT
STORE is the SQLite limiter file, or a ``redis://`` URL for the Redis backend.
Prints one JSON line: {"ok", "local_timeouts", "http_429", "times"}.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cleanlist_pipeline.api import (
    CleanlistClient,
    RateLimitConfig,
    RateLimitedError,
    RateLimiterTimeoutError,
    RetryPolicy,
)


def run_workers(n: int, *args: object, timeout: float = 120) -> list[dict[str, Any]]:
    """Start ``n`` workers at once with ``args`` (see the usage above); their JSON results."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(Path(__file__)), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def main() -> None:
    base, key, store, per_key, window, calls, max_wait = sys.argv[1:8]
    where: dict[str, Any] = (
        {"backend": "redis", "redis_url": store}
        if store.startswith("redis://")
        else {"db_path": store}
    )
    config = RateLimitConfig(
        per_key=int(per_key),
        per_org=100_000,
        window_seconds=float(window),
        max_wait=float(max_wait),
        **where,
    )
    out: dict[str, Any] = {"ok": 0, "local_timeouts": 0, "http_429": 0, "times": []}
    # Retries off: a 429 from the server must surface here, not be waited out silently.
    with CleanlistClient(key, base, rate_limit=config, retry=RetryPolicy.disabled()) as client:
        for _ in range(int(calls)):
            try:
                client.credits_balance()
                out["ok"] += 1
                out["times"].append(time.time())
            except RateLimiterTimeoutError:
                out["local_timeouts"] += 1
                break  # the window is spent; waiting longer proves nothing more
            except RateLimitedError:
                out["http_429"] += 1
    print(json.dumps(out))


if __name__ == "__main__":
    main()
