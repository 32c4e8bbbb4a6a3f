"""An answer missing a required field (or with a wrong type) raises ResponseShapeError naming
the field; unknown extra fields are kept, not rejected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cleanlist_pipeline.api import CleanlistClient, ResponseShapeError


def answering(body: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body)


def test_missing_required_field_is_named(mock_client: Callable[..., CleanlistClient]) -> None:
    client = mock_client(answering({"list_id": "l1", "name": "Q3", "enriched_count": 0}))
    with pytest.raises(ResponseShapeError) as info:
        client.get_list("l1")
    assert info.value.field == "lead_count" and info.value.model == "LeadList"
    assert "`lead_count`" in str(info.value)


def test_wrong_type_is_named(mock_client: Callable[..., CleanlistClient]) -> None:
    client = mock_client(answering({"organization_id": "o", "credits": "lots"}))
    with pytest.raises(ResponseShapeError, match=r"CreditsBalance\.credits"):
        client.credits_balance()


def test_nested_lead_without_id_is_named(mock_client: Callable[..., CleanlistClient]) -> None:
    body = {
        "list_id": "l1",
        "total": 2,
        "cursor": None,
        "leads": [{"lead_id": "a"}, {"email": "x@example.com"}],
    }
    with pytest.raises(ResponseShapeError) as info:
        list(mock_client(answering(body)).iter_leads("l1"))
    assert info.value.field == "leads[1].lead_id"
    assert "x@example.com" not in str(info.value)  # personal data stays out of messages


def test_unknown_fields_are_tolerated_and_kept(mock_client: Callable[..., CleanlistClient]) -> None:
    body = {
        "list_id": "l1",
        "name": "Q3",
        "lead_count": 3,
        "enriched_count": 1,
        "brand_new_field": {"x": 1},
        "timestamp_ms": 1,
    }
    lst = mock_client(answering(body)).get_list("l1")
    assert lst.lead_count == 3 and lst.extra == {"brand_new_field": {"x": 1}}


def test_null_required_field_is_an_error(mock_client: Callable[..., CleanlistClient]) -> None:
    client = mock_client(answering({"workflow_id": "w", "status": None}))
    with pytest.raises(ResponseShapeError, match="`status`"):
        client.enrichment_status("w")


def test_non_json_success_body(mock_client: Callable[..., CleanlistClient]) -> None:
    client = mock_client(lambda r: httpx.Response(200, text="<html>proxy page</html>"))
    with pytest.raises(ResponseShapeError, match="not JSON"):
        client.whoami()


def test_unknown_workflow_status_is_not_terminal(
    mock_client: Callable[..., CleanlistClient],
) -> None:
    client = mock_client(answering({"workflow_id": "w", "status": "queued_for_review"}))
    assert client.enrichment_status("w").is_terminal is False
