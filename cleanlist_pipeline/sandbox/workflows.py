"""Enrichment workflows: credit reservation, clock-derived progress, exactly-once settlement.

A workflow stores only its start time and duration; its status is derived from the sandbox clock.
Once due, the first request (any request) settles it inside a write transaction guarded by the
``settled`` flag: leads get their deterministic results (a hash of the lead id decides: ~70 % an
e-mail, ~40 % a phone), credits settle pay-for-results and the unused reservation is refunded.
"""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
import zlib
from collections.abc import Sequence
from typing import Any

from cleanlist_pipeline.sandbox.cohorts import pack, unpack
from cleanlist_pipeline.sandbox.db import get_meta_json, set_meta
from cleanlist_pipeline.sandbox.errors import ApiError

# An independent reading of the API spec: never import cleanlist_pipeline.contract here.
UNIT_COST = {"partial": 1, "phone_only": 10, "full": 11}
PROVIDERS = ("leadmagic", "wiza", "prospeo")


def outcome(lead_id: str) -> tuple[bool, bool]:
    """Deterministic lookup result for a lead: (e-mail found, phone found)."""
    h = zlib.crc32(lead_id.encode())
    return h % 100 < 70, (h >> 8) % 100 < 40


def reserve(c: sqlite3.Connection, org_id: str, amount: int) -> None:
    """Move ``amount`` from the balance into the open reservation, or 400 insufficient_credits."""
    balance = c.execute("SELECT credits FROM orgs WHERE id=?", (org_id,)).fetchone()[0]
    if balance < amount:
        raise ApiError(
            400,
            "insufficient_credits",
            f"This run needs {amount} credits but the organization has {balance}.",
            fix="Top up credits or enrich fewer leads.",
            details={
                "estimated_cost_credits": amount,
                "available_credits": balance,
                "shortfall_credits": amount - balance,
            },
            extra={
                "estimated_cost_credits": amount,
                "available_credits": balance,
                "shortfall_credits": amount - balance,
            },
        )
    c.execute(
        "UPDATE orgs SET credits = credits - ?, reserved_open = reserved_open + ? WHERE id=?",
        (amount, amount, org_id),
    )


def dispatch(
    c: sqlite3.Connection,
    *,
    org_id: str,
    list_id: str,
    list_seq: int | None,
    enrichment_type: str,
    total: int,
    now: float,
    prefix: str,
    pos_range: tuple[int, int] | None = None,
    rids: Sequence[int] | None = None,
) -> str:
    """Reserve ``total * unit cost`` and start a workflow over a position range or rid set."""
    reserved = total * UNIT_COST[enrichment_type]
    reserve(c, org_id, reserved)
    settings = get_meta_json(c, "settings", {})
    will_fail = bool(settings.get("fail_next_workflow"))
    if will_fail:
        settings["fail_next_workflow"] = False
        set_meta(c, "settings", json.dumps(settings))
    wf_id = f"{prefix}-{secrets.token_hex(6)}"
    c.execute(
        "INSERT INTO workflows (id, org_id, list_id, list_seq, enrichment_type, total, pos_from,"
        " pos_to, lead_rids, started_at, duration, will_fail, reserved)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            wf_id,
            org_id,
            list_id,
            list_seq,
            enrichment_type,
            total,
            pos_range[0] if pos_range else None,
            pos_range[1] if pos_range else None,
            pack(rids) if rids is not None else None,
            now,
            float(settings.get("enrich_seconds", 5.0)),
            int(will_fail),
            reserved,
        ),
    )
    return wf_id


def settle_due(c: sqlite3.Connection, now: float) -> int:
    """Settle every workflow whose time is up (inside the caller's write transaction)."""
    due = c.execute(
        "SELECT id FROM workflows WHERE settled=0 AND started_at + duration <= ?", (now,)
    ).fetchall()
    for (wf_id,) in due:
        settle(c, wf_id)
    return len(due)


def _crc32(lead_id: str) -> int:
    return zlib.crc32(lead_id.encode())


