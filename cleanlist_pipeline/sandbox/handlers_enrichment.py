"""Enrichment dispatch (bulk list, by cohort), workflow status, credit balance and estimates."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cleanlist_pipeline.sandbox.cohorts import load_cohort, new_cohort, resolve_entities
from cleanlist_pipeline.sandbox.context import Ctx, json_response, visible_list
from cleanlist_pipeline.sandbox.db import select_in
from cleanlist_pipeline.sandbox.errors import ApiError, not_found, validation
from cleanlist_pipeline.sandbox.handlers_leads import add_rids
from cleanlist_pipeline.sandbox.quotes import issue, redeem
from cleanlist_pipeline.sandbox.schemas import (
    EnrichByTaskBody,
    EnrichListBody,
    EstimateBody,
    decode_json,
    parse_body,
)
from cleanlist_pipeline.sandbox.seed import create_list_row
from cleanlist_pipeline.sandbox.workflows import UNIT_COST, dispatch, settle_due, status_body

# An independent reading of the API spec: never import cleanlist_pipeline.contract here.
SCOPE_TO_TYPE = {"partial": "partial", "phone-only": "phone_only", "full": "full"}
TOOLS = ("enrich_list", "bulk_import_csv", "enrich_by_task", "enrich_person")
PERSON_POINTS = {"email", "phone", "linkedin"}
SCRATCH_LIST = "MCP Results"


def type_from_points(points: list[str]) -> str:
    """Email+Phone → full, Phone → phone_only, else partial (person cohorts only)."""
    p = {x.strip().lower() for x in points}
    unknown = sorted(p - PERSON_POINTS)
    if unknown:
        raise validation(
            "These data points do not apply to a person cohort.",
            fix="Person cohorts accept Email, Phone and LinkedIn.",
            details={"data_points": unknown},
        )
    if "phone" in p:
        return "full" if "email" in p else "phone_only"
    return "partial"


def _poll_url(request: Request, ctx: Ctx, wf_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{ctx.prefix}/enrichment/status/{wf_id}"


async def enrich_list(request: Request, ctx: Ctx) -> Response:
    """POST /enrichment/bulk: every lead of a list, quote required, async workflow."""
    body = parse_body(EnrichListBody, decode_json(await request.body()))
    etype = SCOPE_TO_TYPE[body.scope]
    with ctx.db.tx() as c:
        row = visible_list(c, ctx, body.list_id)
        total = row["lead_count"]
        if total == 0:
            raise validation(
                "The list is empty; there is nothing to enrich.", details={"list_id": body.list_id}
            )
        cost = total * UNIT_COST[etype]
        redeem(
            c,
            org_id=ctx.org_id,
            quote_id=body.quote_id,
            tool="enrich_list",
            now=ctx.now,
            cost=cost,
            list_id=body.list_id,
            enrichment_type=etype,
        )
        wf_id = dispatch(
            c,
            org_id=ctx.org_id,
            list_id=body.list_id,
            list_seq=row["seq"],
            enrichment_type=etype,
            total=total,
            now=ctx.now,
            prefix="bulk-enrich",
            pos_range=(0, row["next_pos"] - 1),
        )
        handle = new_cohort(
            c, ctx.org_id, row["seq"], [], ctx.now, float(ctx.settings["cohort_ttl_seconds"]), wf_id
        )
    return json_response(
        {
            "workflow_id": wf_id,
            "status": "pending",
            "total_leads": total,
            "estimated_cost": cost,
            "credits_reserved": cost,
            "poll_url": _poll_url(request, ctx, wf_id),
            "task_id": handle,
            "timestamp_ms": ctx.ts_ms,
        }
    )


def _scratch_list(c: sqlite3.Connection, ctx: Ctx) -> tuple[int, str]:
    row = c.execute(
        "SELECT seq, id FROM lists WHERE owner_id=? AND org_id=? AND hidden=1 AND name=?",
        (ctx.user_id, ctx.org_id, SCRATCH_LIST),
    ).fetchone()
    if row:
        return row[0], row[1]
    return create_list_row(
        c, org_id=ctx.org_id, owner_id=ctx.user_id, name=SCRATCH_LIST, now=ctx.now, hidden=True
    )


async def enrich_by_task(request: Request, ctx: Ctx) -> Response:
    """POST /enrichment/by-task: a list-page cohort (person) → async workflow; quote required."""
    body = parse_body(EnrichByTaskBody, decode_json(await request.body()))
    etype = type_from_points(body.data_points)
    with ctx.db.tx() as c:
        cohort = load_cohort(c, ctx.org_id, body.task_id, ctx.now)
        rids = resolve_entities(c, cohort, body.entity_ids)
        if not rids:
            raise validation("The cohort holds no entities.", details={"task_id": body.task_id})
        if body.quote_id is None:
            raise ApiError(
                400,
                "quote_required",
                "Paid cohort enrichment needs a quote_id.",
                fix="Call POST /credits/estimate with tool 'enrich_by_task' first.",
                details={"tool": "enrich_by_task"},
            )
        if body.lead_list_id is not None:
            target = visible_list(c, ctx, body.lead_list_id)
            seq, list_id = target["seq"], target["id"]
        else:
            seq, list_id = _scratch_list(c, ctx)
        cost = len(rids) * UNIT_COST[etype]
        redeem(
            c,
            org_id=ctx.org_id,
            quote_id=body.quote_id,
            tool="enrich_by_task",
            now=ctx.now,
            cost=cost,
            task_id=body.task_id,
            enrichment_type=etype,
        )
        add_rids(c, seq, rids)
        wf_id = dispatch(
            c,
            org_id=ctx.org_id,
            list_id=list_id,
            list_seq=seq,
            enrichment_type=etype,
            total=len(rids),
            now=ctx.now,
            prefix="enrich",
            rids=rids,
        )
        c.execute("UPDATE cohorts SET workflow_id=? WHERE handle=?", (wf_id, body.task_id))
        ids = _lead_ids(c, rids)
    return json_response(
        {
            "entity_kind": "person",
            "workflow_id": wf_id,
            "status": "pending",
            "total_entities": len(rids),
            "credits_reserved": cost,
            "results": [
                {"entity_id": i, "status": "queued", "error": None, "company": None} for i in ids
            ],
            "task_id": body.task_id,
            "timestamp_ms": ctx.ts_ms,
        }
    )


def _lead_ids(c: sqlite3.Connection, rids: list[int]) -> list[str]:
    out = dict(select_in(c, "SELECT rid, lead_id FROM leads WHERE rid IN ({ids})", rids))
    return [out[r] for r in rids]


async def workflow_status(request: Request, ctx: Ctx) -> Response:
    """GET /enrichment/status/{id}: a workflow id or the cl-task_ handle bound at dispatch."""
    handle = request.path_params["workflow_id"]
    with ctx.db.tx() as c:
        settle_due(c, ctx.now)
        if handle.startswith("cl-task_"):
            row = c.execute(
                "SELECT workflow_id FROM cohorts WHERE handle=? AND org_id=?", (handle, ctx.org_id)
            ).fetchone()
            wf_id = row[0] if row else None
        else:
            row = c.execute(
                "SELECT id FROM workflows WHERE id=? AND org_id=?", (handle, ctx.org_id)
            ).fetchone()
            wf_id = row[0] if row else None
        if wf_id is None:
            raise not_found("Workflow", {"workflow_id": handle})
        body = status_body(c, wf_id, handle, ctx.now, ctx.ts_ms)
    return json_response(body)


async def credits_balance(request: Request, ctx: Ctx) -> Response:
    """GET /credits/balance."""
    credits = (
        ctx.db.conn().execute("SELECT credits FROM orgs WHERE id=?", (ctx.org_id,)).fetchone()[0]
    )
    return json_response(
        {"organization_id": ctx.org_id, "credits": int(credits), "timestamp_ms": ctx.ts_ms}
    )


def _etype(value: str | None, default: str = "partial") -> str:
    v = value or default
    v = SCOPE_TO_TYPE.get(v, v)
    if v not in UNIT_COST:
        raise validation(
            f"Unknown enrichment type {value!r}.",
            details={"allowed": ["partial", "phone_only", "full"]},
        )
    return v


async def estimate(request: Request, ctx: Ctx) -> Response:
    """POST /credits/estimate → a signed single-use quote (tools: see TOOLS)."""
    body = parse_body(EstimateBody, decode_json(await request.body()))
    list_id: str | None = None
    task_id: str | None = None
    with ctx.db.tx() as c:
        if body.tool == "enrich_list":
            if body.list_id is None:
                raise validation("enrich_list estimates need list_id.", details={"tool": body.tool})
            row = visible_list(c, ctx, body.list_id)
            list_id = body.list_id
            etype = _etype(body.scope, "full" if body.include_phone else "partial")
            rows = int(row["lead_count"])
        elif body.tool == "bulk_import_csv":
            if body.row_count is None or body.row_count < 0:
                raise validation(
                    "bulk_import_csv estimates need a non-negative row_count.",
                    details={"tool": body.tool},
                )
            if body.list_id is not None:
                visible_list(c, ctx, body.list_id)
                list_id = body.list_id
            etype = _etype(body.enrichment_type)
            rows = body.row_count
        elif body.tool == "enrich_by_task":
            if body.task_id is None or not body.data_points:
                raise validation(
                    "enrich_by_task estimates need task_id and data_points.",
                    details={"tool": body.tool},
                )
            cohort = load_cohort(c, ctx.org_id, body.task_id, ctx.now)
            rows = len(resolve_entities(c, cohort, body.entity_ids))
            task_id = body.task_id
            etype = type_from_points(body.data_points)
        elif body.tool == "enrich_person":
            etype = _etype(body.enrichment_type)
            rows = 1
        else:
            raise validation(f"Unknown tool {body.tool!r}.", details={"known_tools": list(TOOLS)})
        cost = rows * UNIT_COST[etype]
        quote_id, expires = issue(
            c,
            secret=ctx.secret,
            kid=ctx.kid,
            org_id=ctx.org_id,
            tool=body.tool,
            list_id=list_id,
            task_id=task_id,
            enrichment_type=etype,
            row_count=rows,
            cost=cost,
            now=ctx.now,
        )
        balance = int(c.execute("SELECT credits FROM orgs WHERE id=?", (ctx.org_id,)).fetchone()[0])
    bound = f"{list_id or ''}|{task_id or ''}"
    filter_hash = hashlib.sha256(bound.encode()).hexdigest()[:16] if bound != "|" else "none"
    out: dict[str, Any] = {
        "quote_id": quote_id,
        "expires_at": expires,
        "estimated_cost": cost,
        "tool": body.tool,
        "row_count": rows,
        "filter_hash": filter_hash,
        "available_credits": balance,
        "sufficient": balance >= cost,
    }
    return json_response(out)
