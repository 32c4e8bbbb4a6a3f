"""Per-request context, JSON answers and list-access helpers shared by the handler modules."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cleanlist_pipeline.sandbox.db import Database, iso
from cleanlist_pipeline.sandbox.errors import ApiError, not_found, schema_error

ALL_SCOPES = (
    "lists:read",
    "lists:write",
    "enrich:read",
    "enrich:write",
    "credits:read",
    "people:read",
    "companies:read",
    "export:read",
    "sync:write",
    "smart_agents:read",
    "smart_agents:write",
    "admin:api_keys",
)


@dataclass
class Ctx:
    """Who is calling, the sandbox clock, settings and secret (read once per request)."""

    db: Database
    key_hash: str
    key_id: str
    user_id: str
    org_id: str
    scopes: tuple[str, ...]
    now: float
    prefix: str
    settings: dict[str, Any]
    secret: str
    kid: str

    @property
    def ts_ms(self) -> int:
        """Envelope ``timestamp_ms`` on the sandbox clock."""
        return int(self.now * 1000)


def json_response(body: Any, status: int = 200) -> Response:
    """Compact JSON answer."""
    return Response(
        json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json"
    )


def raw_json_response(text: str, status: int = 200) -> Response:
    """An answer whose JSON text is already built (the leads-page fast path)."""
    return Response(text, status_code=status, media_type="application/json")


def int_query(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter in ``[lo, hi]`` or a FastAPI-style 422."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise schema_error(
            ["query", name],
            "Input should be a valid integer, unable to parse string as an integer",
            "int_parsing",
            raw,
        ) from None
    if value < lo:
        raise schema_error(
            ["query", name],
            f"Input should be greater than or equal to {lo}",
            "greater_than_equal",
            raw,
        )
    if value > hi:
        raise schema_error(
            ["query", name], f"Input should be less than or equal to {hi}", "less_than_equal", raw
        )
    return value


VISIBLE_SQL = (
    "l.org_id = :org AND (l.owner_id = :user OR l.visibility = 'organization'"
    " OR EXISTS (SELECT 1 FROM list_shares s WHERE s.list_seq = l.seq AND s.user_id = :user))"
)

LIST_COLS = (
    "seq, id, owner_id, name, description, folder_id, created_at, visibility, protected,"
    " lead_count, enriched_count, next_pos, hidden"
)


def visible_list(c: sqlite3.Connection, ctx: Ctx, list_id: str) -> sqlite3.Row:
    """The list if the caller may see it; otherwise 404 (private lists never leak)."""
    c.row_factory = sqlite3.Row
    try:
        row = c.execute(
            f"SELECT {LIST_COLS} FROM lists l WHERE l.id = :id AND {VISIBLE_SQL}",
            {"id": list_id, "org": ctx.org_id, "user": ctx.user_id},
        ).fetchone()
    finally:
        c.row_factory = None
    if row is None:
        raise not_found("Lead list", {"list_id": list_id})
    return row


def owned_list(c: sqlite3.Connection, ctx: Ctx, list_id: str) -> sqlite3.Row:
    """The list if the caller owns it (others' lists answer 404 like missing ones)."""
    row = visible_list(c, ctx, list_id)
    if row["owner_id"] != ctx.user_id:
        raise not_found("Lead list", {"list_id": list_id})
    return row


def guard_protected(row: sqlite3.Row) -> None:
    """403 ``list_protected`` for lists the portal protects (e.g. "Extension Leads")."""
    if row["protected"]:
        raise ApiError(
            403,
            "list_protected",
            "This list is protected and cannot be changed.",
            fix="Create or use another list; protected lists are managed by the portal.",
            details={"list_id": row["id"]},
        )


def list_detail(row: sqlite3.Row, ctx: Ctx, *, reused: bool = False) -> dict[str, Any]:
    """ListDetailResponse body."""
    return {
        "list_id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "lead_count": row["lead_count"],
        "enriched_count": row["enriched_count"],
        "folder_id": row["folder_id"],
        "created_at": iso(row["created_at"]),
        "reused": reused,
        "timestamp_ms": ctx.ts_ms,
    }


def require_scope(ctx: Ctx, scope: str) -> None:
    """403 ``insufficient_scope`` naming the required and granted scopes."""
    if scope not in ctx.scopes:
        raise ApiError(
            403,
            "insufficient_scope",
            f"This API key lacks the {scope!r} scope.",
            fix=f"Create a key with the {scope!r} scope.",
            details={"required": [scope], "granted": list(ctx.scopes)},
        )
