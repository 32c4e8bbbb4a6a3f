"""Injected faults: latency, retryable 503s, 429 bursts and commit-then-drop.

Rules and the random stream's position are stored in the database, so a seed gives the same
sequence of faults whichever process serves the requests. Commit-then-drop happens at the ASGI
level: the handler has committed, the response head goes out announcing a body, then the
connection closes without it — the client sees a transport error, never an HTTP status.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cleanlist_pipeline.sandbox.db import bump, set_meta
from cleanlist_pipeline.sandbox.errors import ApiError


@dataclass
class FaultDecision:
    """What the faults decided for one request."""

    latency_ms: float = 0.0
    error: ApiError | None = None
    drop: bool = False


def _matches(rule: dict[str, Any], method: str, path: str) -> bool:
    m = rule.get("method")
    p = rule.get("path")
    return (not m or m.upper() == method) and (not p or p in path)


def evaluate(
    c: sqlite3.Connection, state: dict[str, Any], method: str, path: str, route: str
) -> FaultDecision:
    """Apply matching rules (inside the gate transaction); persists burst counters and RNG step."""
    decision = FaultDecision()
    rules = state.get("rules") or []
    if not rules:
        return decision
    changed = False
    for rule in rules:
        if not _matches(rule, method, path):
            continue
        state["n"] = int(state.get("n", 0)) + 1
        changed = True
        rng = random.Random(f"{state.get('seed', 1)}:{state['n']}")
        retry_after = float(rule.get("retry_after_s", 1.0))
        if rule.get("latency_ms"):
            decision.latency_ms += float(rule["latency_ms"])
            bump(c, "fault_latency", route)
        if decision.error is None:
            if int(rule.get("burst_429", 0)) > 0:
                rule["burst_429"] = int(rule["burst_429"]) - 1
                decision.error = _rate_limited(retry_after)
            elif rng.random() < float(rule.get("p_429", 0.0)):
                decision.error = _rate_limited(retry_after)
            elif rng.random() < float(rule.get("p_503", 0.0)):
                decision.error = ApiError(
                    503,
                    "service_unavailable",
                    "The service is briefly unavailable.",
                    fix="Retry after the indicated delay.",
                    retryable=True,
                    retry_after_s=retry_after,
                )
            if decision.error is not None:
                bump(c, "fault_" + str(decision.error.status), route)
        if decision.error is None and not decision.drop:
            if int(rule.get("drop_next", 0)) > 0:
                rule["drop_next"] = int(rule["drop_next"]) - 1
                decision.drop = True
            elif rng.random() < float(rule.get("p_drop", 0.0)):
                decision.drop = True
            if decision.drop:
                bump(c, "fault_drop", route)
    if changed:
        set_meta(c, "faults", json.dumps(state))
    return decision


def _rate_limited(retry_after: float) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        "Too many requests.",
        fix="Wait for Retry-After, then retry.",
        retryable=True,
        retry_after_s=retry_after,
    )


class DeliberateDrop(Exception):
    """Raised after the response head to make the server close the connection mid-response."""


class DropAfterCommit(Response):
    """Sends the real response head (with its Content-Length), then aborts the connection."""

    def __init__(self, inner: Response) -> None:
        self.inner = inner
        self.status_code = inner.status_code
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.inner.status_code,
                "headers": self.inner.raw_headers,
            }
        )
        # uvicorn closes the transport when the app raises after the response started.
        raise DeliberateDrop("commit-then-drop fault")


class _HideDeliberateDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DeliberateDrop)


def quiet_uvicorn_drop_logs() -> None:
    """Keep injected drops out of uvicorn's error log (they are expected, not bugs)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDeliberateDrops) for f in logger.filters):
        logger.addFilter(_HideDeliberateDrops())
