"""Transport failures (no HTTP answer) are retried for repeatable calls, never for enrichment
dispatch; other 4xx are never retried. Policy decisions are plain data (retry.py)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from cleanlist_pipeline.api import (
    CleanlistClient,
    NotFoundError,
    OutcomeUnknownError,
    Repeat,
    RetryPolicy,
    TransportError,
    ValidationError,
)
from cleanlist_pipeline.api.retry import SAFE_TO_REPEAT

WHOAMI = {
    "user_email": None,
    "organization_id": "o",
    "auth_type": "api_key",
    "scopes": [],
    "tier": "pro",
    "features": [],
}

ENRICH_LIST_ANSWER = {
    "workflow_id": "w",
    "status": "pending",
    "total_leads": 1,
    "estimated_cost": 1,
    "credits_reserved": 1,
    "poll_url": "/x",
}


def failing_then_ok(
    exc: Exception, failures: int, body: dict[str, object]
) -> tuple[Callable[[httpx.Request], httpx.Response], list[int]]:
    calls = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        calls[0] += 1
        if calls[0] <= failures:
            raise exc
        return httpx.Response(200, json=body)

    return handler, calls


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow connect"),
        httpx.ReadTimeout("slow read"),
        httpx.WriteTimeout("slow write"),
        httpx.PoolTimeout("pool"),
        httpx.ReadError("reset"),
        httpx.WriteError("broken pipe"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transport_failures_are_retried(
    exc: Exception, mock_client: Callable[..., CleanlistClient]
) -> None:
    handler, calls = failing_then_ok(exc, 2, WHOAMI)
    assert mock_client(handler).whoami().organization_id == "o"
    assert calls[0] == 3


def test_unretryable_transport_error_fails_at_once(
    mock_client: Callable[..., CleanlistClient],
) -> None:
    handler, calls = failing_then_ok(httpx.UnsupportedProtocol("bad scheme"), 1, WHOAMI)
    with pytest.raises(TransportError) as info:
        mock_client(handler).whoami()
    assert info.value.cause_type == "UnsupportedProtocol" and calls[0] == 1


def test_persisting_failure_gives_up_after_max_attempts(
    mock_client: Callable[..., CleanlistClient],
) -> None:
    handler, calls = failing_then_ok(httpx.ReadTimeout("slow"), 99, WHOAMI)
    client = mock_client(handler, retry=RetryPolicy(max_attempts=3, backoff_initial=0.001))
    with pytest.raises(TransportError, match="ReadTimeout"):
        client.whoami()
    assert calls[0] == 3


def test_enrichment_dispatch_is_not_retried_after_transport_error(
    mock_client: Callable[..., CleanlistClient],
) -> None:
    handler, calls = failing_then_ok(httpx.ReadTimeout("slow"), 1, {})
    with pytest.raises(OutcomeUnknownError, match="may have been executed"):
        mock_client(handler).enrich_by_task("cl-task_x", ["Email"], quote_id="q")
    assert calls[0] == 1


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("pool")],
    ids=lambda e: type(e).__name__,
)
def test_enrichment_dispatch_is_retried_when_the_request_never_left(
    exc: Exception, mock_client: Callable[..., CleanlistClient]
) -> None:
    handler, calls = failing_then_ok(exc, 1, ENRICH_LIST_ANSWER)
    assert mock_client(handler).enrich_list("l1", "partial", "q").workflow_id == "w"
    assert calls[0] == 2


def test_enrichment_dispatch_is_not_retried_after_5xx_but_is_after_429(
    mock_client: Callable[..., CleanlistClient],
) -> None:
    statuses = iter([503])
    client = mock_client(lambda r: httpx.Response(next(statuses), json={"detail": "down"}))
    with pytest.raises(Exception) as info:
        client.enrich_list("l1", "partial", "q")
    assert getattr(info.value, "status", None) == 503

    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "0"}, json={"detail": "slow"}),
            httpx.Response(200, json=ENRICH_LIST_ANSWER),
        ]
    )
    client = mock_client(lambda r: next(answers))
    assert client.enrich_list("l1", "partial", "q").workflow_id == "w"


def test_other_4xx_are_never_retried(mock_client: Callable[..., CleanlistClient]) -> None:
    calls = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        calls[0] += 1
        return httpx.Response(409, json={"detail": "conflict"})

    with pytest.raises(Exception) as info:
        mock_client(handler).get_list("l1")
    assert getattr(info.value, "status", None) == 409 and calls[0] == 1


def test_policy_table_matches_the_contract() -> None:
    assert SAFE_TO_REPEAT["csv_import"] is Repeat.WITH_KEY
    assert SAFE_TO_REPEAT["add_leads"] is Repeat.WITH_KEY
    assert SAFE_TO_REPEAT["enrich_list"] is Repeat.NOT_BLINDLY
    assert SAFE_TO_REPEAT["enrich_by_task"] is Repeat.NOT_BLINDLY
    policy = RetryPolicy()
    assert policy.should_retry("csv_import", 503, transport=False, has_idempotency_key=True)
    assert not policy.should_retry("csv_import", None, transport=True, has_idempotency_key=False)
    assert not policy.should_retry("get_list", 400, transport=False, has_idempotency_key=False)
    assert policy.should_retry("get_list", None, transport=True, has_idempotency_key=False)
    assert not policy.should_retry("something_new", 503, transport=False, has_idempotency_key=False)


def test_backoff_is_capped_full_jitter() -> None:
    import random

    policy = RetryPolicy(backoff_initial=1.0, backoff_max=8.0)
    rng = random.Random(3)
    waits = [policy.backoff(10, rng) for _ in range(200)]
    assert max(waits) <= 8.0 and min(waits) < 1.0  # full jitter reaches down to zero
    assert policy.wait_before_retry(1, server_hint=4.5) == 4.5


def test_validation_error_is_not_retried(mock_client: Callable[..., CleanlistClient]) -> None:
    calls = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        calls[0] += 1
        return httpx.Response(
            400,
            json={
                "error": {
                    "code": "validation_error",
                    "problem": "bad",
                    "retryable": False,
                    "request_id": "r",
                }
            },
        )

    with pytest.raises(ValidationError):
        mock_client(handler).create_list("x")
    assert calls[0] == 1


def test_delete_met_by_404_on_retry_means_already_deleted(
    mock_client: Callable[..., CleanlistClient],
) -> None:
    # First DELETE lands but its answer is a 503 (e.g. a proxy); the repeat finds nothing.
    answers = iter(
        [
            httpx.Response(503, json={"detail": "Service Unavailable"}),
            httpx.Response(404, json={"detail": "Not Found"}),
        ]
    )
    result = mock_client(lambda r: next(answers)).delete_list("l1")
    assert (result.deleted, result.already_deleted) == (True, True)


def test_delete_met_by_404_after_only_429s_is_an_error(
    mock_client: Callable[..., CleanlistClient],
) -> None:
    # A 429 means the server refused before acting: the 404 that follows is about the id.
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "0"}, json={"detail": "slow"}),
            httpx.Response(404, json={"detail": "Not Found"}),
        ]
    )
    with pytest.raises(NotFoundError) as info:
        mock_client(lambda r: next(answers)).delete_list("l1")
    assert info.value.attempt == 2 and info.value.after_uncertain_attempt is False


def test_delete_404_on_first_attempt_is_an_error(
    mock_client: Callable[..., CleanlistClient],
) -> None:
    client = mock_client(lambda r: httpx.Response(404, json={"detail": "Not Found"}))
    with pytest.raises(NotFoundError):
        client.delete_list("l1")
