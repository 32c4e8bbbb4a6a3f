"""Which failures of an API-calling step Dagster retries, and the pool those steps share.

Every asset that calls the API (snapshot, catalog, enrich-later) runs in the ``cleanlist_api``
pool and carries :data:`API_RETRY_POLICY`. The client already retries each call (429, 5xx,
dropped connections) within its own budget; the step-level retry is the second line, for an
outage longer than that budget. Dagster's ``RetryPolicy`` retries on any exception, so errors
that a retry cannot heal — a revoked key, a missing scope, a list that is not there, a request
the API rejects, an answer of the wrong shape — are turned into ``dg.Failure(allow_retries=False)``
by :func:`fail_fast_on_permanent_errors`: the step fails once, at once, with the API's message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from cleanlist_pipeline.api.errors import (
    APIError,
    CleanlistError,
    OutcomeUnknownError,
    RateLimitedError,
    RateLimiterTimeoutError,
    ServerError,
    SpendCapExceededError,
    TransportError,
)
from cleanlist_pipeline.api.scopes import scope_advice

__all__ = [
    "API_POOL",
    "API_RETRY_POLICY",
    "fail_fast_on_permanent_errors",
    "is_transient",
]

#: The concurrency pool of every step that calls the API (``dagster instance concurrency set``).
API_POOL = "cleanlist_api"

#: Retries of a whole step after the client's own retries gave up: 30 s, 90 s, 210 s (± 30 s).
API_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def is_transient(exc: BaseException) -> bool:
    """Could running the step again succeed where this attempt failed?

    Errors outside the client (disk, object store) count as transient; a lost answer to a call
    that is not safe to repeat does not: repeating it could do the work twice.

    >>> from cleanlist_pipeline.api.errors import AuthenticationError
    >>> is_transient(AuthenticationError("bad key", status=401))
    False
    >>> is_transient(ServerError("busy", status=503))
    True
    """
    if isinstance(exc, OutcomeUnknownError):
        return False
    if isinstance(exc, (TransportError, RateLimiterTimeoutError)):
        return True
    if isinstance(exc, APIError):
        # A spend-cap refusal heals with a fresh quote, which the step takes on its next try.
        return isinstance(exc, (ServerError, RateLimitedError, SpendCapExceededError))
    return not isinstance(exc, CleanlistError)


def _describe(exc: BaseException) -> str:
    # Client errors carry the API's message and fix, never the key (api/errors.py).
    text = str(exc) or type(exc).__name__
    fix = getattr(exc, "fix", None)
    text = f"{text} (fix: {fix})" if fix and fix not in text else text
    advice = scope_advice(exc)  # what a missing scope disables (api/scopes.py)
    return f"{text} {advice}" if advice else text


@contextmanager
def fail_fast_on_permanent_errors(
    also: tuple[type[dg.Failure], ...] = (),
) -> Iterator[None]:
    """Re-raise client errors a retry cannot heal as ``dg.Failure(allow_retries=False)``; the
    ``dg.Failure`` types in ``also`` (a spend-guard refusal) fail without retries too."""
    try:
        yield
    except dg.Failure as exc:
        if also and isinstance(exc, also):
            exc.allow_retries = False
        raise
    except CleanlistError as exc:
        if is_transient(exc):
            raise
        metadata: dict[str, str | int] = {"error": type(exc).__name__}
        status = getattr(exc, "status", None)
        if status is not None:
            metadata["status"] = int(status)
        request_id = getattr(exc, "request_id", None)
        if request_id:
            metadata["request_id"] = str(request_id)
        raise dg.Failure(_describe(exc), metadata=metadata, allow_retries=False) from exc
