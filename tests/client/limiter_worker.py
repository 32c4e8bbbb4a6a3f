"""Subprocess body for the cross-process rate-limit test (not a test module).

Usage: python limiter_worker.py BASE_URL KEY DB_PATH PER_KEY WINDOW CALLS MAX_WAIT
Prints one JSON line: {"ok", "local_timeouts", "http_429", "times"}.
"""

from __future__ import annotations

import json
import sys
import time

from cleanlist_pipeline.api import (
    CleanlistClient,
    RateLimitConfig,
    RateLimitedError,
    RateLimiterTimeoutError,
    RetryPolicy,
)


def main() -> None:
    base, key, db, per_key, window, calls, max_wait = sys.argv[1:8]
    config = RateLimitConfig(
        per_key=int(per_key),
        per_org=100_000,
        window_seconds=float(window),
        db_path=db,
        max_wait=float(max_wait),
    )
    out = {"ok": 0, "local_timeouts": 0, "http_429": 0, "times": []}
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
