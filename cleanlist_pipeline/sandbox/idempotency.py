"""Server-side idempotency cache: org-wide, 24 h on the sandbox clock, successful answers only."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from cleanlist_pipeline.sandbox.db import hash_key

TTL_SECONDS = 24 * 3600


def lookup(
    c: sqlite3.Connection, org_id: str, kind: str, key: str, now: float
) -> tuple[str, int, dict[str, Any]] | None:
    """(list_id, status, body) of a live cached answer, else None."""
    row = c.execute(
        "SELECT list_id, status, body, created_at FROM idempotency"
        " WHERE org_id=? AND kind=? AND key_hash=?",
        (org_id, kind, hash_key(key)),
    ).fetchone()
    if row is None or row[3] <= now - TTL_SECONDS:
        return None
    return row[0], row[1], json.loads(row[2])


def store(
    c: sqlite3.Connection,
    org_id: str,
    kind: str,
    key: str,
    list_id: str,
    status: int,
    body: dict[str, Any],
    now: float,
) -> None:
    """Cache a successful answer (replacing an expired entry under the same key)."""
    c.execute(
        "INSERT OR REPLACE INTO idempotency (org_id, kind, key_hash, list_id, status, body,"
        " created_at) VALUES (?,?,?,?,?,?,?)",
        (org_id, kind, hash_key(key), list_id, status, json.dumps(body), now),
    )
