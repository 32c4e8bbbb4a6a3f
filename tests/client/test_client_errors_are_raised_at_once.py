"""A 4xx is raised on the first answer — never retried — with the right class and a message
that tells the user what to do. The sandbox ledger proves exactly one request was sent."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cleanlist_pipeline.api import (
    AuthenticationError,
    CleanlistClient,
    InsufficientCreditsError,
    InsufficientScopeError,
    MissingColumnError,
    NotFoundError,
    PayloadTooLargeError,
    ValidationError,
)
from cleanlist_pipeline.testing import SandboxHandle

CSV = b"email,name\na@example.com,Ann\n"
IMPORT_ROUTE = "POST /lead-lists/{list_id}/csv-import"


def test_401_bad_key(
    make_client: Callable[..., CleanlistClient], prefix: str, ledger_requests: Callable[[str], int]
) -> None:
    client = make_client(prefix, key="clapi_this_key_does_not_exist_anywhere_000000")
    with pytest.raises(AuthenticationError) as info:
        client.whoami()
    assert info.value.status == 401 and not info.value.retryable
    assert "CLEANLIST_API_KEY" in str(info.value) or (info.value.fix or "") in str(info.value)
    assert ledger_requests("GET /whoami") == 1


def test_403_scope_message_names_the_scope_and_why(
    make_client: Callable[..., CleanlistClient],
    prefix: str,
    cleanlist_sandbox: SandboxHandle,
    ledger_requests: Callable[[str], int],
) -> None:
    key = cleanlist_sandbox.add_key(scopes=["lists:read", "lists:write"])
    client = make_client(prefix, key=key)
    list_id = client.create_list("scoped").list_id
    with pytest.raises(InsufficientScopeError) as info:
        client.csv_import(
            list_id,
            CSV,
            {"email": "email"},
            idempotency_key="k1",
            dispatch_enrichment=True,
            enrichment_type="partial",
        )
    err = info.value
    assert err.status == 403 and err.code == "insufficient_scope"
    assert "enrich:write" in err.required_scopes
    assert "API key lacks `enrich:write`, needed because dispatch_enrichment is true" in str(err)
    assert ledger_requests(IMPORT_ROUTE) == 1


def test_404_unknown_list(client: CleanlistClient, ledger_requests: Callable[[str], int]) -> None:
    with pytest.raises(NotFoundError) as info:
        client.get_list("00000000-0000-0000-0000-000000000000")
    assert info.value.status == 404 and info.value.code == "not_found"
    assert info.value.request_id  # kept for support tickets
    assert ledger_requests("GET /lead-lists/{list_id}") == 1


def test_400_missing_column_names_the_header(
    client: CleanlistClient, ledger_requests: Callable[[str], int]
) -> None:
    list_id = client.create_list("cols").list_id
    with pytest.raises(MissingColumnError) as info:
        client.csv_import(list_id, CSV, {"email": "E-mail Address"}, idempotency_key="k2")
    assert info.value.status == 400
    assert "E-mail Address" in str(info.value)
    assert ledger_requests(IMPORT_ROUTE) == 1


def test_413_payload_too_large(
    client: CleanlistClient, ledger_requests: Callable[[str], int]
) -> None:
    list_id = client.create_list("huge").list_id
    rows = b"".join(b"user%06d@example.com,Name %06d\n" % (i, i) for i in range(5000))
    with pytest.raises(PayloadTooLargeError) as info:
        client.csv_import(list_id, b"email,name\n" + rows, {"email": "email"}, idempotency_key="k3")
    assert info.value.status == 413
    assert "Split the CSV" in str(info.value) or "split" in str(info.value).lower()
    assert ledger_requests(IMPORT_ROUTE) == 1


def test_422_schema_failure(client: CleanlistClient, ledger_requests: Callable[[str], int]) -> None:
    with pytest.raises(ValidationError) as info:
        client.estimate_cost("enrich_list", row_count="many")
    assert info.value.status == 422
    assert "row_count" in str(info.value)  # FastAPI's loc is rendered into the message
    assert ledger_requests("POST /credits/estimate") == 1


def test_400_validation_error(
    client: CleanlistClient, ledger_requests: Callable[[str], int]
) -> None:
    with pytest.raises(ValidationError) as info:
        client.estimate_cost("no_such_tool", row_count=1)
    assert info.value.status == 400 and info.value.code == "validation_error"
    assert ledger_requests("POST /credits/estimate") == 1


def test_400_insufficient_credits(
    client: CleanlistClient, cleanlist_sandbox: SandboxHandle, ledger_requests: Callable[[str], int]
) -> None:
    list_id = cleanlist_sandbox.seed_list("costly", 40)
    quote = client.estimate_cost("enrich_list", list_id=list_id, scope="full")
    cleanlist_sandbox.settings(credits=5)
    with pytest.raises(InsufficientCreditsError) as info:
        client.enrich_list(list_id, "full", quote.quote_id)
    assert info.value.status in (400, 402)
    assert ledger_requests("POST /enrichment/bulk") == 1
