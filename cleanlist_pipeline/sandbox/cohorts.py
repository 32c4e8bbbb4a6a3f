"""Cohort handles (``cl-task_…``): a page's lead ids, stored with an expiry on the sandbox clock."""

from __future__ import annotations

import random
import secrets
import sqlite3
from array import array
from collections.abc import Sequence

from cleanlist_pipeline.sandbox.db import select_in
from cleanlist_pipeline.sandbox.errors import ApiError, not_found


def pack(rids: Sequence[int]) -> bytes:
    """Lead rids → compact blob (8 bytes each)."""
    return array("q", rids).tobytes()


def unpack(blob: bytes | None) -> list[int]:
    """Blob → lead rids."""
    a = array("q")
    if blob:
        a.frombytes(blob)
    return a.tolist()


def new_cohort(
    c: sqlite3.Connection,
    org_id: str,
    list_seq: int | None,
    rids: Sequence[int],
    now: float,
    ttl: float,
    workflow_id: str | None = None,
) -> str:
    """Store a cohort and return its handle; now and then drops long-expired ones."""
    handle = "cl-task_" + secrets.token_hex(12)
    c.execute(
        "INSERT INTO cohorts (handle, org_id, list_seq, lead_rids, created_at, expires_at,"
        " workflow_id) VALUES (?,?,?,?,?,?,?)",
        (handle, org_id, list_seq, pack(rids), now, now + ttl, workflow_id),
    )
    if random.random() < 0.01:
        c.execute(
            "DELETE FROM cohorts WHERE expires_at < ? AND workflow_id IS NULL", (now - 86400,)
        )
    return handle


def load_cohort(c: sqlite3.Connection, org_id: str, handle: str, now: float) -> list[int]:
    """The rids of a live cohort of this org; 404 ``not_found`` if unknown or expired."""
    row = c.execute(
        "SELECT lead_rids, expires_at FROM cohorts WHERE handle=? AND org_id=?", (handle, org_id)
    ).fetchone()
    if row is None or row[1] < now:
        raise ApiError(
            404,
            "not_found",
            "The task handle is unknown or has expired.",
            fix="Re-run the search or re-read the list page to get a fresh task_id.",
            details={"task_id": handle},
        )
    return unpack(row[0])


def resolve_entities(
    c: sqlite3.Connection, cohort: list[int], entity_ids: Sequence[str] | None
) -> list[int]:
    """Cohort rids limited to ``entity_ids`` (lead ids); ids outside the cohort → 404."""
    if entity_ids is None:
        return cohort
    wanted = list(dict.fromkeys(entity_ids))
    found = dict(select_in(c, "SELECT lead_id, rid FROM leads WHERE lead_id IN ({ids})", wanted))
    members = set(cohort)
    missing = [e for e in wanted if found.get(e) not in members]
    if missing:
        raise not_found("Entity", {"entity_ids_not_in_cohort": missing[:10], "count": len(missing)})
    return [found[e] for e in wanted]
