"""Signed, single-use cost quotes (``qte_<kid>_<issued_at>_<sig>``), 5 minutes on the sandbox clock.

The HMAC secret lives in the database, so any process serving the file verifies any quote; the
stored row carries what the quote is bound to (tool, list or cohort, enrichment type, cost).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from typing import Any

from cleanlist_pipeline.sandbox.errors import ApiError

QUOTE_TTL_SECONDS = 300
QUOTE_RE = re.compile(r"^qte_(k[0-9a-f]+)_(\d+)_([0-9a-f]{32})$")


def issue(
    c: sqlite3.Connection,
    *,
    secret: str,
    kid: str,
    org_id: str,
    tool: str,
    list_id: str | None,
    task_id: str | None,
    enrichment_type: str | None,
    row_count: int,
    cost: int,
    now: float,
) -> tuple[str, int]:
    """Store and sign a quote; returns (quote_id, expires_at epoch seconds)."""
    issued = int(now)
    nonce = secrets.token_hex(8)
    msg = f"{kid}|{issued}|{nonce}|{org_id}|{tool}|{list_id}|{task_id}|{enrichment_type}|{cost}"
    sig = hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()[:32]
    quote_id = f"qte_{kid}_{issued}_{sig}"
    expires = int(now + QUOTE_TTL_SECONDS)
    c.execute(
        "INSERT INTO quotes (quote_id, org_id, tool, list_id, task_id, enrichment_type,"
        " row_count, cost, expires_at) VALUES (?,?,?,?,?,?,?,?,?)",
        (quote_id, org_id, tool, list_id, task_id, enrichment_type, row_count, cost, expires),
    )
    return quote_id, expires


def _bad(code: str, problem: str, details: dict[str, Any]) -> ApiError:
    return ApiError(
        400,
        code,
        problem,
        details=details,
        fix="Call POST /credits/estimate for a fresh quote and pass its quote_id.",
    )


def redeem(
    c: sqlite3.Connection,
    *,
    org_id: str,
    quote_id: str,
    tool: str,
    now: float,
    cost: int,
    list_id: str | None = None,
    task_id: str | None = None,
    enrichment_type: str | None = None,
) -> None:
    """Check a quote against the call and mark it used (same transaction as the spend)."""
    d = {"quote_id": quote_id}
    if not QUOTE_RE.match(quote_id):
        raise _bad("quote_invalid", "The quote_id is malformed.", d)
    row = c.execute(
        "SELECT tool, list_id, task_id, enrichment_type, cost, expires_at, used_at"
        " FROM quotes WHERE quote_id=? AND org_id=?",
        (quote_id, org_id),
    ).fetchone()
    if row is None:
        raise _bad("quote_invalid", "The quote is unknown to this organization.", d)
    q_tool, q_list, q_task, q_type, q_cost, expires, used = row
    if used is not None:
        raise _bad("quote_already_used", "This quote was already redeemed (single use).", d)
    if now > expires:
        raise _bad("quote_expired", "The quote has expired.", d)
    if q_tool != tool:
        raise _bad(
            "quote_invalid",
            f"The quote was issued for tool {q_tool!r}, not {tool!r}.",
            {**d, "quote_tool": q_tool, "tool": tool},
        )
    if q_list is not None and list_id is not None and q_list != list_id:
        raise _bad("quote_invalid", "The quote is bound to another list.", d)
    if q_task is not None and task_id is not None and q_task != task_id:
        raise _bad("quote_invalid", "The quote is bound to another task handle.", d)
    if q_type is not None and enrichment_type is not None and q_type != enrichment_type:
        raise _bad("quote_invalid", "The quote was priced for another enrichment type.", d)
    if cost > q_cost:
        raise ApiError(
            400,
            "spend_cap_exceeded",
            f"This run costs {cost} credits, more than the quoted {q_cost}.",
            fix="Re-estimate with the current row count and retry with the new quote.",
            details={**d, "quoted_cost": q_cost, "cost": cost},
        )
    c.execute("UPDATE quotes SET used_at=? WHERE quote_id=?", (now, quote_id))