# The settle set: one row per lead of the workflow that the lookup found something for.
# ``h`` is crc32(lead_id); ``fresh`` marks leads that had no provider yet (each of their lists
# gains one enriched lead).
_SETTLE_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS settle_set (rid INTEGER PRIMARY KEY, h INTEGER NOT NULL,"
    " e INTEGER NOT NULL, p INTEGER NOT NULL, fresh INTEGER NOT NULL)"
)
# ``outcome()`` in SQL. The crc is computed once per lead in a MATERIALIZED CTE, so SQLite
# does not call the Python function again for each use of ``h``.
_FILL_SETTLE_SET = (
    "WITH w AS MATERIALIZED (SELECT l.rid AS rid, sandbox_crc32(l.lead_id) AS h,"
    " COALESCE(x.provider, l.provider) IS NULL AS fresh FROM {source}"
    " LEFT JOIN lead_results x ON x.rid = l.rid)"
    " INSERT OR IGNORE INTO settle_set (rid, h, e, p, fresh)"
    " SELECT rid, h, :we AND h % 100 < 70, :wp AND (h >> 8) % 100 < 40, fresh FROM w"
    " WHERE (:we AND h % 100 < 70) OR (:wp AND (h >> 8) % 100 < 40)"
)
_RANGE_SOURCE = (
    "memberships m JOIN leads l ON l.rid = m.lead_rid"
    " AND m.list_seq = :seq AND m.pos BETWEEN :lo AND :hi"
)
_RIDS_SOURCE = "settle_rids q JOIN leads l ON l.rid = q.rid"
# Same values as the per-lead rule: keep what a lead has, fill what was found. Appends narrow
# rows to ``lead_results`` (an upsert when an earlier workflow already found something).
_APPLY_RESULTS = (
    "INSERT INTO lead_results (rid, email, phone, provider) SELECT s.rid,"
    " COALESCE(l.email, CASE WHEN s.e THEN 'contact.' || substr(l.lead_id, 6, 8)"
    " || '@example.com' END),"
    " COALESCE(l.phone, CASE WHEN s.p THEN printf('+1555%07d', s.h % 10000000) END),"
    " COALESCE(l.provider, CASE s.h % 3 WHEN 0 THEN '{}' WHEN 1 THEN '{}' ELSE '{}' END)"
    " FROM settle_set s JOIN leads l ON l.rid = s.rid WHERE true"
    " ON CONFLICT(rid) DO UPDATE SET email = COALESCE(lead_results.email, excluded.email),"
    " phone = COALESCE(lead_results.phone, excluded.phone),"
    " provider = COALESCE(lead_results.provider, excluded.provider)"
).format(*PROVIDERS)


def _fill_settle_set(
    c: sqlite3.Connection, wf: sqlite3.Row, want_email: bool, want_phone: bool
) -> None:
    c.create_function("sandbox_crc32", 1, _crc32, deterministic=True)
    c.execute(_SETTLE_TABLE)
    c.execute("DELETE FROM settle_set")
    params: dict[str, Any] = {"we": int(want_email), "wp": int(want_phone)}
    if wf["lead_rids"] is not None:
        c.execute("CREATE TEMP TABLE IF NOT EXISTS settle_rids (rid INTEGER PRIMARY KEY)")
        c.execute("DELETE FROM settle_rids")
        c.executemany(
            "INSERT OR IGNORE INTO settle_rids (rid) VALUES (?)",
            [(r,) for r in unpack(wf["lead_rids"])],
        )
        c.execute(_FILL_SETTLE_SET.format(source=_RIDS_SOURCE), params)
        c.execute("DELETE FROM settle_rids")
    else:
        params.update(seq=wf["list_seq"], lo=wf["pos_from"], hi=wf["pos_to"])
        c.execute(_FILL_SETTLE_SET.format(source=_RANGE_SOURCE), params)


