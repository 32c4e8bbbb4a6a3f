"""Lead-list CRUD: create (idempotent on name), list (cursor pages), get, PATCH, DELETE."""

from __future__ import annotations

import sqlite3

from starlette.requests import Request
from starlette.responses import Response

from cleanlist_pipeline.sandbox.context import (
    VISIBLE_SQL,
    Ctx,
    guard_protected,
    int_query,
    json_response,
    list_detail,
    owned_list,
    visible_list,
)
from cleanlist_pipeline.sandbox.cursors import make_cursor, read_cursor
from cleanlist_pipeline.sandbox.db import iso
from cleanlist_pipeline.sandbox.errors import ApiError, not_found, schema_error
from cleanlist_pipeline.sandbox.schemas import (
    CreateListBody,
    UpdateListBody,
    decode_json,
    parse_body,
)
from cleanlist_pipeline.sandbox.seed import create_list_row


def _check_folder(c: sqlite3.Connection, ctx: Ctx, folder_id: str | None) -> None:
    """404 unless ``folder_id`` is None or a folder the caller owns."""
    if folder_id is None:
        return
    row = c.execute(
        "SELECT 1 FROM folders WHERE id=? AND owner_id=? AND org_id=?",
        (folder_id, ctx.user_id, ctx.org_id),
    ).fetchone()
    if row is None:
        raise not_found("Folder", {"folder_id": folder_id})


def _check_cap(c: sqlite3.Connection, ctx: Ctx) -> None:
    """403 ``list_cap_reached`` when the caller already owns ``list_cap`` lists (setting)."""
    cap = ctx.settings.get("list_cap")
    if cap is None:
        return
    owned = c.execute(
        "SELECT COUNT(*) FROM lists WHERE owner_id=? AND org_id=? AND hidden=0",
        (ctx.user_id, ctx.org_id),
    ).fetchone()[0]
    if owned >= int(cap):
        raise ApiError(
            403,
            "list_cap_reached",
            f"You already own {owned} lists; the cap is {cap}.",
            fix="Delete lists you no longer need, or reuse one by name.",
            details={"list_cap": int(cap), "owned_lists": owned},
        )


async def create_list(request: Request, ctx: Ctx) -> Response:
    """POST /lead-lists → 201, or 200 ``reused: true`` for an owned same-name list.

    Reuse is checked first, so an existing name is returned even at the list cap.
    """
    body = parse_body(CreateListBody, decode_json(await request.body()))
    with ctx.db.tx() as c:
        existing = c.execute(
            "SELECT id FROM lists WHERE owner_id=? AND org_id=? AND name_lower=? AND hidden=0"
            " ORDER BY seq LIMIT 1",
            (ctx.user_id, ctx.org_id, body.name.lower()),
        ).fetchone()
        if existing:
            return json_response(list_detail(visible_list(c, ctx, existing[0]), ctx, reused=True))
        _check_folder(c, ctx, body.folder_id)
        _check_cap(c, ctx)
        _, list_id = create_list_row(
            c,
            org_id=ctx.org_id,
            owner_id=ctx.user_id,
            name=body.name,
            now=ctx.now,
            description=body.description,
            folder_id=body.folder_id,
        )
        row = visible_list(c, ctx, list_id)
    return json_response(list_detail(row, ctx), 201)


async def list_lists(request: Request, ctx: Ctx) -> Response:
    """GET /lead-lists: owned, org-wide and shared lists, oldest first, signed keyset cursor."""
    limit = int_query(request, "limit", 50, 1, 100)
    folder_id = request.query_params.get("folder_id")
    cursor = request.query_params.get("cursor")
    bound = f"{ctx.key_hash}|{folder_id or ''}"
    after = read_cursor(ctx.secret, "lists", bound, cursor) if cursor else 0
    where = f"{VISIBLE_SQL} AND l.hidden = 0"
    params: dict[str, object] = {
        "org": ctx.org_id,
        "user": ctx.user_id,
        "after": after,
        "limit": limit + 1,
    }
    if folder_id is not None:
        where += " AND l.folder_id = :folder"
        params["folder"] = folder_id
    c = ctx.db.conn()
    total = c.execute(f"SELECT COUNT(*) FROM lists l WHERE {where}", params).fetchone()[0]
    rows = c.execute(
        "SELECT l.seq, l.id, l.name, l.lead_count, l.folder_id, l.created_at, l.visibility,"
        " u.first_name, u.last_name FROM lists l LEFT JOIN users u ON u.id = l.owner_id"
        f" WHERE {where} AND l.seq > :after ORDER BY l.seq LIMIT :limit",
        params,
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    out = []
    for seq, list_id, name, count, folder, created, vis, first, last in rows:
        owner = " ".join(p for p in (first, last) if p) or None
        out.append(
            {
                "list_id": list_id,
                "name": name,
                "lead_count": count,
                "folder_id": folder,
                "created_at": iso(created),
                "owner_name": owner,
                "visibility": vis,
            }
        )
        after = seq
    nxt = make_cursor(ctx.secret, "lists", bound, after) if more else None
    return json_response({"lists": out, "total": total, "cursor": nxt, "timestamp_ms": ctx.ts_ms})


async def get_list(request: Request, ctx: Ctx) -> Response:
    """GET /lead-lists/{list_id}: live counters (kept in the list row, not COUNT(*))."""
    row = visible_list(ctx.db.conn(), ctx, request.path_params["list_id"])
    return json_response(list_detail(row, ctx))


async def update_list(request: Request, ctx: Ctx) -> Response:
    """PATCH /lead-lists/{list_id}: only present fields change; owner only; protected → 403."""
    data = decode_json(await request.body())
    body = parse_body(UpdateListBody, data)
    present = body.model_fields_set
    if not present:
        raise schema_error(["body"], "At least one field must be provided", "value_error", data)
    if "name" in present and body.name is None:
        raise schema_error(["body", "name"], "Input should be a valid string", "string_type", None)
    list_id = request.path_params["list_id"]
    with ctx.db.tx() as c:
        row = owned_list(c, ctx, list_id)
        guard_protected(row)
        if "folder_id" in present:
            _check_folder(c, ctx, body.folder_id)
            c.execute("UPDATE lists SET folder_id=? WHERE seq=?", (body.folder_id, row["seq"]))
        if "name" in present and body.name is not None:
            c.execute(
                "UPDATE lists SET name=?, name_lower=? WHERE seq=?",
                (body.name, body.name.lower(), row["seq"]),
            )
        if "description" in present:
            c.execute("UPDATE lists SET description=? WHERE seq=?", (body.description, row["seq"]))
        row = visible_list(c, ctx, list_id)
    return json_response(list_detail(row, ctx))


async def delete_list(request: Request, ctx: Ctx) -> Response:
    """DELETE /lead-lists/{list_id}: memberships and shares go, lead rows survive."""
    list_id = request.path_params["list_id"]
    with ctx.db.tx() as c:
        row = owned_list(c, ctx, list_id)
        guard_protected(row)
        c.execute("DELETE FROM memberships WHERE list_seq=?", (row["seq"],))
        c.execute("DELETE FROM list_shares WHERE list_seq=?", (row["seq"],))
        c.execute("DELETE FROM lists WHERE seq=?", (row["seq"],))
    return json_response(
        {"list_id": list_id, "deleted": True, "message": "List deleted.", "timestamp_ms": ctx.ts_ms}
    )
