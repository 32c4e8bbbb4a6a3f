"""The sandbox's fixed identities and its ``meta`` table (settings, clock, faults, secret).

A leaf below ``db`` (schema, connections) and ``seed`` (the fresh-sandbox world): both need
these, and neither may import the other's module for them.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

DEFAULT_ORG = "org_sandbox"
DEFAULT_USER = "u_sandbox_owner"
TEAMMATE_USER = "u_sandbox_teammate"


def set_meta(c: sqlite3.Connection, key: str, value: str) -> None:
    """Upsert one meta row."""
    c.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        (key, value),
    )


def get_meta(c: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    """One meta value, or ``default``."""
    row = c.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return row[0] if row else default


def get_meta_json(c: sqlite3.Connection, key: str, default: Any) -> Any:
    """One meta value decoded from JSON, or ``default``."""
    raw = get_meta(c, key)
    return json.loads(raw) if raw is not None else default


def load_meta(c: sqlite3.Connection) -> dict[str, str]:
    """All meta rows (a handful) in one query: settings, clock, faults, secret."""
    return dict(c.execute("SELECT key, value FROM meta").fetchall())
