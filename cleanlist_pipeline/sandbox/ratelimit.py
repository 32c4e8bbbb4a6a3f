"""Server-side rate limits: fixed 60 s windows per key and per org, counted in the database.

Windows follow the sandbox clock, so a test can move past a window instead of sleeping, and
every process serving the file shares the same counts.
"""

from __future__ import annotations

import sqlite3

WINDOW_SECONDS = 60


def check_and_count(
    c: sqlite3.Connection,
    now: float,
    key_hash: str,
    org_id: str,
    rpm_key: int,
    rpm_org: int,
    window_seconds: float = WINDOW_SECONDS,
) -> float | None:
    """Count the request, or return seconds until the window resets when over a limit (0 = off).

    Rejected requests are not counted, so a client that honours Retry-After gets through.
    ``window_seconds`` (setting ``rate_window_seconds``) shortens the window for benchmarks that
    run the same counts in less time.
    """
    window = int(now // window_seconds)
    kb, ob = "key:" + key_hash[:16], "org:" + org_id
    counts = dict(
        c.execute(
            "SELECT bucket, n FROM rate_windows WHERE window=? AND bucket IN (?, ?)",
            (window, kb, ob),
        ).fetchall()
    )
    if (rpm_key > 0 and counts.get(kb, 0) >= rpm_key) or (
        rpm_org > 0 and counts.get(ob, 0) >= rpm_org
    ):
        return (window + 1) * window_seconds - now
    c.executemany(
        "INSERT INTO rate_windows (bucket, window, n) VALUES (?, ?, 1)"
        " ON CONFLICT(bucket, window) DO UPDATE SET n = n + 1",
        [(kb, window), (ob, window)],
    )
    return None


def prune(c: sqlite3.Connection, now: float, keep_minutes: int = 120) -> None:
    """Drop windows older than ``keep_minutes`` (the ledger shows recent minutes only)."""
    c.execute(
        "DELETE FROM rate_windows WHERE window < ?", (int(now // WINDOW_SECONDS) - keep_minutes,)
    )
