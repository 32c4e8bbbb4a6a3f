"""Every exception the Cleanlist client raises, in one tree.

```
CleanlistError                      base: catch this to catch everything from the client
├── ConfigurationError              bad client settings (plain http:// to a remote host, …)
├── APIError                        the API answered with an HTTP error
│   ├── AuthenticationError         401: key missing, malformed, expired or revoked
│   ├── PermissionDeniedError       403: plan, protected list, list cap
│   │   └── InsufficientScopeError  403 insufficient_scope: the key lacks a scope
│   ├── NotFoundError               404: list/lead/handle missing or not visible
│   ├── ValidationError             400/422: request rejected by validation
│   │   └── MissingColumnError      400 missing_column: column_mapping names an absent header
│   ├── InsufficientCreditsError    400 insufficient_credits (MCP) or 402 (legacy)
│   ├── SpendCapExceededError       400 spend_cap_exceeded: recomputed cost exceeds the quote
│   ├── PayloadTooLargeError        413: CSV chunk above the server's cap
│   ├── RateLimitedError            429: over the per-key or per-org rate limit
│   └── ServerError                 5xx: the server failed; often transient
├── TransportError                  no HTTP answer (connect/read/write failure, timeout)
│   └── OutcomeUnknownError         a non-repeatable call lost its answer: it may have run
├── ResponseShapeError              2xx answer missing a required field or with a wrong type
├── PaginationError                 the server repeated a cursor (would loop forever)
└── RateLimiterTimeoutError         the local rate limiter could not grant a slot in time
```

Errors are built from both documented error shapes: the MCP envelope
``{"error": {"code", "problem", "fix", "retryable", "request_id", "details", …}}`` and the legacy
FastAPI ``{"detail": "…"}`` / ``{"detail": [{"loc", "msg", "type"}]}``. No message, ``repr`` or
attribute ever holds the API key: text coming from the server is scrubbed of it as well.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from cleanlist_pipeline.contract import (
    CSV_IMPORT_MAX_BYTES,
    CSV_IMPORT_MAX_ROWS,
    RATE_LIMIT_PER_KEY,
    RATE_LIMIT_PER_ORG,
)

__all__ = [
    "APIError",
    "AuthenticationError",
    "CleanlistError",
    "ConfigurationError",
    "InsufficientCreditsError",
    "InsufficientScopeError",
    "MissingColumnError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PaginationError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RateLimiterTimeoutError",
    "ResponseShapeError",
    "ServerError",
    "SpendCapExceededError",
    "TransportError",
    "ValidationError",
    "error_from_response",
]


class CleanlistError(Exception):
    """Base class of every error raised by the Cleanlist client."""


class ConfigurationError(CleanlistError):
    """The client was configured in a way that cannot work or is unsafe."""


class APIError(CleanlistError):
    """The API answered with an HTTP error status; the fields mirror the error envelope."""

    #: Which attempt of the call got this answer (1 = the first try); set by the client.
    attempt: int = 1
    #: True when an earlier attempt of the same call may have run on the server (it met a 5xx
    #: or lost its answer); a 429 alone does not count, the server refused it. Set by the client.
    after_uncertain_attempt: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        problem: str | None = None,
        fix: str | None = None,
        retryable: bool = False,
        request_id: str | None = None,
        details: Any = None,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.problem = problem
        self.fix = fix
        self.retryable = retryable
        self.request_id = request_id
        self.details = details
        #: Seconds the server asked us to wait (``retry_after_ms`` first, then ``Retry-After``).
        self.retry_after = retry_after
        self.method = method
        self.path = path

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, code={self.code!r}, "
            f"request_id={self.request_id!r}, message={self.message!r})"
        )


class AuthenticationError(APIError):
    """401: the API key is missing, malformed, expired or revoked."""


class PermissionDeniedError(APIError):
    """403: the key may not do this (plan gating, protected list, list cap)."""


class InsufficientScopeError(PermissionDeniedError):
    """403 ``insufficient_scope``: the key lacks the scope the endpoint checks."""

    @property
    def required_scopes(self) -> list[str]:
        """Scopes the server said it needed (from ``details``), if it said."""
        return _scopes_from_details(self.details, "required")

    @property
    def granted_scopes(self) -> list[str]:
        """Scopes the key has (from ``details``), if the server said."""
        return _scopes_from_details(self.details, "granted")


class NotFoundError(APIError):
    """404: missing, or not visible to this key (private lists look missing on purpose)."""


class ValidationError(APIError):
    """400/422: the request failed validation (``validation_error`` or FastAPI's 422)."""


class MissingColumnError(ValidationError):
    """400 ``missing_column``: ``column_mapping`` names a header that is not in the CSV."""


class InsufficientCreditsError(APIError):
    """The balance cannot cover the cost (MCP 400 ``insufficient_credits``, legacy 402)."""


class SpendCapExceededError(APIError):
    """400 ``spend_cap_exceeded``: the recomputed cost exceeds the quote; get a new quote."""


class PayloadTooLargeError(APIError):
    """413: the body is above the server's cap (CSV: 150 KB / 600 rows); split and resend."""


class RateLimitedError(APIError):
    """429: over the rate limit; ``retry_after`` holds the server's hint in seconds."""


class ServerError(APIError):
    """5xx: the server failed; usually transient (503 = feature switched off or overloaded)."""


class TransportError(CleanlistError):
    """No HTTP answer arrived: connection refused/reset, timeout, or a broken response."""

    def __init__(self, message: str, *, method: str, path: str, cause_type: str) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        #: Name of the underlying httpx exception class, e.g. ``"ReadTimeout"``.
        self.cause_type = cause_type


class OutcomeUnknownError(TransportError):
    """A call that is not safe to repeat lost its answer; it may have run on the server."""


class ResponseShapeError(CleanlistError):
    """A successful answer lacked a required field or had a wrong type (contract drift)."""

    def __init__(self, message: str, *, model: str, field: str) -> None:
        super().__init__(message)
        self.model = model
        self.field = field


class PaginationError(CleanlistError):
    """The server handed back a cursor it had already given: following it would loop forever."""


class RateLimiterTimeoutError(CleanlistError):
    """The local (client-side) rate limiter could not grant a request slot within the wait cap."""


# --- building errors from responses -------------------------------------------------------

_BY_CODE: dict[str, type[APIError]] = {
    "unauthorized": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "insufficient_scope": InsufficientScopeError,
    "list_cap_reached": PermissionDeniedError,
    "list_protected": PermissionDeniedError,
    "feature_gated": PermissionDeniedError,
    "not_found": NotFoundError,
    "validation_error": ValidationError,
    "missing_column": MissingColumnError,
    "quote_required": ValidationError,
    "insufficient_credits": InsufficientCreditsError,
    "spend_cap_exceeded": SpendCapExceededError,
    "payload_too_large": PayloadTooLargeError,
    "rate_limited": RateLimitedError,
    "service_unavailable": ServerError,
}

_BY_STATUS: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    422: ValidationError,
    429: RateLimitedError,
}

