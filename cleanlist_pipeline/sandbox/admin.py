"""The admin API under ``/_sandbox`` (loopback only, admin token, never rate-limited).

See docs/internals.md §1 for the table of calls; ``GET /_sandbox/seed-info`` and
``GET /_sandbox/settings`` are extras (ids of the seeded world; current settings).

Loopback alone is not enough: any local user, and any web page a local browser opens (through a
rebound DNS name, which the app's ``Host`` check stops, or a "simple" cross-site ``POST``), can
reach a loopback port. So every admin call also needs the ``X-Sandbox-Admin-Token`` header with
the token stored in the (0600) database file and printed at startup, and a call with a body must
send it as ``application/json`` (a browser cannot send that cross-site without a preflight the
sandbox never grants).
"""

from __future__ import annotations

import hmac
import json
import sqlite3
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cleanlist_pipeline.sandbox.context import json_response
from cleanlist_pipeline.sandbox.db import (
    DEFAULT_ORG,
    DEFAULT_SETTINGS,
    DEFAULT_USER,
    STATE_TABLES,
    Database,
    get_meta,
    get_meta_json,
    hash_key,
    now_from,
    set_meta,
    settings_from,
)
from cleanlist_pipeline.sandbox.errors import ApiError
from cleanlist_pipeline.sandbox.seed import create_list_row, seed_state, seed_synthetic
from cleanlist_pipeline.sandbox.workflows import settle_due

#: The only hosts the sandbox listens on and the admin API answers: it holds all-scope keys and
#: its admin calls need no key.
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})

#: The header that carries the admin token (see :func:`cleanlist_pipeline.sandbox.db.read_admin_token`).
ADMIN_TOKEN_HEADER = "X-Sandbox-Admin-Token"


def register_key(
    c: sqlite3.Connection,
    key: str,
    scopes: list[str],
    user: str | None = None,
    org: str | None = None,
) -> str:
    """Store a key (as its hash) for ``user`` (created on first use); returns its key_id."""
    user = user or DEFAULT_USER
    row = c.execute("SELECT org_id FROM users WHERE id=?", (user,)).fetchone()
    org_id = org or (row[0] if row else DEFAULT_ORG)
    if c.execute("SELECT 1 FROM orgs WHERE id=?", (org_id,)).fetchone() is None:
        credits = int(settings_from(c)["credits"])
        c.execute(
            "INSERT INTO orgs (id, name, credits) VALUES (?, ?, ?)", (org_id, org_id, credits)
        )
    if row is None:
        c.execute("INSERT INTO users (id, org_id) VALUES (?, ?)", (user, org_id))
    kh = hash_key(key)
    key_id = "key_" + kh[:12]
    c.execute(
        "INSERT OR REPLACE INTO api_keys (key_hash, key_id, scopes, user_id, org_id,"
        " created_at) VALUES (?,?,?,?,?,?)",
        (kh, key_id, json.dumps(list(scopes)), user, org_id, time.time()),
    )
    return key_id


def reset_state(c: sqlite3.Connection) -> dict[str, Any]:
    """Wipe lists, leads, imports, workflows, ledger; re-seed. Keys and settings stay."""
    for table in STATE_TABLES:
        c.execute(f"DELETE FROM {table}")
    set_meta(c, "clock_offset", "0")
    credits = int(settings_from(c)["credits"])
    c.execute(
        "UPDATE orgs SET credits=?, charged_total=0, reserved_open=0, refunded_total=0", (credits,)
    )
    return seed_state(c, now_from(c))


def _workflow_status(row: sqlite3.Row | tuple, now: float) -> str:
    settled, final, started, duration = row
    if settled:
        return str(final)
    frac = (now - started) / duration if duration > 0 else 1.0
    return "pending" if frac < 0.1 else "running"


