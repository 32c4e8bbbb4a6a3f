"""``CleanlistClient``: plain Python over httpx for the Cleanlist Lead Lists API (no Dagster).

>>> with CleanlistClient(api_key, base_url="https://api.cleanlist.ai/api/v2") as client:  # doctest: +SKIP
...     lst = client.create_list("Q3 Outbound")
...     for lead in client.iter_leads(lst.list_id):
...         print(lead.lead_id)

Every call goes through one path (``_call``): take a rate-limit slot, send, log the attempt
(method, path, status, request_id, latency — never bodies or the key), map an HTTP error to the
exception tree in ``errors.py``, and let ``retry.py``'s policy decide whether to try again.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson
import stamina

from cleanlist_pipeline.api import idempotency
from cleanlist_pipeline.api.errors import (
    APIError,
    ConfigurationError,
    NotFoundError,
    OutcomeUnknownError,
    PaginationError,
    ResponseShapeError,
    TransportError,
    error_from_response,
)
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
from cleanlist_pipeline.api.ratelimit import RateLimitConfig, RateLimiter, key_fingerprint
from cleanlist_pipeline.api.retry import Repeat, RetryPolicy
from cleanlist_pipeline.b64 import b64encode_ascii

__all__ = ["DEFAULT_BASE_URL", "CleanlistClient"]

DEFAULT_BASE_URL = "https://api.cleanlist.ai/api/v1/public"
#: Prefixes the API mounts its handlers under (reference §1); v1-only calls need the first.
V1_PREFIX = "/api/v1/public"
V2_PREFIX = "/api/v2"
MAX_ADD_IDS = 1000  # add-leads: lead_ids 1-1000 per call
MAX_COHORT_ENTITY_IDS = 2000  # add-leads by cohort: entity_ids ≤ 2000
MAX_REMOVE_IDS = 100  # remove-leads: 1-100 per call
MAX_LEADS_PAGE = 500
MAX_LISTS_PAGE = 100
_UPDATABLE = frozenset({"name", "description", "folder_id"})

_M = TypeVar("_M", bound=Model)
_DEFAULT_RATE_LIMIT = RateLimitConfig()
_DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@functools.cache
def default_user_agent() -> str:
    """``cleanlist-pipeline/<version>`` (looked up once, on the first client, not at import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"cleanlist-pipeline/{version('cleanlist-pipeline')}"
    except PackageNotFoundError:  # running from a source tree without metadata
        return "cleanlist-pipeline"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IPs (the only hosts plain http:// may reach)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_base_url(base_url: str) -> tuple[str, str]:
    """Split ``base_url`` into (origin, API prefix) and refuse unsafe schemes.

    >>> split_base_url("https://api.cleanlist.ai/api/v2")
    ('https://api.cleanlist.ai', '/api/v2')
    >>> split_base_url("http://127.0.0.1:8000/api/v1/public/")
    ('http://127.0.0.1:8000', '/api/v1/public')
    """
    url = httpx.URL(base_url.strip())
    if url.scheme not in ("https", "http") or not url.host:
        raise ConfigurationError(f"Cleanlist base_url must be an https:// URL (got {base_url!r})")
    if url.scheme == "http" and not is_loopback_host(url.host):
        raise ConfigurationError(
            f"Refusing plain http:// to {url.host}: the API key would travel unencrypted. "
            "Use https://, or http:// only for a loopback sandbox (127.0.0.1, localhost)."
        )
    path = url.path.rstrip("/")
    root, prefix = "", path
    for known in (V1_PREFIX, V2_PREFIX):
        if path.endswith(known):
            root, prefix = path[: -len(known)], known
            break
    port = f":{url.port}" if url.port else ""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}{port}{root}", prefix


class CleanlistClient:
    """HTTP client for every documented lead-list, enrichment, credits and identity operation.

    ``base_url`` includes the API prefix (``…/api/v1/public`` by default, ``…/api/v2`` works the
    same). ``rate_limit=None`` turns the shared limiter off; ``retry=RetryPolicy.disabled()``
    turns retries off. ``idempotency_namespace`` separates the derived idempotency keys of two
    deployments that share an organization. ``close_on_exit=False`` makes ``with`` leave the
    client open (the Dagster resource shares one client per run and closes it at teardown).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float | httpx.Timeout = _DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimitConfig | None = _DEFAULT_RATE_LIMIT,
        idempotency_namespace: str = "default",
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
        transport: httpx.BaseTransport | None = None,
        user_agent: str | None = None,
        close_on_exit: bool = True,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigurationError(
                "A Cleanlist API key is required (set CLEANLIST_API_KEY, or use the embedded "
                "sandbox by leaving it unset in the Dagster resource)."
            )
        self.__key = api_key.strip()
        self.key_fingerprint = key_fingerprint(self.__key)
        self.origin, self.prefix = split_base_url(base_url)
        self.base_url = self.origin + self.prefix
        self.retry = retry or RetryPolicy()
        self.idempotency_namespace = idempotency_namespace
        self._log: logging.Logger | logging.LoggerAdapter[Any] = logger or logging.getLogger(
            "cleanlist_pipeline.api"
        )
        self._http = httpx.Client(
            base_url=self.origin,
            headers={
                "Authorization": f"Bearer {self.__key}",
                "Accept": "application/json",
                "User-Agent": user_agent or default_user_agent(),
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,  # a redirect could carry the Authorization header elsewhere
        )
        self.limiter: RateLimiter | None = (
            RateLimiter(rate_limit, self.__key) if rate_limit is not None else None
        )
        self._closed = False
        #: False for a client shared by a whole Dagster run: a ``with`` block then leaves it
        #: open for the next step code, and the resource closes it at teardown.
        self.close_on_exit = close_on_exit

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> CleanlistClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.close_on_exit:
            self.close()

    @property
    def closed(self) -> bool:
        """True once ``close()`` ran; calls then raise ``RuntimeError``."""
        return self._closed

    def close(self) -> None:
        """Close the HTTP connection pool and the rate limiter's database connection."""
        if self._closed:
            return
        self._closed = True
        self._http.close()
        if self.limiter is not None:
            self.limiter.close()

    def __repr__(self) -> str:
        return f"CleanlistClient(base_url={self.base_url!r}, key_id={self.key_fingerprint!r})"

    def try_acquire(self) -> bool:
        """Take one rate-limit slot without waiting (for sensors with a per-tick budget).

        A ``True`` answer means a slot was *consumed*; the next call still takes its own slot,
        so use this to decide whether to make a call this tick, not instead of the call.
        """
        return True if self.limiter is None else self.limiter.try_acquire()

    # --- the one request path ------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        has_idempotency_key: bool = False,
        hint: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one logical call with rate limiting and the retry policy; return decoded JSON."""
        if self._closed:
            raise RuntimeError(
                "this CleanlistClient is closed (its `with` block or the Dagster run ended); "
                "get a new one from CleanlistResource.get_client()"
            )
        policy = self.retry
        failures = 0
        slept = 0.0
        # Whether an attempt so far may have run on the server (a 5xx, or a sent request whose
        # answer was lost); a 404 from the repeat of a DELETE only means "gone" after one.
        maybe_ran = False

        def decide(exc: Exception) -> bool | float:
            nonlocal failures, slept, maybe_ran
            failures += 1
            if isinstance(exc, APIError):
                status, transport, unsent, server_hint = exc.status, False, False, exc.retry_after
            elif isinstance(exc, TransportError) and not isinstance(exc, OutcomeUnknownError):
                status, server_hint = None, None
                cause = exc.__cause__ or exc
                transport = policy.is_transport_error(cause)
                unsent = policy.is_unsent_error(cause)
            else:
                return False
            if not policy.should_retry(
                operation,
                status,
                transport=transport,
                has_idempotency_key=has_idempotency_key,
                unsent=unsent,
            ):
                return False
            wait = policy.wait_before_retry(failures, server_hint)
            if slept + wait > policy.max_total_wait:
                self._log.warning(
                    "%s %s: giving up after %d attempt(s); the next wait (%.1fs) would exceed "
                    "the total retry wait cap (%.0fs)",
                    method,
                    _path_only(path),
                    failures,
                    wait,
                    policy.max_total_wait,
                )
                return False
            if failures >= policy.max_attempts:
                self._log.warning(
                    "%s %s: giving up after %d attempts", method, _path_only(path), failures
                )
                return False
            slept += wait
            if status is None:
                maybe_ran = maybe_ran or not unsent
            else:
                maybe_ran = maybe_ran or status not in policy.refused_statuses
            self._log.info(
                "%s %s: retrying in %.2fs (attempt %d of %d failed: %s)",
                method,
                _path_only(path),
                wait,
                failures,
                policy.max_attempts,
                exc.status if isinstance(exc, APIError) else exc.cause_type,  # type: ignore[attr-defined]
            )
            return wait

        for attempt in stamina.retry_context(on=decide, attempts=policy.max_attempts, timeout=None):
            with attempt:
                try:
                    return self._send_once(
                        operation, method, path, params, body, hint, failures + 1
                    )
                except APIError as err:
                    err.after_uncertain_attempt = maybe_ran
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(
        self,
        operation: str,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        hint: Mapping[str, str] | None,
        attempt: int,
    ) -> Any:
        if self.limiter is not None:
            waited = self.limiter.acquire()
            if waited > 1.0:
                self._log.info(
                    "%s %s: waited %.1fs for a rate-limit slot", method, _path_only(path), waited
                )
        started = time.perf_counter()
        try:
            response = self._http.request(method, path, params=params, json=body)
        except httpx.HTTPError as exc:
            elapsed_ms = (time.perf_counter() - started) * 1000
            cause = type(exc).__name__
            self._log.warning(
                "%s %s -> no answer (%s) after %.0f ms, attempt %d",
                method,
                _path_only(path),
                cause,
                elapsed_ms,
                attempt,
            )
            repeat = self.retry.repeat_class(operation)
            if repeat is Repeat.NOT_BLINDLY and not self.retry.is_unsent_error(exc):
                raise OutcomeUnknownError(
                    f"{method} {_path_only(path)} got no answer ({cause}); the request may have "
                    "been executed. Look the workflow up (enrichment_status with the cohort "
                    "handle, or the list's enrichment) before dispatching again: the quote is "
                    "single-use, so a blind repeat would fail rather than run.",
                    method=method,
                    path=_path_only(path),
                    cause_type=cause,
                ) from exc
            raise TransportError(
                f"{method} {_path_only(path)} got no answer from {self.origin} ({cause}). "
                "Check network access to the API (timeouts and dropped connections are retried "
                "automatically for calls that are safe to repeat).",
                method=method,
                path=_path_only(path),
                cause_type=cause,
            ) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        status = response.status_code
        if status >= 400:
            try:
                payload: Any = response.json()
            except ValueError:
                payload = response.text
            err = error_from_response(
                status=status,
                body=payload,
                retry_after_header=response.headers.get("retry-after"),
                method=method,
                path=_path_only(path),
                secret=self.__key,
                hint=hint,
            )
            err.attempt = attempt
            request_id = err.request_id or response.headers.get("x-request-id")
            self._log.warning(
                "%s %s -> %d %s in %.0f ms (request_id=%s, attempt %d)",
                method,
                _path_only(path),
                status,
                err.code or "",
                elapsed_ms,
                request_id,
                attempt,
            )
            raise err
        if self._log.isEnabledFor(logging.DEBUG):
            self._log.debug(
                "%s %s -> %d in %.0f ms (request_id=%s, attempt %d)",
                method,
                _path_only(path),
                status,
                elapsed_ms,
                response.headers.get("x-request-id"),
                attempt,
            )
        try:
            return _decode_json(response)
        except ValueError as exc:
            raise ResponseShapeError(
                f"{method} {_path_only(path)} answered {status} with a body that is not JSON.",
                model="response",
                field="",
            ) from exc

    def _get_model(self, model: type[_M], operation: str, path: str) -> _M:
        return model.from_json(self._call(operation, "GET", path))

    def _paginate(
        self, operation: str, path: str, params: dict[str, Any], model: type[_M]
    ) -> Iterator[_M]:
        # Cursors are opaque (examples look like offsets, but nothing says they are): we only
        # hand back what the server gave, stop on a null/empty one, and refuse to follow a
        # cursor twice — a server bug there would otherwise loop forever.
        seen: set[str] = set()
        cursor: str | None = None
        pages = 0
        while True:
            query = dict(params)
            if cursor is not None:
                query["cursor"] = cursor
            page = model.from_json(self._call(operation, "GET", path, params=query))
            pages += 1
            yield page
            next_cursor = page.cursor  # type: ignore[attr-defined]
            if not next_cursor:
                return
            if next_cursor in seen:
                raise PaginationError(
                    f"GET {path}: page {pages + 1} would reuse a cursor already followed; "
                    "stopping instead of looping forever (server-side pagination bug)."
                )
            seen.add(next_cursor)
            cursor = next_cursor

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
        _check_page_size(page_size, MAX_LISTS_PAGE)
        params: dict[str, Any] = {"limit": page_size}
        if folder_id is not None:
            params["folder_id"] = folder_id
        return self._paginate("list_lists", f"{self.prefix}/lead-lists", params, ListsPage)

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
        _check_page_size(page_size, MAX_LEADS_PAGE)
        return self._paginate(
            "list_leads", f"{self._list_path(list_id)}/leads", {"limit": page_size}, LeadsPage
        )

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


def _decode_json(response: httpx.Response) -> Any:
    """The decoded body: orjson (a 500-lead page in ~0.5 ms, ~25 % less than ``json``), else httpx.

    orjson takes UTF-8 only and refuses what the standard decoder accepts (``NaN``, integers past
    64 bits, another charset); such a body is decoded as ``response.json()`` would, so the result
    never depends on the decoder. A body neither accepts raises ``ValueError``.
    """
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.json()


def _path_only(path: str) -> str:
    """Path without scheme/host (for absolute URLs) — what logs and errors show."""
    if path.startswith(("http://", "https://")):
        return httpx.URL(path).path
    return path


def _check_page_size(page_size: int, maximum: int) -> None:
    if not 1 <= page_size <= maximum:
        raise ValueError(f"page_size must be between 1 and {maximum}")


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
