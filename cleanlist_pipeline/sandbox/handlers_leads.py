"""Leads of a list: keyset-paginated pages (the hot path), add by ids or cohort, remove."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cleanlist_pipeline.sandbox.cohorts import load_cohort, new_cohort, resolve_entities
from cleanlist_pipeline.sandbox.context import (
    Ctx,
    int_query,
    json_response,
    raw_json_response,
    visible_list,
)
from cleanlist_pipeline.sandbox.cursors import make_cursor, read_cursor
from cleanlist_pipeline.sandbox.db import bump, select_in
from cleanlist_pipeline.sandbox.errors import not_found, schema_error
from cleanlist_pipeline.sandbox.idempotency import lookup, store
from cleanlist_pipeline.sandbox.schemas import (
    AddByCohortBody,
    AddByLeadIdsBody,
    RemoveLeadsBody,
    decode_json,
    parse_body,
)
from cleanlist_pipeline.sandbox.seed import append_members

# SQLite renders each row's JSON in C: the page body is then one string join in Python.
# Enrichment results live in ``lead_results`` (see db.py) and overlay the lead's own values.
PAGE_SQL = (
    "SELECT m.pos, m.lead_rid, json_object('lead_id', l.lead_id, 'first_name', l.first_name,"
    " 'last_name', l.last_name, 'full_name', l.full_name,"
    " 'email', COALESCE(r.email, l.email), 'phone', COALESCE(r.phone, l.phone),"
    " 'title', l.title, 'company', l.company, 'location', l.location,"
    " 'linkedin_url', l.linkedin_url, 'provider', COALESCE(r.provider, l.provider))"
    " FROM memberships m JOIN leads l ON l.rid = m.lead_rid"
    " LEFT JOIN lead_results r ON r.rid = m.lead_rid"
    " WHERE m.list_seq = ? AND m.pos > ? ORDER BY m.pos LIMIT ?"
)


async def list_leads(request: Request, ctx: Ctx) -> Response:
    """GET /lead-lists/{list_id}/leads: a page, its total, next cursor and cohort handle."""
    list_id = request.path_params["list_id"]
    # 500: an independent reading of the API spec (never imported from the contract module).
    limit = int_query(request, "limit", 100, 1, 500)
    cursor = request.query_params.get("cursor")
    bound = f"{ctx.key_hash}|{list_id}"
    after = read_cursor(ctx.secret, "leads", bound, cursor) if cursor else -1
    c = ctx.db.conn()
    row = visible_list(c, ctx, list_id)
    rows = c.execute(PAGE_SQL, (row["seq"], after, limit + 1)).fetchall()
    more = len(rows) > limit
    if more:
        rows = rows[:limit]
    rids = [r[1] for r in rows]
    with ctx.db.tx() as w:
        handle = new_cohort(
            w, ctx.org_id, row["seq"], rids, ctx.now, float(ctx.settings["cohort_ttl_seconds"])
        )
    nxt = make_cursor(ctx.secret, "leads", bound, rows[-1][0]) if more else None
    text = "".join(
        (
            '{"list_id":',
            json.dumps(list_id),
            ',"leads":[',
            ",".join(r[2] for r in rows),
            '],"total":',
            str(row["lead_count"]),
            ',"cursor":',
            json.dumps(nxt),
            ',"task_id":"',
            handle,
            '","timestamp_ms":',
            str(ctx.ts_ms),
            "}",
        )
    )
    return raw_json_response(text)


def resolve_lead_ids(
    c: sqlite3.Connection, org_id: str, lead_ids: Sequence[str], *, strict: bool
) -> list[int]:
    """Lead ids → rids (request order, duplicates kept); unknown ids → 404 when ``strict``."""
    uniq = list(dict.fromkeys(lead_ids))
    found = dict(
        select_in(
            c, "SELECT lead_id, rid FROM leads WHERE org_id=? AND lead_id IN ({ids})", uniq, org_id
        )
    )
    missing = [x for x in uniq if x not in found]
    if missing and strict:
        raise not_found("Lead", {"unreachable_lead_ids": missing[:10], "count": len(missing)})
    return [found[x] for x in lead_ids if x in found]


def _in_list(c: sqlite3.Connection, list_seq: int, rids: Sequence[int]) -> set[int]:
    sql = "SELECT lead_rid FROM memberships WHERE list_seq=? AND lead_rid IN ({ids})"
    return {r[0] for r in select_in(c, sql, list(set(rids)), list_seq)}


def _enriched(c: sqlite3.Connection, rids: Sequence[int]) -> int:
    sql = (
        "SELECT COUNT(*) FROM leads l LEFT JOIN lead_results r ON r.rid = l.rid"
        " WHERE COALESCE(r.provider, l.provider) IS NOT NULL AND l.rid IN ({ids})"
    )
    return sum(n for (n,) in select_in(c, sql, rids))


def add_rids(c: sqlite3.Connection, list_seq: int, rids: Sequence[int]) -> tuple[int, int]:
    """Append the rids not yet in the list. Returns (added, skipped_duplicates)."""
    present = _in_list(c, list_seq, rids)
    new = [r for r in dict.fromkeys(rids) if r not in present]
    if new:
        append_members(c, list_seq, new, _enriched(c, new))
    return len(new), len(rids) - len(new)


async def add_leads(request: Request, ctx: Ctx) -> Response:
    """POST /lead-lists/{list_id}/leads: exactly one of lead_ids / task_id(+entity_ids)."""
    data: Any = decode_json(await request.body())
    if not isinstance(data, dict) or (("lead_ids" in data) == ("task_id" in data)):
        raise schema_error(
            ["body"],
            "Value error, exactly one of 'lead_ids' (AddByLeadIds) or 'task_id' "
            "(AddByCohort) must be set",
            "value_error",
            data,
        )
    body: AddByLeadIdsBody | AddByCohortBody = parse_body(
        AddByLeadIdsBody if "lead_ids" in data else AddByCohortBody, data
    )
    list_id = request.path_params["list_id"]
    key = body.idempotency_key
    with ctx.db.tx() as c:
        row = visible_list(c, ctx, list_id)
        if key is not None:
            hit = lookup(c, ctx.org_id, "add", key, ctx.now)
            if hit is not None:
                bump(c, "adds", "replayed")
                return json_response(hit[2], hit[1])
        if isinstance(body, AddByLeadIdsBody):
            rids = resolve_lead_ids(c, ctx.org_id, body.lead_ids, strict=True)
            created: int | None = None
        else:
            cohort = load_cohort(c, ctx.org_id, body.task_id, ctx.now)
            rids = resolve_entities(c, cohort, body.entity_ids)
            created = 0  # the cohort's leads already exist in the sandbox: nothing materialised
        added, skipped = add_rids(c, row["seq"], rids)
        resp = {
            "list_id": list_id,
            "added": added,
            "skipped_duplicates": skipped,
            "created": created,
            "credits_charged": 0,
        }
        if key is not None:
            store(c, ctx.org_id, "add", key, list_id, 200, resp, ctx.now)
        bump(c, "adds", "executed")
    return json_response(resp)


async def remove_leads(request: Request, ctx: Ctx) -> Response:
    """DELETE /lead-lists/{list_id}/leads (JSON body, ≤100 ids; unknown ids are ignored)."""
    body = parse_body(RemoveLeadsBody, decode_json(await request.body()))
    list_id = request.path_params["list_id"]
    with ctx.db.tx() as c:
        row = visible_list(c, ctx, list_id)
        rids = list(set(resolve_lead_ids(c, ctx.org_id, body.lead_ids, strict=False)))
        removed = 0
        if rids:
            q = ",".join("?" * len(rids))
            enriched = c.execute(
                "SELECT COUNT(*) FROM memberships m JOIN leads l ON l.rid = m.lead_rid"
                " LEFT JOIN lead_results r ON r.rid = m.lead_rid"
                " WHERE m.list_seq=? AND COALESCE(r.provider, l.provider) IS NOT NULL"
                f" AND m.lead_rid IN ({q})",
                (row["seq"], *rids),
            ).fetchone()[0]
            removed = c.execute(
                f"DELETE FROM memberships WHERE list_seq=? AND lead_rid IN ({q})",
                (row["seq"], *rids),
            ).rowcount
            c.execute(
                "UPDATE lists SET lead_count = lead_count - ?,"
                " enriched_count = enriched_count - ? WHERE seq=?",
                (removed, enriched, row["seq"]),
            )
    return json_response({"list_id": list_id, "removed": removed})