def ledger(c: sqlite3.Connection) -> dict[str, Any]:
    """The ledger document (docs/internals.md §1)."""
    now = now_from(c)
    counters: dict[str, dict[str, int]] = {}
    for kind, name, n in c.execute("SELECT kind, name, n FROM counters"):
        counters.setdefault(kind, {})[name] = n
    org = c.execute(
        "SELECT COALESCE(SUM(credits),0), COALESCE(SUM(charged_total),0),"
        " COALESCE(SUM(reserved_open),0), COALESCE(SUM(refunded_total),0)"
        " FROM orgs"
    ).fetchone()
    charged, more = c.execute(
        "SELECT COUNT(*), COALESCE(SUM(n > 1), 0) FROM lead_charges"
    ).fetchone()
    imports: dict[str, tuple[int, int, int]] = {
        r[0]: (r[1], r[2], r[3])
        for r in c.execute(
            "SELECT list_id, COALESCE(SUM(CASE WHEN replayed=0 THEN rows_imported END), 0),"
            " SUM(replayed=0), SUM(replayed=1) FROM imports GROUP BY list_id"
        )
    }
    wf_charged = dict(
        c.execute(
            "SELECT list_id, SUM(COALESCE(credits_charged, 0)) FROM workflows GROUP BY list_id"
        ).fetchall()
    )
    lists = {}
    for list_id, name, count in c.execute("SELECT id, name, lead_count FROM lists ORDER BY seq"):
        rows, executed, replayed = imports.get(list_id, (0, 0, 0))
        lists[list_id] = {
            "name": name,
            "lead_count": count,
            "rows_imported": rows,
            "imports_executed": executed,
            "imports_replayed": replayed,
            "credits_charged": int(wf_charged.get(list_id, 0) or 0),
        }
    workflows = {}
    for wf_id, list_id, total, wf_c, settled, final, started, duration in c.execute(
        "SELECT id, list_id, total, credits_charged, settled, final_status, started_at,"
        " duration FROM workflows ORDER BY started_at"
    ):
        workflows[wf_id] = {
            "status": _workflow_status((settled, final, started, duration), now),
            "list_id": list_id,
            "total": total,
            "credits_charged": wf_c,
        }
    faults: dict[str, dict[str, int]] = {}
    for kind, label in (
        ("fault_latency", "latency"),
        ("fault_503", "503"),
        ("fault_429", "429"),
        ("fault_drop", "drop"),
    ):
        for route, n in counters.get(kind, {}).items():
            faults.setdefault(route, {"latency": 0, "503": 0, "429": 0, "drop": 0})[label] = n
    rpm: dict[str, dict[str, int]] = {}
    for bucket, window, n in c.execute(
        "SELECT bucket, window, n FROM rate_windows WHERE bucket LIKE 'key:%' ORDER BY window"
    ):
        rpm.setdefault(bucket[4:16], {})[str(window * 60)] = n
    csv_c = counters.get("csv_imports", {})
    add_c = counters.get("adds", {})
    return {
        "now": now,
        "csv_imports": {"executed": csv_c.get("executed", 0), "replayed": csv_c.get("replayed", 0)},
        "adds": {"executed": add_c.get("executed", 0), "replayed": add_c.get("replayed", 0)},
        "credits": {
            "balance": int(org[0]),
            "charged_total": int(org[1]),
            "reserved_open": int(org[2]),
            "refunded_total": int(org[3]),
        },
        "charges": {"leads_charged": int(charged), "leads_charged_more_than_once": int(more)},
        "lists": lists,
        "workflows": workflows,
        "requests": counters.get("requests", {}),
        "rate_limited": counters.get("rate_limited", {}),
        "faults": faults,
        "requests_per_minute": rpm,
    }


def _bad(problem: str) -> ApiError:
    return ApiError(400, "validation_error", problem)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise _bad("Body is not JSON.") from None
    if not isinstance(data, dict):
        raise _bad("Body must be a JSON object.")
    return data


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length", "").strip()
    return (bool(length) and length != "0") or "transfer-encoding" in request.headers


def check_admin_request(request: Request, token: str) -> None:
    """Raise the ``ApiError`` an admin call gets when it is not from a loopback peer, lacks the
    token, or sends a body that is not ``application/json``."""
    peer = request.client.host if request.client else ""
    if peer not in LOOPBACK:
        raise ApiError(403, "forbidden", "The admin API answers loopback only.")
    sent = request.headers.get(ADMIN_TOKEN_HEADER, "")
    if not token or not hmac.compare_digest(sent.encode(), token.encode()):
        raise ApiError(
            401,
            "unauthorized",
            f"The admin API needs the {ADMIN_TOKEN_HEADER} header.",
            fix="Send the admin token the sandbox printed at startup (also stored in its "
            "database file: cleanlist_pipeline.sandbox.db.read_admin_token).",
        )
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if _has_body(request) and media != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            "Admin calls with a body must send it as application/json.",
            fix="Send 'Content-Type: application/json'.",
        )