def settle(c: sqlite3.Connection, wf_id: str) -> None:
    """Apply results and settle credits exactly once (the ``settled=0`` guard).

    Set-based: the per-lead decision (``outcome``) is computed in SQL into a temp table, then
    one upsert writes the results to ``lead_results``, one counts the charges and one grouped
    query moves the lists' ``enriched_count`` (docs/internals.md §1 has the measured times).
    """
    c.row_factory = sqlite3.Row
    try:
        wf = c.execute("SELECT * FROM workflows WHERE id=? AND settled=0", (wf_id,)).fetchone()
    finally:
        c.row_factory = None
    if wf is None:
        return
    etype = wf["enrichment_type"]
    emails = phones = 0
    if not wf["will_fail"]:
        _fill_settle_set(c, wf, etype in ("partial", "full"), etype in ("phone_only", "full"))
        emails, phones = (
            int(x or 0) for x in c.execute("SELECT SUM(e), SUM(p) FROM settle_set").fetchone()
        )
        if emails or phones:
            gained = c.execute(
                "SELECT m.list_seq, COUNT(*) FROM settle_set s JOIN memberships m"
                " ON m.lead_rid = s.rid WHERE s.fresh GROUP BY m.list_seq"
            ).fetchall()
            c.execute(_APPLY_RESULTS)
            c.executemany(
                "UPDATE lists SET enriched_count = enriched_count + ? WHERE seq = ?",
                [(n, seq) for seq, n in gained],
            )
            # WHERE true: SQLite needs it to parse an upsert whose source is a SELECT.
            c.execute(
                "INSERT INTO lead_charges (lead_rid, n) SELECT rid, 1 FROM settle_set"
                " WHERE true ON CONFLICT(lead_rid) DO UPDATE SET n = n + 1"
            )
        c.execute("DELETE FROM settle_set")
    charged = emails + 10 * phones
    refunded = wf["reserved"] - charged
    c.execute(
        "UPDATE orgs SET credits = credits + ?, reserved_open = reserved_open - ?,"
        " charged_total = charged_total + ?, refunded_total = refunded_total + ?"
        " WHERE id=?",
        (refunded, wf["reserved"], charged, refunded, wf["org_id"]),
    )
    c.execute(
        "UPDATE workflows SET settled=1, final_status=?, credits_charged=?,"
        " credits_refunded=?, emails_found=?, phones_found=? WHERE id=?",
        ("failed" if wf["will_fail"] else "completed", charged, refunded, emails, phones, wf_id),
    )


def status_body(
    c: sqlite3.Connection, wf_id: str, handle: str, now: float, ts_ms: int
) -> dict[str, Any]:
    """WorkflowStatusResponse for a (settled or running) workflow."""
    c.row_factory = sqlite3.Row
    try:
        wf = c.execute("SELECT * FROM workflows WHERE id=?", (wf_id,)).fetchone()
    finally:
        c.row_factory = None
    total = wf["total"]
    body: dict[str, Any] = {
        "workflow_id": handle,
        "enrichment_type": wf["enrichment_type"],
        "lead_list_id": wf["list_id"],
        "total": total,
        "result": None,
        "timestamp_ms": ts_ms,
    }
    if wf["settled"]:
        failed = wf["final_status"] == "failed"
        refunded = wf["credits_refunded"]
        body.update(
            {
                "status": wf["final_status"],
                "progress": 100,
                "processed": total,
                "completed": 0 if failed else total,
                "failed": total if failed else 0,
                "summary": {"emails_found": wf["emails_found"], "phones_found": wf["phones_found"]},
                "refund_status": "not_applicable",
                "refund_message": None,
                "credits_charged": wf["credits_charged"],
                # The contract: null "when the full reservation was used".
                "credits_refunded": refunded if refunded else None,
            }
        )
        return body
    elapsed = now - wf["started_at"]
    frac = elapsed / wf["duration"] if wf["duration"] > 0 else 1.0
    status = "pending" if frac < 0.1 else "running"
    progress = max(0, min(99, math.floor(frac * 100)))
    processed = total * progress // 100
    body.update(
        {
            "status": status,
            "progress": progress,
            "processed": processed,
            "completed": processed,
            "failed": 0,
            "summary": None,
            "refund_status": None,
            "refund_message": None,
            "credits_charged": None,
            "credits_refunded": None,
        }
    )
    return body
