"""Error answers: the documented MCP envelope and FastAPI-style 422 schema failures.

``ApiError`` is raised anywhere inside a handler; the route wrapper turns it into
``{"error": {code, problem, cause, fix, retryable, retry_after_ms, docs_url, request_id, details}}``.
``SchemaError`` carries FastAPI ``{"detail": [{type, loc, msg, input}]}`` items (HTTP 422).
"""

from __future__ import annotations

import json
import math
import secrets
from typing import Any

from starlette.responses import Response

DOCS = "https://docs.cleanlist.ai/errors/"


class ApiError(Exception):
    """An error answer in the documented envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        problem: str,
        *,
        fix: str | None = None,
        cause: str | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
        details: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {problem}")
        self.status = status
        self.code = code
        self.problem = problem
        self.fix = fix
        self.cause = cause
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.details = details
        self.extra = extra or {}

    def response(self) -> Response:
        """Render the envelope (with ``Retry-After`` in whole seconds, rounded up)."""
        err: dict[str, Any] = {
            "code": self.code,
            "problem": self.problem,
            "cause": self.cause,
            "fix": self.fix,
            "retryable": self.retryable,
            "retry_after_ms": (
                math.ceil(self.retry_after_s * 1000) if self.retry_after_s is not None else None
            ),
            "docs_url": DOCS + self.code.replace("_", "-"),
            "request_id": "req_" + secrets.token_hex(8),
            "details": self.details,
        }
        err.update(self.extra)
        headers = {}
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_s)))
        return Response(
            json.dumps({"error": err}),
            status_code=self.status,
            media_type="application/json",
            headers=headers,
        )


class SchemaError(Exception):
    """A FastAPI-style 422 with ``detail`` items."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__("schema validation failed")
        self.detail = detail

    def response(self) -> Response:
        """Render ``{"detail": [...]}`` with status 422."""
        return Response(
            json.dumps({"detail": self.detail}, default=str),
            status_code=422,
            media_type="application/json",
        )


def schema_error(loc: list[str | int], msg: str, typ: str, value: Any) -> SchemaError:
    """One-item SchemaError, e.g. ``schema_error(["query", "limit"], "…", "less_than_equal", "0")``."""
    return SchemaError([{"type": typ, "loc": loc, "msg": msg, "input": value}])


def not_found(what: str, details: dict[str, Any] | None = None) -> ApiError:
    """404 ``not_found`` (missing and inaccessible look the same, so private lists never leak)."""
    return ApiError(
        404,
        "not_found",
        f"{what} not found.",
        fix="Check the id; lists you cannot access answer 404 like missing ones.",
        details=details,
    )


def validation(
    problem: str, fix: str | None = None, details: dict[str, Any] | None = None
) -> ApiError:
    """400 ``validation_error``."""
    return ApiError(400, "validation_error", problem, fix=fix, details=details)
