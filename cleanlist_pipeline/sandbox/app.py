"""The Starlette app: both API prefixes over the same handlers, plus the ``/_sandbox`` admin API.

Each API route runs one short "gate" transaction before its handler: authenticate the key
(stored as a hash), settle due workflows, count the request for the ledger and the rate-limit
windows, and evaluate injected faults. Handlers run on the event loop thread with that thread's
SQLite connection; every transaction is short and never spans an ``await``.

Every route, API and admin, first checks the ``Host`` header: only loopback names are served
(``127.0.0.1``, ``localhost``, ``[::1]``, any port). A web page whose DNS name was rebound to
127.0.0.1 still sends its own name as ``Host``, so a browser cannot be turned into a client of
the sandbox (421 ``misdirected_request``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cleanlist_pipeline.sandbox import (
    handlers_account,
    handlers_csv,
    handlers_enrichment,
    handlers_leads,
    handlers_lists,
)
from cleanlist_pipeline.sandbox.admin import admin_routes
from cleanlist_pipeline.sandbox.context import ALL_SCOPES, Ctx, require_scope
from cleanlist_pipeline.sandbox.db import Database, bump, hash_key, load_meta
from cleanlist_pipeline.sandbox.errors import ApiError, SchemaError
from cleanlist_pipeline.sandbox.faults import DropAfterCommit, FaultDecision, evaluate
from cleanlist_pipeline.sandbox.ratelimit import WINDOW_SECONDS, check_and_count, prune
from cleanlist_pipeline.sandbox.workflows import settle_due

log = logging.getLogger(__name__)

PREFIXES = ("/api/v1/public", "/api/v2")
Handler = Callable[[Request, Ctx], Awaitable[Response]]


@dataclass(frozen=True)
class ApiRoute:
    """One documented endpoint, mounted under both prefixes unless ``v1_only``."""

    method: str
    template: str
    scope: str | None
    handler: Handler
    v1_only: bool = False


API_ROUTES = (
    ApiRoute("POST", "/lead-lists", "lists:write", handlers_lists.create_list),
    ApiRoute("GET", "/lead-lists", "lists:read", handlers_lists.list_lists),
    ApiRoute("GET", "/lead-lists/{list_id}", "lists:read", handlers_lists.get_list),
    ApiRoute("PATCH", "/lead-lists/{list_id}", "lists:write", handlers_lists.update_list),
    ApiRoute("DELETE", "/lead-lists/{list_id}", "lists:write", handlers_lists.delete_list),
    ApiRoute("GET", "/lead-lists/{list_id}/leads", "lists:read", handlers_leads.list_leads),
    ApiRoute("POST", "/lead-lists/{list_id}/leads", "lists:write", handlers_leads.add_leads),
    ApiRoute("DELETE", "/lead-lists/{list_id}/leads", "lists:write", handlers_leads.remove_leads),
    ApiRoute("POST", "/lead-lists/{list_id}/csv-import", "lists:write", handlers_csv.csv_import),
    ApiRoute("POST", "/enrichment/bulk", "enrich:write", handlers_enrichment.enrich_list),
    ApiRoute("POST", "/enrichment/by-task", "enrich:write", handlers_enrichment.enrich_by_task),
    ApiRoute(
        "GET",
        "/enrichment/status/{workflow_id}",
        "enrich:read",
        handlers_enrichment.workflow_status,
    ),
    ApiRoute("GET", "/credits/balance", "credits:read", handlers_enrichment.credits_balance),
    ApiRoute("POST", "/credits/estimate", "credits:read", handlers_enrichment.estimate),
    ApiRoute("GET", "/whoami", None, handlers_account.whoami),
    ApiRoute("GET", "/auth/validate-key", None, handlers_account.validate_key, v1_only=True),
)


@dataclass(frozen=True)
class KeyInfo:
    """What a key may do and for whom (scopes expanded from ``*``)."""

    key_id: str
    scopes: tuple[str, ...]
    user_id: str
    org_id: str


# Keys are never revoked, so a positive lookup can be cached for the process lifetime.
_KEY_CACHE: dict[tuple[str, str], KeyInfo] = {}


def _lookup_key(c: sqlite3.Connection, db_path: str, kh: str) -> KeyInfo | None:
    hit = _KEY_CACHE.get((db_path, kh))
    if hit is not None:
        return hit
    row = c.execute(
        "SELECT key_id, scopes, user_id, org_id FROM api_keys WHERE key_hash=?", (kh,)
    ).fetchone()
    if row is None:
        return None
    scopes = json.loads(row[1])
    granted = ALL_SCOPES if "*" in scopes else tuple(scopes)
    info = KeyInfo(row[0], granted, row[2], row[3])
    _KEY_CACHE[(db_path, kh)] = info
    return info


def _unauthorized() -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "Missing, malformed, expired or revoked API key.",
        fix="Send 'Authorization: Bearer clapi_…' with an active key.",
    )


def gate(db: Database, request: Request, route: str, prefix: str) -> tuple[Ctx, FaultDecision]:
    """Authenticate, count, rate-limit and pick faults in one write transaction."""
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    kh = hash_key(token) if token else ""
    error: ApiError | None = None
    decision = FaultDecision()
    with db.tx() as c:
        meta = load_meta(c)
        now = time.time() + float(meta.get("clock_offset", "0"))
        settings = json.loads(meta["settings"])
        settle_due(c, now)
        bump(c, "requests", route)
        key = _lookup_key(c, db.path, kh) if kh else None
        if key is None:
            error = _unauthorized()
        else:
            wait = check_and_count(
                c,
                now,
                kh,
                key.org_id,
                int(settings.get("rpm_key", 0)),
                int(settings.get("rpm_org", 0)),
                float(settings.get("rate_window_seconds") or WINDOW_SECONDS),
            )
            if wait is not None:
                bump(c, "rate_limited", route)
                error = ApiError(
                    429,
                    "rate_limited",
                    "Rate limit exceeded.",
                    fix="Wait for Retry-After, then retry.",
                    retryable=True,
                    retry_after_s=wait,
                )
            else:
                decision = evaluate(
                    c, json.loads(meta["faults"]), request.method, request.url.path, route
                )
            if random.random() < 0.01:
                prune(c, now)
    if error is not None:
        raise error
    assert key is not None
    ctx = Ctx(
        db=db,
        key_hash=kh,
        key_id=key.key_id,
        user_id=key.user_id,
        org_id=key.org_id,
        scopes=key.scopes,
        now=now,
        prefix=prefix,
        settings=settings,
        secret=meta["secret"],
        kid=meta["kid"],
    )
    return ctx, decision


def _endpoint(db: Database, spec: ApiRoute, prefix: str) -> Callable[[Request], Awaitable[Any]]:
    route = f"{spec.method} {spec.template}"

    async def endpoint(request: Request) -> Response:
        decision: FaultDecision | None = None
        try:
            ctx, decision = gate(db, request, route, prefix)
            if decision.latency_ms:
                await asyncio.sleep(decision.latency_ms / 1000)
            if decision.error is not None:
                raise decision.error
            if spec.scope is not None:
                require_scope(ctx, spec.scope)
            response = await spec.handler(request, ctx)
        except (ApiError, SchemaError) as exc:
            response = exc.response()
        except Exception:
            # A sandbox bug: keep the documented envelope (the transaction was rolled back).
            log.exception("unhandled error in %s", route)
            response = ApiError(
                500, "internal_error", "The sandbox failed unexpectedly.", retryable=True
            ).response()
        if decision is not None and decision.drop:
            return DropAfterCommit(response)
        return response

    endpoint.__name__ = spec.handler.__name__
    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 405:
        return ApiError(405, "method_not_allowed", "Method not allowed on this path.").response()
    return ApiError(
        404, "not_found", "No such endpoint.", details={"path": request.url.path}
    ).response()


#: ``Host`` names the sandbox answers to (lower case; IPv6 in brackets as in a URL).
LOOPBACK_HOST_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})


def is_loopback_host(value: str) -> bool:
    """True for a ``Host`` header naming loopback, with or without a port.

    >>> [is_loopback_host(h) for h in ("127.0.0.1:80", "[::1]:9", "LOCALHOST", "evil.test")]
    [True, True, True, False]
    """
    v = value.strip().lower()
    if v.startswith("["):
        end = v.find("]")
        name, rest = (v[: end + 1], v[end + 1 :]) if end > 0 else (v, "")
    else:
        name, sep, port = v.partition(":")
        rest = sep + port
    if rest and not (rest[0] == ":" and rest[1:].isdigit()):
        return False
    return name in LOOPBACK_HOST_NAMES


class LoopbackHostOnly:
    """ASGI middleware: answer 421 to any request whose ``Host`` is not a loopback name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            hosts = [v.decode("latin-1") for k, v in scope["headers"] if k == b"host"]
            if len(hosts) != 1 or not is_loopback_host(hosts[0]):
                error = ApiError(
                    421,
                    "misdirected_request",
                    "The sandbox answers only requests addressed to a loopback host.",
                    fix="Use http://127.0.0.1:PORT, http://localhost:PORT or http://[::1]:PORT.",
                    details={"allowed_hosts": sorted(LOOPBACK_HOST_NAMES)},
                )
                await error.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(db: Database) -> Starlette:
    """The sandbox ASGI app over an initialised database."""
    routes: list[Route] = []
    for prefix in PREFIXES:
        for spec in API_ROUTES:
            if spec.v1_only and prefix != "/api/v1/public":
                continue
            routes.append(
                Route(prefix + spec.template, _endpoint(db, spec, prefix), methods=[spec.method])
            )
    routes.extend(admin_routes(db))
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error},
        middleware=[Middleware(LoopbackHostOnly)],
    )
