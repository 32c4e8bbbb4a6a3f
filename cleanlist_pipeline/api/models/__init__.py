"""Typed answers of the Cleanlist API: frozen dataclasses built by ``Model.from_json``.

Field lists follow the OpenAPI schema of the official SDK (``cleanlist-ai`` 2.0.0); one module per
resource family (``lists``, ``leads``, ``enrichment``, ``account``) over the parser in ``base``.

>>> LeadList.from_json({"list_id": "l1", "name": "Q3", "lead_count": 0, "enriched_count": 0}).name
'Q3'
"""

from __future__ import annotations

from cleanlist_pipeline.api.models.account import CreditsBalance, KeyValidation, WhoAmI
from cleanlist_pipeline.api.models.base import Model
from cleanlist_pipeline.api.models.enrichment import (
    CostEstimate,
    EnrichByTaskEntity,
    EnrichByTaskResult,
    EnrichListResult,
    SingleEnrichmentResult,
    WorkflowStatus,
)
from cleanlist_pipeline.api.models.leads import Lead, LeadRows, LeadsPage
from cleanlist_pipeline.api.models.lists import (
    AddLeadsResult,
    CsvImportResult,
    DeleteListResult,
    LeadList,
    ListsPage,
    ListSummary,
    RemoveLeadsResult,
)
from cleanlist_pipeline.contract import TERMINAL_STATUSES

__all__ = [
    "TERMINAL_STATUSES",
    "AddLeadsResult",
    "CostEstimate",
    "CreditsBalance",
    "CsvImportResult",
    "DeleteListResult",
    "EnrichByTaskEntity",
    "EnrichByTaskResult",
    "EnrichListResult",
    "KeyValidation",
    "Lead",
    "LeadList",
    "LeadRows",
    "LeadsPage",
    "ListSummary",
    "ListsPage",
    "Model",
    "RemoveLeadsResult",
    "SingleEnrichmentResult",
    "WhoAmI",
    "WorkflowStatus",
]
