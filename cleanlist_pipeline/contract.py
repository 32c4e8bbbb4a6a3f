"""Facts of the Cleanlist API, in one place (``shared/reference/cleanlist-api.md``).

Everything the connector knows about the API that is not code — limits, unit costs, enrichment
types and how each endpoint spells them, terminal statuses, default rate limits, lead fields — is
defined here and imported by ``api``, ``ingest``, ``storage`` and the Dagster/CLI layers. This
module imports nothing but the standard library, so every layer may depend on it.

The sandbox (``cleanlist_pipeline/sandbox``) keeps its own copies of these facts on purpose: it is
an independent reading of the same documents, so a mistake here and one there catch each other.

>>> UNIT_COSTS["full"]
11
>>> BULK_SCOPE["phone_only"]
'phone-only'
"""

from __future__ import annotations

from typing import Final, Literal

# --- endpoints -------------------------------------------------------------------------------

#: The production base URL, prefix included (contract §1).
DEFAULT_BASE_URL: Final = "https://api.cleanlist.ai/api/v1/public"
#: The documented prefix of the v1 public API.
V1_PREFIX: Final = "/api/v1/public"

# --- CSV import (contract §4) ----------------------------------------------------------------

#: ``POST /lead-lists/{id}/csv-import``: the decoded CSV may hold at most this many bytes …
CSV_IMPORT_MAX_BYTES: Final = 150_000
#: … and at most this many data rows (header excluded).
CSV_IMPORT_MAX_ROWS: Final = 600

# --- pagination ------------------------------------------------------------------------------

#: The documented maximum ``page_size`` of ``GET /lead-lists/{id}/leads``.
LEADS_PAGE_SIZE_MAX: Final = 500

# --- enrichment ------------------------------------------------------------------------------

EnrichmentType = Literal["partial", "phone_only", "full"]
#: The enrichment types of CSV import and ``enrichment/bulk`` (the connector's spelling).
ENRICHMENT_TYPES: Final[tuple[str, ...]] = ("partial", "phone_only", "full")
#: Credits per lead for each enrichment type (contract §5: e-mail 1, phone 10, both 11).
UNIT_COSTS: Final[dict[str, int]] = {"partial": 1, "phone_only": 10, "full": 11}
#: ``enrichment/bulk`` spells ``phone_only`` with a hyphen.
BULK_SCOPE: Final[dict[str, str]] = {
    "partial": "partial",
    "phone_only": "phone-only",
    "full": "full",
}
#: ``enrichment/by-task`` takes data points instead of a type.
DATA_POINTS: Final[dict[str, list[str]]] = {
    "partial": ["Email"],
    "phone_only": ["Phone"],
    "full": ["Email", "Phone"],
}

#: Workflow statuses after which nothing changes any more (contract §3). Unknown values are
#: treated as still running, since the schema types ``status`` as a free string.
TERMINAL_STATUSES: Final = frozenset({"completed", "failed", "cancelled"})
#: Terminal statuses that mean the enrichment did not succeed.
FAILED_STATUSES: Final = frozenset({"failed", "cancelled"})

# --- rate limits (contract §2) ---------------------------------------------------------------

#: Requests per window per API key.
RATE_LIMIT_PER_KEY: Final = 30
#: Requests per window per organization (all keys of the org together).
RATE_LIMIT_PER_ORG: Final = 60
#: The window both limits count over, in seconds.
RATE_LIMIT_WINDOW_SECONDS: Final = 60.0

# --- leads -----------------------------------------------------------------------------------

#: The fields of the API's ``LeadRow``, in the order snapshots store them.
LEAD_FIELDS: Final[tuple[str, ...]] = (
    "lead_id",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "title",
    "company",
    "location",
    "linkedin_url",
    "provider",
)

# --- scopes ----------------------------------------------------------------------------------

#: The header that carries the key.
AUTH_HEADER: Final = "Authorization"

#: Each ``/api/v1/public/*`` endpoint checks exactly one scope; a missing one is 403
#: ``insufficient_scope`` whose ``details`` list the required and granted scopes (contract §1).
SCOPE_LISTS_READ: Final = "lists:read"
SCOPE_LISTS_WRITE: Final = "lists:write"
SCOPE_ENRICH_READ: Final = "enrich:read"
SCOPE_ENRICH_WRITE: Final = "enrich:write"
SCOPE_CREDITS_READ: Final = "credits:read"
#: What each scope the connector uses grants (contract §1, "Scopes"). ``GET /whoami`` needs
#: none and lists the key's ``scopes``.
SCOPE_GRANTS: Final[dict[str, str]] = {
    SCOPE_LISTS_READ: "GET /lead-lists, GET /lead-lists/{id}, GET /lead-lists/{id}/leads",
    SCOPE_LISTS_WRITE: "create, PATCH, DELETE list; add/remove leads; CSV import",
    SCOPE_ENRICH_WRITE: "enrichment/bulk, enrichment/by-task; CSV import with dispatch_enrichment",
    SCOPE_ENRICH_READ: "GET /enrichment/status/{id}",
    SCOPE_CREDITS_READ: "GET /credits/balance, POST /credits/estimate",
}
#: Estimate tools whose quote is optional: CSV import with enrichment may skip it ("recommended
#: for large dispatches", contract §2.9). ``enrichment/bulk`` and ``/by-task`` need one.
QUOTE_OPTIONAL_TOOLS: Final = frozenset({"bulk_import_csv"})
