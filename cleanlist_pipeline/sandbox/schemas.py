"""Request bodies as pydantic models, mirroring the OAS (``additionalProperties: false`` → forbid).

``parse_body`` turns a pydantic ValidationError into the FastAPI-style 422 the real API sends.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from cleanlist_pipeline.sandbox.errors import SchemaError, schema_error

Canonical = Literal[
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "mobile_phone",
    "work_phone",
    "linkedin_url",
    "company_name",
    "company_domain",
    "job_title",
    "city",
    "state",
    "country",
]
Name = Annotated[str, Field(min_length=1, max_length=200, strict=True)]
# An independent reading of the API spec: never import cleanlist_pipeline.contract here.
EnrichmentType = Literal["partial", "phone_only", "full"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateListBody(_Strict):
    """POST /lead-lists."""

    name: Name
    description: StrictStr | None = None
    folder_id: StrictStr | None = None


class UpdateListBody(_Strict):
    """PATCH /lead-lists/{id}: only the fields present change."""

    name: Name | None = None
    description: StrictStr | None = None
    folder_id: StrictStr | None = None


class AddByLeadIdsBody(_Strict):
    """POST /lead-lists/{id}/leads, mode A (AddByLeadIds)."""

    lead_ids: Annotated[list[StrictStr], Field(min_length=1, max_length=1000)]
    idempotency_key: Annotated[str, Field(max_length=128, strict=True)] | None = None


class AddByCohortBody(_Strict):
    """POST /lead-lists/{id}/leads, mode B (AddByCohort)."""

    task_id: StrictStr
    entity_ids: Annotated[list[StrictStr], Field(max_length=2000)] | None = None
    idempotency_key: Annotated[str, Field(max_length=128, strict=True)] | None = None


class RemoveLeadsBody(_Strict):
    """DELETE /lead-lists/{id}/leads."""

    lead_ids: Annotated[list[StrictStr], Field(min_length=1, max_length=100)]


class CsvImportBody(BaseModel):
    """POST /lead-lists/{id}/csv-import."""

    # The SDK model keeps additional_properties here: the OAS does not forbid extra keys.
    model_config = ConfigDict(extra="ignore")
    csv_content_base64: StrictStr
    column_mapping: Annotated[dict[Canonical, StrictStr | None], Field(min_length=1)]
    dispatch_enrichment: StrictBool = True
    enrichment_type: EnrichmentType | None = None
    quote_id: StrictStr | None = None
    idempotency_key: StrictStr | None = None


class EnrichListBody(_Strict):
    """POST /enrichment/bulk (``scope`` spells phone-only with a hyphen)."""

    list_id: StrictStr
    scope: Literal["partial", "phone-only", "full"] = "partial"
    quote_id: StrictStr


class EnrichByTaskBody(_Strict):
    """POST /enrichment/by-task."""

    task_id: StrictStr
    data_points: Annotated[list[StrictStr], Field(min_length=1)]
    entity_ids: list[StrictStr] | None = None
    lead_list_id: StrictStr | None = None
    quote_id: StrictStr | None = None


class EstimateBody(BaseModel):
    """POST /credits/estimate."""

    model_config = ConfigDict(extra="ignore")
    tool: StrictStr
    list_id: StrictStr | None = None
    filters: dict[str, Any] | None = None
    row_count: StrictInt | None = None
    scope: StrictStr | None = None
    agent_type: StrictStr | None = None
    include_phone: StrictBool | None = False
    provider: StrictStr | None = None
    sub_action: StrictStr | None = None
    enrichment_type: StrictStr | None = None
    task_id: StrictStr | None = None
    data_points: list[StrictStr] | None = None
    entity_ids: list[StrictStr] | None = None
    extra: dict[str, Any] | None = None


M = TypeVar("M", bound=BaseModel)


def decode_json(raw: bytes) -> Any:
    """JSON body → Python value, or a FastAPI-style 422 ``json_invalid``."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise schema_error(["body", 0], "JSON decode error", "json_invalid", str(exc)) from None


def pydantic_detail(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic errors → FastAPI ``detail`` items (``loc`` prefixed with ``body``)."""
    return [
        {"type": e["type"], "loc": ["body", *e["loc"]], "msg": e["msg"], "input": e.get("input")}
        for e in exc.errors(include_url=False)
    ]


def parse_body(model: type[M], data: Any) -> M:
    """Validate a decoded body against ``model`` or raise SchemaError (422)."""
    if not isinstance(data, dict):
        raise schema_error(["body"], "Input should be a valid dictionary", "dict_type", data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SchemaError(pydantic_detail(exc)) from None
