"""Assertions shared by the sandbox tests."""

from __future__ import annotations

import base64
import types
import typing
from typing import Any

import httpx
from cleanlist_ai.models.http_validation_error import HTTPValidationError
from pydantic import BaseModel

# Contract §5.1: the error envelope's always-present and optional keys.
ERROR_ALWAYS = {"code", "problem", "retryable", "docs_url", "request_id"}
ERROR_OPTIONAL = {
    "cause",
    "fix",
    "retry_after_ms",
    "details",
    "suggested_actions",
    "estimated_cost_credits",
    "available_credits",
    "shortfall_credits",
}
# FastAPI's 422 items: the SDK's ValidationError declares loc/msg/type; FastAPI on pydantic v2
# also sends input (and ctx).
DETAIL_KEYS = {"type", "loc", "msg", "input", "ctx"}


def _nested_model(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """(model, is_list) when a field holds an SDK model or a list of them."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            hit = _nested_model(arg)
            if hit:
                return hit
        return None
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None


def check_model(model: Any, body: dict[str, Any]) -> Any:
    """Validate ``body`` with the SDK model and assert it carries no field the model lacks.

    Nested objects (``lists[]``, ``leads[]``, ``results[]``, ``result``) are checked the same way.
    """
    fields = set(model.model_fields)
    for _name, info in model.model_fields.items():
        if info.alias:
            fields.add(info.alias)
    fields.discard("additional_properties")
    extra = set(body) - fields
    assert not extra, f"{model.__name__} has no fields {sorted(extra)}"
    for name, info in model.model_fields.items():
        value = body.get(info.alias or name)
        nested = _nested_model(info.annotation)
        if value is None or nested is None:
            continue
        sub, many = nested
        for item in value if many else [value]:
            check_model(sub, item)
    parsed = model.from_dict(body)
    assert parsed is not None
    return parsed


def check_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert an error answer in the documented envelope; returns its ``error`` object."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert ERROR_ALWAYS <= set(err) <= ERROR_ALWAYS | ERROR_OPTIONAL, sorted(err)
    assert err["code"] == code, err
    assert isinstance(err["problem"], str) and err["problem"]
    assert isinstance(err["retryable"], bool)
    assert err["docs_url"].endswith("/" + code.replace("_", "-"))
    assert err["request_id"].startswith("req_")
    return dict(err)


def check_422(r: httpx.Response) -> list[dict[str, Any]]:
    """Assert a FastAPI-style schema failure, validated with the SDK's HTTPValidationError."""
    assert r.status_code == 422, (r.status_code, r.text[:300])
    body = r.json()
    assert set(body) == {"detail"} and body["detail"], body
    for item in body["detail"]:
        assert {"type", "loc", "msg"} <= set(item) <= DETAIL_KEYS, item
    assert HTTPValidationError.from_dict(
        {"detail": [{k: item[k] for k in ("type", "loc", "msg")} for item in body["detail"]]}
    )
    return list(body["detail"])


def b64(text: str | bytes) -> str:
    """Standard base64 of a CSV text (UTF-8)."""
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def post_csv(
    client: httpx.Client, list_id: str, csv_text: str | bytes, **fields: Any
) -> httpx.Response:
    """``POST …/csv-import`` of ``csv_text`` (base64-encoded here); ``fields`` are the other
    body keys (``column_mapping``, ``enrichment_type``, ``idempotency_key``, …)."""
    body = {"csv_content_base64": b64(csv_text), **fields}
    return client.post(f"/lead-lists/{list_id}/csv-import", json=body)
