"""Lead lists and their memberships: list details and pages, add/remove/import answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleanlist_pipeline.api.models.base import Model, _Envelope, _extra

__all__ = [
    "AddLeadsResult",
    "CsvImportResult",
    "DeleteListResult",
    "LeadList",
    "ListSummary",
    "ListsPage",
    "RemoveLeadsResult",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadList(_Envelope):
    """ListDetailResponse: one list (create, get, update). ``reused`` is true on create-reuse."""

    list_id: str
    name: str
    lead_count: int
    enriched_count: int
    description: str | None = None
    folder_id: str | None = None
    created_at: str | None = None
    reused: bool = False
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSummary(Model):
    """One entry of GET /lead-lists."""

    list_id: str
    name: str
    lead_count: int
    folder_id: str | None = None
    created_at: str | None = None
    owner_name: str | None = None
    visibility: str | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListsPage(_Envelope):
    """One page of GET /lead-lists; ``cursor`` is opaque and null on the last page."""

    lists: tuple[ListSummary, ...]
    total: int
    cursor: str | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteListResult(_Envelope):
    """DELETE /lead-lists/{id}; ``already_deleted`` is set by the client when a retry saw 404."""

    list_id: str
    deleted: bool
    already_deleted: bool = False
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class AddLeadsResult(Model):
    """POST …/leads, summed over the client's ≤1000-id calls.

    ``idempotency_replayed`` is true when any call was answered from the server's idempotency
    cache (a repeat of an earlier request with the same key: nothing was added again).
    """

    list_id: str
    added: int
    skipped_duplicates: int
    created: int | None = None
    credits_charged: float | None = None
    idempotency_replayed: bool = False
    calls: int = 1
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveLeadsResult(Model):
    """DELETE …/leads, summed over the client's ≤100-id calls."""

    list_id: str
    removed: int
    calls: int = 1
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class CsvImportResult(_Envelope):
    """POST …/csv-import. ``sample_skip_rows`` are CSV record numbers with the header as 1."""

    list_id: str
    rows_parsed: int
    rows_imported: int
    rows_skipped: int
    skip_reasons: Mapping[str, Any] | None = None
    sample_skip_rows: tuple[int, ...] | None = None
    workflow_id: str | None = None
    enrichment_status_url: str | None = None
    idempotency_replayed: bool = False
    extra: Mapping[str, Any] = _extra()
