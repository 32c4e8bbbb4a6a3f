"""The API key appears in no log line (any logger, DEBUG included), exception text or repr,
client/resource repr, or the rate limiter's database files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cleanlist_pipeline.api import (
    CleanlistClient,
    CleanlistError,
    RateLimitConfig,
    RetryPolicy,
)
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.testing import SandboxHandle


def test_key_is_nowhere(
    cleanlist_sandbox: SandboxHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = cleanlist_sandbox.add_key(scopes=["lists:read", "lists:write"])
    db = tmp_path / "cleanlist-ratelimit.sqlite"
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    texts: list[str] = []

    retry = RetryPolicy(backoff_initial=0.01, backoff_max=0.02)
    limits = RateLimitConfig(per_key=1000, per_org=1000, db_path=db)
    with CleanlistClient(key, cleanlist_sandbox.v2, rate_limit=limits, retry=retry) as client:
        texts.append(repr(client))
        list_id = client.create_list("leak check").list_id
        cleanlist_sandbox.set_faults(
            [
                {"path": "/whoami", "burst_429": 1, "retry_after_s": 0.1},
                {"method": "POST", "path": "csv-import", "drop_next": 1},
            ]
        )
        client.whoami()
        client.csv_import(
            list_id, b"email\na@example.com\n", {"email": "email"}, idempotency_key="leak-1"
        )
        failing = [
            lambda: client.get_list("missing-list"),
            lambda: client.csv_import(
                list_id, b"email\na@example.com\n", {"email": "nope"}, idempotency_key="leak-2"
            ),
            lambda: client.csv_import(
                list_id,
                b"email\na@example.com\n",
                {"email": "email"},
                idempotency_key="leak-3",
                dispatch_enrichment=True,
                enrichment_type="full",
            ),  # 403: key lacks enrich:write
            lambda: client.estimate_cost("enrich_list", row_count="x"),
        ]
        for call in failing:
            with pytest.raises(CleanlistError) as info:
                call()
            texts += [str(info.value), repr(info.value), repr(info.value.__dict__)]

    # A wrong key that resembles the real one must not be echoed either.
    wrong = key + "x"
    with CleanlistClient(wrong, cleanlist_sandbox.v2, rate_limit=None, retry=retry) as bad:
        with pytest.raises(CleanlistError) as info:
            bad.whoami()
        texts += [str(info.value), repr(info.value), repr(bad)]

    resource = CleanlistResource(api_key=key, base_url=cleanlist_sandbox.v2)
    texts += [resource.describe_target(), str(resource.target_metadata())]
    texts += [repr(resource), str(resource)]  # pydantic would show every field by default

    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    assert len(caplog.records) > 10
    for text in texts:
        assert key not in text
        assert key[6:] not in text  # not even without the clapi_ prefix

    files = list(tmp_path.glob("cleanlist-ratelimit.sqlite*"))
    assert db in files
    for f in files:
        data = f.read_bytes()
        assert key.encode() not in data and key[6:].encode() not in data