# What the user should do, when the server gave no `fix`.
_DEFAULT_FIX: dict[type[APIError], str] = {
    AuthenticationError: (
        "Check CLEANLIST_API_KEY: the key must be a live `clapi_…` key sent as a Bearer token."
    ),
    PermissionDeniedError: "The key's account or plan is not allowed to do this.",
    NotFoundError: (
        "Check the id; lists you cannot access look missing, and cohort handles expire "
        "(re-run the search or re-read the list page)."
    ),
    ValidationError: "Fix the request fields named in the details.",
    MissingColumnError: "Make column_mapping name headers that exist in the CSV.",
    InsufficientCreditsError: "Top up credits or enrich fewer leads.",
    SpendCapExceededError: "Request a fresh quote (estimate_cost) and retry with its quote_id.",
    PayloadTooLargeError: (
        f"Split the CSV into smaller chunks (≤{CSV_IMPORT_MAX_BYTES:,} bytes, "
        f"≤{CSV_IMPORT_MAX_ROWS} rows)."
    ),
    RateLimitedError: (
        f"Slow down: the API allows {RATE_LIMIT_PER_KEY} requests/min per key, "
        f"{RATE_LIMIT_PER_ORG} per organization."
    ),
    ServerError: "Retry later; the server reported a failure.",
}


def _scopes_from_details(details: Any, which: str) -> list[str]:
    if not isinstance(details, Mapping):
        return []
    for key, value in details.items():
        if which in str(key).lower():
            if isinstance(value, str):
                return [value]
            if isinstance(value, list | tuple):
                return [str(v) for v in value]
    return []


def _scrub(value: Any, secret: str | None) -> Any:
    """Remove the API key from server-provided text (a server might echo it back)."""
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, "[redacted]")
    if isinstance(value, Mapping):
        return {str(k): _scrub(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, secret) for v in value]
    return value


def _retry_after_seconds(envelope: Mapping[str, Any], header: str | None) -> float | None:
    """`retry_after_ms` from the body wins; then the `Retry-After` header (seconds)."""
    ms = envelope.get("retry_after_ms")
    if isinstance(ms, int | float) and not isinstance(ms, bool) and 0 <= ms < math.inf:
        return float(ms) / 1000.0
    if header:
        try:
            seconds = float(header.strip())
        except ValueError:
            return _http_date_delay(header)
        # float() also reads "nan" and "inf"; neither is a delay anyone can sleep.
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    return None


