"""Both documented error shapes (MCP envelope, legacy/FastAPI `detail`) become the right
exception class with status, code, problem, fix, retryable, request_id and details kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cleanlist_pipeline.api import (
    APIError,
    AuthenticationError,
    CleanlistClient,
    InsufficientCreditsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    SpendCapExceededError,
    ValidationError,
)
from cleanlist_pipeline.api.errors import error_from_response


def envelope(code: str, **kw: Any) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "problem": kw.pop("problem", f"{code} happened"),
            "retryable": False,
            "docs_url": "https://docs",
            "request_id": "req_1",
            **kw,
        }
    }


def build(
    status: int,
    body: Any,
    *,
    retry_after: str | None = None,
    method: str = "GET",
    path: str = "/x",
    secret: str | None = None,
) -> APIError:
    """The error the client raises for this answer."""
    return error_from_response(
        status=status,
        body=body,
        retry_after_header=retry_after,
        method=method,
        path=path,
        secret=secret,
    )


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, envelope("insufficient_credits", shortfall_credits=7), InsufficientCreditsError),
        (400, envelope("spend_cap_exceeded"), SpendCapExceededError),
        (403, envelope("list_protected"), PermissionDeniedError),
        (402, {"detail": "Insufficient credits"}, InsufficientCreditsError),
        (401, {"detail": "Not authenticated"}, AuthenticationError),
        (404, {"detail": "Not Found"}, NotFoundError),
        (
            422,
            {"detail": [{"type": "missing", "loc": ["body", "name"], "msg": "Field required"}]},
            ValidationError,
        ),
        (429, envelope("rate_limited", retryable=True, retry_after_ms=2500), RateLimitedError),
        (503, {"detail": "Service Unavailable"}, ServerError),
        (500, "upstream exploded", ServerError),
        (418, {}, APIError),
    ],
)
def test_shapes_map_to_classes(status: int, body: Any, cls: type[APIError]) -> None:
    err = build(status, body)
    assert type(err) is cls and err.status == status


def test_envelope_fields_are_kept() -> None:
    body = envelope(
        "insufficient_credits",
        fix="Top up.",
        details={"list_id": "l1"},
        shortfall_credits=7,
        available_credits=3,
    )
    err = build(400, body, method="POST", path="/enrichment/bulk")
    assert (err.code, err.fix, err.request_id, err.retryable) == (
        "insufficient_credits",
        "Top up.",
        "req_1",
        False,
    )
    assert err.details == {"list_id": "l1", "shortfall_credits": 7, "available_credits": 3}
    assert "short by 7 credits" in str(err) and "Top up." in str(err)


def test_422_detail_list_is_readable() -> None:
    body = {"detail": [{"type": "missing", "loc": ["body", "name"], "msg": "Field required"}]}
    err = build(422, body, method="POST", path="/lead-lists")
    assert str(err).startswith("name: Field required")
    assert err.details == body["detail"]


def test_retry_after_ms_wins_over_header() -> None:
    body = envelope("rate_limited", retry_after_ms=2500)
    assert build(429, body, retry_after="9").retry_after == 2.5
    legacy = build(429, {"detail": "slow"}, retry_after="4")
    assert legacy.retry_after == 4.0 and legacy.retryable is True


@pytest.mark.parametrize("header", ["nan", "inf", "soon"])
def test_unusable_retry_after_falls_back_to_backoff(header: str) -> None:
    assert build(503, {"detail": "busy"}, retry_after=header).retry_after is None


def test_server_echoing_the_key_is_scrubbed() -> None:
    key = "clapi_echoed_secret_value_1234567890"
    body = envelope("unauthorized", problem=f"Key {key} is revoked", details={"key": key})
    err = build(401, body, path="/whoami", secret=key)
    assert key not in str(err) and key not in repr(err) and key not in str(err.details)


def test_client_raises_mapped_error(mock_client: Callable[..., CleanlistClient]) -> None:
    client = mock_client(lambda r: httpx.Response(404, json=envelope("not_found")))
    with pytest.raises(NotFoundError) as info:
        client.get_list("nope")
    assert info.value.request_id == "req_1" and "GET /api/v2/lead-lists/nope" in str(info.value)
