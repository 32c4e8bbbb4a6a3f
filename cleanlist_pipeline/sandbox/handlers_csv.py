"""CSV import, exactly as contract section 9 reads: caps, skip rules, dedupe, replay, dispatch.

Pipeline order (as the SDK documents it): schema → scopes → idempotency lookup → base64 decode and
parse → (dispatching) quote, reservation → insert rows → start workflow → cache the answer.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import sqlite3
import sys
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cleanlist_pipeline.sandbox.cohorts import new_cohort
from cleanlist_pipeline.sandbox.context import Ctx, json_response, require_scope, visible_list
from cleanlist_pipeline.sandbox.db import bump, hash_key
from cleanlist_pipeline.sandbox.errors import ApiError, validation
from cleanlist_pipeline.sandbox.idempotency import lookup, store
from cleanlist_pipeline.sandbox.quotes import redeem
from cleanlist_pipeline.sandbox.schemas import CsvImportBody, decode_json, parse_body
from cleanlist_pipeline.sandbox.seed import append_members, insert_leads
from cleanlist_pipeline.sandbox.workflows import UNIT_COST, dispatch

# An independent reading of the API spec: never import cleanlist_pipeline.contract here.
MAX_BYTES = 150 * 1024
MAX_ROWS = 600
SAMPLE_ROWS = 10

# One huge quoted field must not abort the parse: the byte cap already bounds everything.
csv.field_size_limit(sys.maxsize)


def _too_large(problem: str, details: dict[str, Any]) -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        problem,
        details=details,
        fix="Split the file into chunks of at most 150 KB and 600 rows.",
    )


def decode_csv(b64: str) -> str:
    """Strict base64 (standard alphabet, no line breaks) → UTF-8 text without BOM."""
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise validation(
            "csv_content_base64 is not valid base64 (standard alphabet, padded, no line breaks).",
            details={"field": "csv_content_base64"},
        ) from None
    if len(raw) > MAX_BYTES:
        raise _too_large(
            f"The CSV is {len(raw)} bytes; the limit is {MAX_BYTES}.",
            {"bytes": len(raw), "max_bytes": MAX_BYTES},
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise validation(
            "The CSV is not valid UTF-8.",
            fix="Transcode the file to UTF-8 before importing.",
            details={"byte_offset": exc.start},
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def _blank(rec: list[str]) -> bool:
    return not rec or (len(rec) == 1 and not rec[0].strip())


def norm_linkedin(url: str) -> str:
    """LinkedIn URL dedupe key: lower-case, no scheme, no ``www.``, no trailing ``/``."""
    u = url.strip().lower()
    for scheme in ("https://", "http://"):
        if u.startswith(scheme):
            u = u[len(scheme) :]
            break
    if u.startswith("www."):
        u = u[4:]
    return u.rstrip("/")


def parse_rows(text: str, mapping: dict[str, str]) -> dict[str, Any]:
    """Apply the section-9 rules; returns kept lead tuples and skip bookkeeping."""
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise validation(f"The CSV could not be parsed: {exc}.") from None
    if not records or _blank(records[0]):
        raise validation("The CSV has no header row.")
    header = [h.strip() for h in records[0]]
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        index.setdefault(h, i)
    data = [(n, rec) for n, rec in enumerate(records[1:], start=2) if not _blank(rec)]
    if len(data) > MAX_ROWS:
        raise _too_large(
            f"The CSV holds {len(data)} data rows; the limit is {MAX_ROWS}.",
            {"rows": len(data), "max_rows": MAX_ROWS},
        )
    missing = [h for h in mapping.values() if h.strip() not in index]
    if missing:
        raise ApiError(
            400,
            "missing_column",
            f"Mapped column {missing[0]!r} is not in the CSV header.",
            fix="Map only headers that exist in the file (matching is exact).",
            details={"column": missing[0], "missing_columns": missing, "available_columns": header},
        )
    cols = {field: index[h.strip()] for field, h in mapping.items()}
    skips: dict[str, int] = {}
    skipped_rows: list[int] = []
    kept: list[tuple[Any, ...]] = []
    emails: set[str] = set()
    links: set[str] = set()

    def skip(reason: str, n: int) -> None:
        skips[reason] = skips.get(reason, 0) + 1
        skipped_rows.append(n)

    for n, rec in data:
        v = {f: (rec[i].strip() if i < len(rec) else "") or None for f, i in cols.items()}
        first, last, full = v.get("first_name"), v.get("last_name"), v.get("full_name")
        email, link = v.get("email"), v.get("linkedin_url")
        company = v.get("company_name") or v.get("company_domain")
        named = bool(full or (first and last))
        if not (email or link or (named and company)):
            skip("missing_required", n)
            continue
        if email and email.lower() in emails:
            skip("duplicate_email", n)
            continue
        if link and norm_linkedin(link) in links:
            skip("duplicate_linkedin", n)
            continue
        if email:
            emails.add(email.lower())
        if link:
            links.add(norm_linkedin(link))
        location = ", ".join(p for p in (v.get("city"), v.get("state"), v.get("country")) if p)
        phone = v.get("phone") or v.get("mobile_phone") or v.get("work_phone")
        full_name = full or (" ".join(p for p in (first, last) if p) or None)
        kept.append(
            (
                first,
                last,
                full_name,
                email,
                phone,
                v.get("job_title"),
                company,
                location or None,
                link,
                None,
            )
        )
    return {"parsed": len(data), "kept": kept, "skips": skips, "sample": skipped_rows[:SAMPLE_ROWS]}


def _record(
    c: sqlite3.Connection,
    list_id: str,
    key: str | None,
    body: dict[str, Any],
    replayed: bool,
    now: float,
) -> None:
    c.execute(
        "INSERT INTO imports (list_id, idempotency_key_hash, rows_parsed, rows_imported,"
        " rows_skipped, workflow_id, replayed, at) VALUES (?,?,?,?,?,?,?,?)",
        (
            list_id,
            hash_key(key) if key else None,
            body["rows_parsed"],
            body["rows_imported"],
            body["rows_skipped"],
            body["workflow_id"],
            int(replayed),
            now,
        ),
    )
    bump(c, "csv_imports", "replayed" if replayed else "executed")


async def csv_import(request: Request, ctx: Ctx) -> Response:
    """POST /lead-lists/{list_id}/csv-import."""
    body = parse_body(CsvImportBody, decode_json(await request.body()))
    if body.dispatch_enrichment:
        require_scope(ctx, "enrich:write")
    list_id = request.path_params["list_id"]
    key = body.idempotency_key
    mapping = {f: h for f, h in body.column_mapping.items() if h is not None}
    with ctx.db.tx() as c:
        row = visible_list(c, ctx, list_id)
        if key is not None:
            hit = lookup(c, ctx.org_id, "csv", key, ctx.now)
            if hit is not None:
                cached = dict(hit[2], idempotency_replayed=True)
                _record(c, list_id, key, cached, True, ctx.now)
                return json_response(cached, 201)
        if body.dispatch_enrichment and body.enrichment_type is None:
            raise validation(
                "enrichment_type is required when dispatch_enrichment is true.",
                fix="Send enrichment_type (partial, phone_only or full), or "
                "dispatch_enrichment=false.",
                details={"field": "enrichment_type"},
            )
        if not mapping:
            raise validation("column_mapping maps no column.", details={"field": "column_mapping"})
        parsed = parse_rows(decode_csv(body.csv_content_base64), mapping)
        kept = parsed["kept"]
        wf_id: str | None = None
        task_id: str | None = None
        if kept:
            rids = insert_leads(c, ctx.org_id, kept)
            pos = append_members(c, row["seq"], rids, 0)
            if body.dispatch_enrichment and body.enrichment_type is not None:
                etype = body.enrichment_type
                if body.quote_id is not None:
                    redeem(
                        c,
                        org_id=ctx.org_id,
                        quote_id=body.quote_id,
                        tool="bulk_import_csv",
                        now=ctx.now,
                        cost=len(kept) * UNIT_COST[etype],
                        list_id=list_id,
                        enrichment_type=etype,
                    )
                wf_id = dispatch(
                    c,
                    org_id=ctx.org_id,
                    list_id=list_id,
                    list_seq=row["seq"],
                    enrichment_type=etype,
                    total=len(kept),
                    now=ctx.now,
                    prefix="bulk-enrich",
                    pos_range=pos,
                )
                task_id = new_cohort(
                    c,
                    ctx.org_id,
                    row["seq"],
                    rids,
                    ctx.now,
                    float(ctx.settings["cohort_ttl_seconds"]),
                    wf_id,
                )
        resp: dict[str, Any] = {
            "list_id": list_id,
            "rows_parsed": parsed["parsed"],
            "rows_imported": len(kept),
            "rows_skipped": parsed["parsed"] - len(kept),
            "skip_reasons": parsed["skips"],
            "sample_skip_rows": parsed["sample"],
            "workflow_id": wf_id,
            "enrichment_status_url": (f"{ctx.prefix}/enrichment/status/{wf_id}" if wf_id else None),
            "idempotency_replayed": False,
            "timestamp_ms": ctx.ts_ms,
        }
        if task_id is not None:
            resp["task_id"] = task_id
        if key is not None:
            store(c, ctx.org_id, "csv", key, list_id, 201, resp, ctx.now)
        _record(c, list_id, key, resp, False, ctx.now)
    return json_response(resp, 201)