def _http_date_delay(header: str) -> float | None:
    # Retry-After may also be an HTTP date (RFC 9110 §10.2.3); rare, so its parser loads late.
    import email.utils

    try:
        parsed = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(parsed.timestamp() - time.time(), 0.0)


def _legacy_detail_text(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail[:5]:
            if isinstance(item, Mapping):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                msg = item.get("msg", "invalid")
                parts.append(f"{loc}: {msg}" if loc else str(msg))
            else:
                parts.append(str(item))
        more = f" (+{len(detail) - 5} more)" if len(detail) > 5 else ""
        return "; ".join(parts) + more
    return str(detail)


def error_from_response(
    *,
    status: int,
    body: Any,
    retry_after_header: str | None,
    method: str,
    path: str,
    secret: str | None,
    hint: Mapping[str, str] | None = None,
) -> APIError:
    """Build the right ``APIError`` subclass from an HTTP error answer.

    ``body`` is the decoded JSON (or ``None``/text when it was not JSON). ``hint`` maps an error
    class name or code to an extra sentence that explains *why* the call needed what it lacked,
    e.g. ``{"insufficient_scope": "needed because dispatch_enrichment is true"}``.
    """
    body = _scrub(body, secret)
    envelope: Mapping[str, Any] = {}
    legacy_detail: Any = None
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            envelope = inner
        elif "detail" in body:
            legacy_detail = body["detail"]

    code = envelope.get("code") if isinstance(envelope.get("code"), str) else None
    problem = envelope.get("problem") if isinstance(envelope.get("problem"), str) else None
    fix = envelope.get("fix") if isinstance(envelope.get("fix"), str) else None
    request_id = envelope.get("request_id") if isinstance(envelope.get("request_id"), str) else None
    details: Any = envelope.get("details")
    for credit_field in ("estimated_cost_credits", "available_credits", "shortfall_credits"):
        if credit_field in envelope:
            details = dict(details) if isinstance(details, Mapping) else {}
            details[credit_field] = envelope[credit_field]
    if legacy_detail is not None:
        problem = _legacy_detail_text(legacy_detail)
        details = legacy_detail if details is None else details
    if problem is None and isinstance(body, str) and body.strip():
        problem = body.strip()[:300]

    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIError
    if cls is ValidationError and isinstance(problem, str) and "missing_column" in problem:
        cls = MissingColumnError
    if cls is PermissionDeniedError and code is None and problem and "scope" in problem.lower():
        cls = InsufficientScopeError

    retryable_raw = envelope.get("retryable")
    retryable = (
        bool(retryable_raw) if isinstance(retryable_raw, bool) else status == 429 or status >= 500
    )
    retry_after = _retry_after_seconds(envelope, retry_after_header)

    message = _compose_message(
        cls, status, code, problem, fix, details, request_id, method, path, hint or {}
    )
    return cls(
        message,
        status=status,
        code=code,
        problem=problem,
        fix=fix,
        retryable=retryable,
        request_id=request_id,
        details=details,
        retry_after=retry_after,
        method=method,
        path=path,
    )


def _compose_message(
    cls: type[APIError],
    status: int,
    code: str | None,
    problem: str | None,
    fix: str | None,
    details: Any,
    request_id: str | None,
    method: str,
    path: str,
    hint: Mapping[str, str],
) -> str:
    why = hint.get(code or "") or hint.get(cls.__name__) or ""
    if cls is InsufficientScopeError:
        required = _scopes_from_details(details, "required")
        granted = _scopes_from_details(details, "granted")
        lacking = ", ".join(f"`{s}`" for s in required) or "a required scope"
        head = f"API key lacks {lacking}" + (f", {why}" if why else "")
        if granted:
            head += f" (key has: {', '.join(granted)})"
        head += ". Create a key with that scope in Cleanlist's API settings."
    else:
        head = problem or f"HTTP {status}"
        if why:
            head += f" ({why})"
        if cls is MissingColumnError and details:
            head = head.rstrip(".") + f" (details: {details})"
        if cls is InsufficientCreditsError and isinstance(details, Mapping):
            shortfall = details.get("shortfall_credits")
            if shortfall is not None:
                head += f"; short by {shortfall} credits"
        todo = fix or _DEFAULT_FIX.get(cls)
        if todo:
            head += f". {todo}" if not head.endswith(".") else f" {todo}"
    ident = f"{status} {code}" if code else str(status)
    suffix = f" [{ident} on {method} {path}" + (
        f", request_id={request_id}]" if request_id else "]"
    )
    return head + suffix
