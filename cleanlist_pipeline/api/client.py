"""``CleanlistClient``: plain Python over httpx for the Cleanlist Lead Lists API (no Dagster).

>>> with CleanlistClient(api_key, base_url="https://api.cleanlist.ai/api/v2") as client:  # doctest: +SKIP
...     lst = client.create_list("Q3 Outbound")
...     for lead in client.iter_leads(lst.list_id):
...         print(lead.lead_id)

One method per documented operation, each validating its arguments and building the body; the
request path they share (rate limit, retries, logging, errors) is ``transport.ApiTransport``,
pagination is ``pagination.py``, and base-URL handling is ``urls.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from cleanlist_pipeline.api import idempotency
from cleanlist_pipeline.api.errors import NotFoundError
from cleanlist_pipeline.api.models import (
    AddLeadsResult,
    CostEstimate,
    CreditsBalance,
    CsvImportResult,
    DeleteListResult,
    EnrichByTaskResult,
    EnrichListResult,
    KeyValidation,
    Lead,
    LeadList,
    LeadsPage,
    ListsPage,
    ListSummary,
    Model,
    RemoveLeadsResult,
    WhoAmI,
    WorkflowStatus,
)
from cleanlist_pipeline.api.pagination import check_page_size, paginate
from cleanlist_pipeline.api.transport import ApiTransport, default_user_agent
from cleanlist_pipeline.api.urls import V2_PREFIX, is_loopback_host, split_base_url
from cleanlist_pipeline.b64 import b64encode_ascii
from cleanlist_pipeline.contract import DEFAULT_BASE_URL, LEADS_PAGE_SIZE_MAX, V1_PREFIX

__all__ = [
    "DEFAULT_BASE_URL",
    "V1_PREFIX",
    "V2_PREFIX",
    "CleanlistClient",
    "default_user_agent",
    "is_loopback_host",
    "split_base_url",
]

MAX_ADD_IDS = 1000  # add-leads: lead_ids 1-1000 per call
MAX_COHORT_ENTITY_IDS = 2000  # add-leads by cohort: entity_ids ≤ 2000
MAX_REMOVE_IDS = 100  # remove-leads: 1-100 per call
MAX_LEADS_PAGE = LEADS_PAGE_SIZE_MAX
MAX_LISTS_PAGE = 100
_UPDATABLE = frozenset({"name", "description", "folder_id"})

_M = TypeVar("_M", bound=Model)
_Page = TypeVar("_Page")


class CleanlistClient(ApiTransport):
    """HTTP client for every documented lead-list, enrichment, credits and identity operation.

    ``base_url`` includes the API prefix (``…/api/v1/public`` by default, ``…/api/v2`` works the
    same). ``rate_limit`` defaults to a SQLite limiter in the user's cache directory; processes
    share a budget when they name the same ``db_path``. ``rate_limit=None`` turns the limiter
    off; ``retry=RetryPolicy.disabled()``
    turns retries off. ``idempotency_namespace`` separates the derived idempotency keys of two
    deployments that share an organization. ``close_on_exit=False`` makes ``with`` leave the
    client open (the Dagster resource shares one client per run and closes it at teardown).
    """

    def _paginate(
        self,
        operation: str,
        path: str,
        params: dict[str, Any],
        model: type[_M],
        items: Callable[[_M], int],
    ) -> Iterator[_M]:
        return paginate(
            lambda query: self._call(operation, "GET", path, params=query),
            path,
            params,
            model.from_json,
            items,
        )

    # --- lead lists --------------------------------------------------------------------------

    def create_list(
        self, name: str, description: str | None = None, folder_id: str | None = None
    ) -> LeadList:
        """Create a private list, or get back your own list of that name (``reused=True``)."""
        if not name or len(name) > 200:
            raise ValueError("list name must be 1-200 characters")
        body: dict[str, Any] = {"name": name}
        if description is not None:
            body["description"] = description
        if folder_id is not None:
            body["folder_id"] = folder_id
        return LeadList.from_json(
            self._call("create_list", "POST", f"{self.prefix}/lead-lists", body=body)
        )

    def iter_list_pages(
        self, folder_id: str | None = None, page_size: int = MAX_LISTS_PAGE
    ) -> Iterator[ListsPage]:
        """Every page of the lists this key can see (owned, organization-wide, shared)."""
        check_page_size(page_size, MAX_LISTS_PAGE)
        params: dict[str, Any] = {"limit": page_size}
        if folder_id is not None:
            params["folder_id"] = folder_id
        return self._paginate(
            "list_lists", f"{self.prefix}/lead-lists", params, ListsPage, _count_lists
        )

    def iter_lists(
        self, folder_id: str | None = None, page_size: int = MAX_LISTS_PAGE
    ) -> Iterator[ListSummary]:
        """Every list this key can see, across all pages; optionally one folder only."""
        for page in self.iter_list_pages(folder_id, page_size):
            yield from page.lists

    def get_list(self, list_id: str) -> LeadList:
        """One list with live ``lead_count`` / ``enriched_count`` (404 if not visible)."""
        return self._get_model(LeadList, "get_list", self._list_path(list_id))

    def update_list(self, list_id: str, **fields: Any) -> LeadList:
        """Change only the fields given: ``name``, ``description`` (None clears), ``folder_id``.

        >>> client.update_list("l1", description=None)  # doctest: +SKIP
        """
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(
                f"update_list accepts only {sorted(_UPDATABLE)}, not {sorted(unknown)}"
            )
        if not fields:
            raise ValueError("update_list needs at least one field to change")
        if "name" in fields and (not fields["name"] or len(fields["name"]) > 200):
            raise ValueError("name must be 1-200 characters (it cannot be cleared)")
        return LeadList.from_json(
            self._call("update_list", "PATCH", self._list_path(list_id), body=fields)
        )

    def delete_list(self, list_id: str) -> DeleteListResult:
        """Delete a list (memberships go, leads stay).

        A 404 on a retry after an attempt that may have run (a 5xx or a lost answer) means that
        attempt deleted it; that is reported as ``already_deleted=True`` rather than an error.
        After 429s only, the server never acted, so a 404 is a real "no such list".
        """
        try:
            data = self._call("delete_list", "DELETE", self._list_path(list_id))
        except NotFoundError as exc:
            if exc.after_uncertain_attempt:
                return DeleteListResult(list_id=list_id, deleted=True, already_deleted=True)
            raise
        return DeleteListResult.from_json(data)

    # --- leads -------------------------------------------------------------------------------

    def iter_lead_pages(self, list_id: str, page_size: int = MAX_LEADS_PAGE) -> Iterator[LeadsPage]:
        """Every page of a list's leads; each page keeps its cohort ``task_id``."""
        check_page_size(page_size, MAX_LEADS_PAGE)
        return self._paginate(
            "list_leads",
            f"{self._list_path(list_id)}/leads",
            {"limit": page_size},
            LeadsPage,
            _count_leads,
        )

    def iter_lead_pages_decoded(
        self,
        list_id: str,
        decode: Callable[[bytes], _Page | None],
        page_size: int = MAX_LEADS_PAGE,
    ) -> Iterator[_Page | LeadsPage]:
        """``iter_lead_pages`` with each page's raw body handed to ``decode`` first.

        For columnar writers: ``decode(body)`` (e.g. ``pyarrow.json.read_json``, which runs in C++
        without the GIL) returns a page object with ``cursor`` and ``total`` attributes and a
        length (its leads), or None when it cannot take the body as it is; that body is then
        decoded and checked exactly as ``iter_lead_pages`` does (same ``LeadsPage``, same
        ``ResponseShapeError``). Retries, the rate limiter, the body size cap and the cursor
        guards are those of every other call: the same request path and ``paginate``.
        """
        check_page_size(page_size, MAX_LEADS_PAGE)
        path = f"{self._list_path(list_id)}/leads"

        def fetch(query: Mapping[str, Any]) -> Any:
            return self._call("list_leads", "GET", path, params=query, fast_decode=decode)

        def parse(data: Any) -> _Page | LeadsPage:
            return LeadsPage.from_json(data) if isinstance(data, dict) else data

        return paginate(fetch, path, {"limit": page_size}, parse, _count_any_leads)

    def iter_leads(self, list_id: str, page_size: int = MAX_LEADS_PAGE) -> Iterator[Lead]:
        """Every lead of a list, page after page."""
        for page in self.iter_lead_pages(list_id, page_size):
            yield from page.leads

    def add_leads(
        self,
        list_id: str,
        lead_ids: Iterable[str] | None = None,
        *,
        task_id: str | None = None,
        entity_ids: Iterable[str] | None = None,
        idempotency_key: str | None = None,
    ) -> AddLeadsResult:
        """Add leads by id (chunked to ≤1000 per call) or by cohort ``task_id`` (+ ``entity_ids``).

        Every call carries an idempotency key, so it is retried safely: the given key (suffixed
        per chunk when there are several), else one derived from the namespace, list and ids.
        The result sums the calls; ``idempotency_replayed`` is true if any was a replay.
        """
        if (lead_ids is None) == (task_id is None):
            raise ValueError("add_leads needs exactly one of lead_ids or task_id")
        if idempotency_key is not None and not idempotency_key:
            raise ValueError("idempotency_key must not be empty")
        path = f"{self._list_path(list_id)}/leads"
        bodies: list[dict[str, Any]] = []
        if lead_ids is not None:
            ids = _as_id_list(lead_ids, "lead_ids")
            chunks = _chunks(ids, MAX_ADD_IDS)
            for i, chunk in enumerate(chunks):
                key = _chunk_key(idempotency_key, i, len(chunks)) or idempotency.add_leads_key(
                    self.idempotency_namespace, list_id, chunk
                )
                bodies.append({"lead_ids": chunk, "idempotency_key": key})
        else:
            assert task_id is not None
            ent = _as_id_list(entity_ids, "entity_ids") if entity_ids is not None else None
            chunks_e: list[list[str] | None] = (
                list(_chunks(ent, MAX_COHORT_ENTITY_IDS)) if ent else [None]
            )
            for i, chunk_e in enumerate(chunks_e):
                key = _chunk_key(idempotency_key, i, len(chunks_e)) or idempotency.cohort_add_key(
                    self.idempotency_namespace, list_id, task_id, chunk_e
                )
                body: dict[str, Any] = {"task_id": task_id, "idempotency_key": key}
                if chunk_e is not None:
                    body["entity_ids"] = chunk_e
                bodies.append(body)
        totals = {"added": 0, "skipped_duplicates": 0}
        created: int | None = None
        charged: float | None = None
        replayed = False
        for body in bodies:
            part = AddLeadsResult.from_json(
                self._call("add_leads", "POST", path, body=body, has_idempotency_key=True)
            )
            totals["added"] += part.added
            totals["skipped_duplicates"] += part.skipped_duplicates
            if part.created is not None:
                created = (created or 0) + part.created
            if part.credits_charged is not None:
                charged = (charged or 0.0) + part.credits_charged
            replayed = replayed or part.idempotency_replayed
        return AddLeadsResult(
            list_id=list_id,
            added=totals["added"],
            skipped_duplicates=totals["skipped_duplicates"],
            created=created,
            credits_charged=charged,
            idempotency_replayed=replayed,
            calls=len(bodies),
        )

    def remove_leads(self, list_id: str, lead_ids: Iterable[str]) -> RemoveLeadsResult:
        """Remove memberships (≤100 ids per call; unknown ids are ignored by the server)."""
        ids = _as_id_list(lead_ids, "lead_ids")
        path = f"{self._list_path(list_id)}/leads"
        removed = 0
        chunks = _chunks(ids, MAX_REMOVE_IDS)
        for chunk in chunks:
            part = RemoveLeadsResult.from_json(
                self._call("remove_leads", "DELETE", path, body={"lead_ids": chunk})
            )
            removed += part.removed
        return RemoveLeadsResult(list_id=list_id, removed=removed, calls=len(chunks))

    def csv_import(
        self,
        list_id: str,
        csv_bytes: bytes,
        column_mapping: Mapping[str, str],
        *,
        idempotency_key: str,
        dispatch_enrichment: bool = False,
        enrichment_type: str | None = None,
        quote_id: str | None = None,
    ) -> CsvImportResult:
        """Import one CSV chunk (≤150 KB / 600 rows) into a list.

        ``dispatch_enrichment`` is always sent (the server defaults it to *true*, which would
        spend credits). ``idempotency_key`` is required: a repeat with the same key is answered
        from the server's cache (``idempotency_replayed=True``) and imports nothing — which is
        what makes retrying after a lost answer safe. See ``idempotency.chunk_import_key``.
        """
        if not isinstance(idempotency_key, str) or not idempotency_key:
            raise ValueError("csv_import needs a non-empty idempotency_key")
        if not column_mapping:
            raise ValueError("column_mapping must map at least one field to a CSV header")
        if dispatch_enrichment and not enrichment_type:
            raise ValueError(
                "dispatch_enrichment=True needs enrichment_type ('partial', 'phone_only' or 'full')"
            )
        body: dict[str, Any] = {
            "csv_content_base64": b64encode_ascii(csv_bytes),
            "column_mapping": dict(column_mapping),
            "dispatch_enrichment": bool(dispatch_enrichment),
            "idempotency_key": idempotency_key,
        }
        if enrichment_type is not None:
            body["enrichment_type"] = enrichment_type
        if quote_id is not None:
            body["quote_id"] = quote_id
        hint = {
            "insufficient_scope": (
                "needed because dispatch_enrichment is true"
                if dispatch_enrichment
                else "needed to import into a list"
            )
        }
        return CsvImportResult.from_json(
            self._call(
                "csv_import",
                "POST",
                f"{self._list_path(list_id)}/csv-import",
                body=body,
                has_idempotency_key=True,
                hint=hint,
            )
        )

    # --- enrichment & credits ----------------------------------------------------------------

    def estimate_cost(self, tool: str, **fields: Any) -> CostEstimate:
        """Get a single-use quote for a paid call (``tool`` e.g. ``enrich_list``,
        ``bulk_import_csv``); ``fields`` are the documented body fields, None ones dropped."""
        body = {"tool": tool, **{k: v for k, v in fields.items() if v is not None}}
        return CostEstimate.from_json(
            self._call("estimate_cost", "POST", f"{self.prefix}/credits/estimate", body=body)
        )

    def enrich_list(self, list_id: str, scope: str, quote_id: str) -> EnrichListResult:
        """Enrich every lead of a list (``scope``: partial | phone-only | full).

        Repeated only after a 429 or a failure to connect: a lost answer raises
        ``OutcomeUnknownError`` and a 5xx ``ServerError``; look the workflow up before
        dispatching again (the quote is single-use).
        """
        body = {"list_id": list_id, "scope": scope, "quote_id": quote_id}
        return EnrichListResult.from_json(
            self._call(
                "enrich_list",
                "POST",
                f"{self.prefix}/enrichment/bulk",
                body=body,
                hint={"insufficient_scope": "needed to dispatch enrichment"},
            )
        )

    def enrich_by_task(
        self,
        task_id: str,
        data_points: Sequence[str],
        *,
        entity_ids: Iterable[str] | None = None,
        lead_list_id: str | None = None,
        quote_id: str | None = None,
    ) -> EnrichByTaskResult:
        """Enrich a cohort (``task_id`` from a leads page) without listing every id."""
        body: dict[str, Any] = {"task_id": task_id, "data_points": list(data_points)}
        if entity_ids is not None:
            body["entity_ids"] = _as_id_list(entity_ids, "entity_ids")
        if lead_list_id is not None:
            body["lead_list_id"] = lead_list_id
        if quote_id is not None:
            body["quote_id"] = quote_id
        return EnrichByTaskResult.from_json(
            self._call(
                "enrich_by_task",
                "POST",
                f"{self.prefix}/enrichment/by-task",
                body=body,
                hint={"insufficient_scope": "needed to dispatch enrichment"},
            )
        )

    def enrichment_status(self, handle_or_status_url: str) -> WorkflowStatus:
        """Status of a workflow by id (``bulk-enrich-…``), cohort handle (``cl-task_…``), or the
        ``enrichment_status_url`` an import returned (resolved against the API's origin)."""
        ref = handle_or_status_url.strip()
        if not ref:
            raise ValueError("enrichment_status needs a workflow id, cl-task_ handle or status URL")
        if ref.startswith(("http://", "https://")):
            # Only the path is used: the API key goes to the configured origin and nowhere else,
            # and a deployment behind a proxy path keeps working.
            url = httpx.URL(ref).raw_path.decode("ascii")
        elif ref.startswith("/"):
            # The server's URL is relative ("/api/v2/enrichment/status/…", mirroring the prefix
            # that was called): resolved against the origin, never rebuilt from a hard-coded
            # prefix, so v1 and v2 URLs both work.
            url = ref
        else:
            url = f"{self.prefix}/enrichment/status/{quote(ref, safe='')}"
        return WorkflowStatus.from_json(
            self._call(
                "enrichment_status",
                "GET",
                url,
                hint={"insufficient_scope": "needed to read enrichment status"},
            )
        )

    def credits_balance(self) -> CreditsBalance:
        """The organization's credit balance (free)."""
        return self._get_model(CreditsBalance, "credits_balance", f"{self.prefix}/credits/balance")

    def whoami(self) -> WhoAmI:
        """Who the key belongs to: organization, scopes, tier (free)."""
        return self._get_model(WhoAmI, "whoami", f"{self.prefix}/whoami")

    def validate_key(self) -> KeyValidation:
        """Legacy v1-only key check; its path derives from the origin, whatever the prefix."""
        return self._get_model(KeyValidation, "validate_key", f"{V1_PREFIX}/auth/validate-key")

    # --- helpers -----------------------------------------------------------------------------

    def _list_path(self, list_id: str) -> str:
        if not list_id:
            raise ValueError("list_id must not be empty")
        return f"{self.prefix}/lead-lists/{quote(list_id, safe='')}"


def _count_lists(page: ListsPage) -> int:
    return len(page.lists)


def _count_leads(page: LeadsPage) -> int:
    return len(page.leads)


def _count_any_leads(page: Any) -> int:
    return len(page.leads) if isinstance(page, LeadsPage) else len(page)


def _as_id_list(ids: Iterable[str], what: str) -> list[str]:
    if isinstance(ids, str):
        raise TypeError(f"{what} must be a list of ids, not a single string")
    out = list(ids)
    if not out:
        raise ValueError(f"{what} must not be empty")
    return out


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _chunk_key(user_key: str | None, index: int, count: int) -> str | None:
    if user_key is None:
        return None
    if count == 1:
        return user_key
    return idempotency.derive_key("addk", user_key, str(index))
