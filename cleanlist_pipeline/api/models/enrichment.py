"""Credits quotes and enrichment: estimates, dispatch answers and workflow status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleanlist_pipeline.api.models.base import Model, _Envelope, _extra
from cleanlist_pipeline.contract import TERMINAL_STATUSES

__all__ = [
    "CostEstimate",
    "EnrichByTaskEntity",
    "EnrichByTaskResult",
    "EnrichListResult",
    "SingleEnrichmentResult",
    "WorkflowStatus",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class CostEstimate(Model):
    """POST /credits/estimate: a single-use quote; ``expires_at`` is epoch seconds."""

    quote_id: str
    expires_at: int
    estimated_cost: int | float
    tool: str
    row_count: int
    filter_hash: str
    available_credits: int | float
    sufficient: bool
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrichListResult(_Envelope):
    """POST /enrichment/bulk: an async workflow; poll ``poll_url`` or ``workflow_id``."""

    workflow_id: str
    status: str
    total_leads: int
    estimated_cost: int | float
    credits_reserved: int | float
    poll_url: str
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrichByTaskEntity(Model):
    """One entity of a by-task enrichment (company cohorts carry an inline ``company``)."""

    entity_id: str
    status: str
    error: str | None = None
    company: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrichByTaskResult(_Envelope):
    """POST /enrichment/by-task: person cohorts get a ``workflow_id``; companies run inline."""

    entity_kind: str
    status: str
    total_entities: int
    credits_reserved: int | float
    results: tuple[EnrichByTaskEntity, ...]
    workflow_id: str | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class SingleEnrichmentResult(Model):
    """Inline lead of a finished single-person run (always null for bulk/CSV runs)."""

    lead_id: str
    status: str
    full_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    email_status: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    title: str | None = None
    company: str | None = None
    enrichment_type: str | None = None
    provider: str | None = None
    extra: Mapping[str, Any] = _extra()

    def __repr__(self) -> str:
        return f"SingleEnrichmentResult(lead_id={self.lead_id!r}, status={self.status!r}, …)"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowStatus(_Envelope):
    """GET /enrichment/status/{handle}. ``is_terminal`` is true for completed/failed/cancelled."""

    workflow_id: str
    status: str
    progress: int | float | None = None
    total: int | None = None
    processed: int | None = None
    completed: int | None = None
    failed: int | None = None
    enrichment_type: str | None = None
    lead_list_id: str | None = None
    summary: Mapping[str, Any] | None = None
    refund_status: str | None = None
    refund_message: str | None = None
    result: SingleEnrichmentResult | None = None
    credits_charged: int | float | None = None
    credits_refunded: int | float | None = None
    extra: Mapping[str, Any] = _extra()

    @property
    def is_terminal(self) -> bool:
        """True once the workflow can no longer change (unknown statuses count as running)."""
        return self.status in TERMINAL_STATUSES