def admin_routes(db: Database) -> list[Route]:
    """Starlette routes of the admin API (the token is the database's, read once here)."""
    token = db.admin_token()

    def wrap(fn: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                check_admin_request(request, token)
                return json_response(await fn(request))
            except ApiError as exc:
                return exc.response()

        endpoint.__name__ = fn.__name__
        return endpoint

    async def get_ledger(request: Request) -> Any:
        with db.tx() as c:
            settle_due(c, now_from(c))
            return ledger(c)

    async def get_imports(request: Request) -> Any:
        list_id = request.query_params.get("list_id")
        sql = (
            "SELECT list_id, idempotency_key_hash, rows_parsed, rows_imported, rows_skipped,"
            " workflow_id, replayed, at FROM imports"
        )
        params: tuple[Any, ...] = ()
        if list_id:
            sql += " WHERE list_id=?"
            params = (list_id,)
        cols = (
            "list_id",
            "idempotency_key_hash",
            "rows_parsed",
            "rows_imported",
            "rows_skipped",
            "workflow_id",
            "replayed",
            "at",
        )
        rows = db.conn().execute(sql + " ORDER BY n", params).fetchall()
        return {
            "imports": [dict(zip(cols, r, strict=True)) | {"replayed": bool(r[6])} for r in rows]
        }

    async def post_reset(request: Request) -> Any:
        with db.tx() as c:
            info = reset_state(c)
        return {"reset": True, "seed": info}

    async def post_keys(request: Request) -> Any:
        body = await _json(request)
        key, scopes = body.get("key"), body.get("scopes")
        if not isinstance(key, str) or not key or not isinstance(scopes, list):
            raise _bad("Send {'key': str, 'scopes': [str], 'user'?: str, 'org'?: str}.")
        with db.tx() as c:
            return {
                "key_id": register_key(
                    c, key, [str(s) for s in scopes], body.get("user"), body.get("org")
                )
            }

    async def post_seed_list(request: Request) -> Any:
        body = await _json(request)
        name, n = body.get("name"), body.get("leads", 0)
        frac = float(body.get("enriched_fraction", 0.0) or 0.0)
        if not isinstance(name, str) or not name or not isinstance(n, int) or n < 0:
            raise _bad("Send {'name': str, 'leads': int >= 0, 'enriched_fraction'?: float}.")
        t0 = time.perf_counter()
        with db.tx() as c:
            seq, list_id = create_list_row(
                c, org_id=DEFAULT_ORG, owner_id=DEFAULT_USER, name=name, now=now_from(c)
            )
            seed_synthetic(c, seq, DEFAULT_ORG, n, frac)
        # Copy the big WAL into the main file now, so later requests don't pay for it.
        db.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return {"list_id": list_id, "leads": n, "seconds": round(time.perf_counter() - t0, 3)}

    async def post_clock(request: Request) -> Any:
        body = await _json(request)
        try:
            delta = float(body.get("advance_seconds", 0))
        except (TypeError, ValueError):
            raise _bad("advance_seconds must be a number.") from None
        with db.tx() as c:
            offset = float(get_meta(c, "clock_offset", "0") or 0) + delta
            set_meta(c, "clock_offset", repr(offset))
            return {"now": now_from(c), "offset_seconds": offset}

    async def post_faults(request: Request) -> Any:
        body = await _json(request)
        rules = body.get("rules", [])
        if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
            raise _bad("rules must be a list of objects.")
        with db.tx() as c:
            set_meta(c, "faults", json.dumps({"seed": body.get("seed", 1), "rules": rules, "n": 0}))
        return {"rules": len(rules)}

    async def delete_faults(request: Request) -> Any:
        with db.tx() as c:
            set_meta(c, "faults", json.dumps({"seed": 1, "rules": [], "n": 0}))
        return {"rules": 0}

    async def get_faults(request: Request) -> Any:
        return get_meta_json(db.conn(), "faults", {})

    async def post_settings(request: Request) -> Any:
        body = await _json(request)
        unknown = sorted(set(body) - set(DEFAULT_SETTINGS))
        if unknown:
            raise _bad(f"Unknown settings: {unknown}.")
        cap = body.get("list_cap")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
            raise _bad("list_cap must be a non-negative integer or null.")
        with db.tx() as c:
            merged = settings_from(c)
            merged.update(body)
            set_meta(c, "settings", json.dumps(merged))
            if "credits" in body:
                c.execute(
                    "UPDATE orgs SET credits=? WHERE id=?", (int(body["credits"]), DEFAULT_ORG)
                )
            return merged

    async def get_settings(request: Request) -> Any:
        return settings_from(db.conn())

    async def get_seed_info(request: Request) -> Any:
        return get_meta_json(db.conn(), "seed", {})

    p = "/_sandbox"
    return [
        Route(p + "/ledger", wrap(get_ledger), methods=["GET"]),
        Route(p + "/imports", wrap(get_imports), methods=["GET"]),
        Route(p + "/reset", wrap(post_reset), methods=["POST"]),
        Route(p + "/keys", wrap(post_keys), methods=["POST"]),
        Route(p + "/seed-list", wrap(post_seed_list), methods=["POST"]),
        Route(p + "/clock", wrap(post_clock), methods=["POST"]),
        Route(p + "/faults", wrap(post_faults), methods=["POST"]),
        Route(p + "/faults", wrap(delete_faults), methods=["DELETE"]),
        Route(p + "/faults", wrap(get_faults), methods=["GET"]),
        Route(p + "/settings", wrap(post_settings), methods=["POST"]),
        Route(p + "/settings", wrap(get_settings), methods=["GET"]),
        Route(p + "/seed-info", wrap(get_seed_info), methods=["GET"]),
    ]
