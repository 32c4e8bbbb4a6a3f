"""``CleanlistEnrichOperator``: start paid enrichment for leads already in a list (enrich later).

Two ways, as in the Dagster enrich-later asset: the whole list through ``POST /enrichment/bulk``
(one quote), or only the leads still missing what the type finds, one page's cohort at a time,
through ``POST /enrichment/by-task`` (a quote per cohort). Every dispatch is held against the
spend guard of ``cleanlist_pipeline.spend_rules`` first — the same rules the Dagster path
applies, including what happens when ``POST /credits/estimate`` is unavailable (these calls need
a quote, so a missing one refuses). The task returns the workflow ids for the sensor.

A task that dispatched something and then failed is not retried: the cohort would list the
leads just dispatched again, and they would be paid for twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from cleanlist_pipeline import spend_rules
from cleanlist_pipeline.airflow.hook import CleanlistHook
from cleanlist_pipeline.api.errors import APIError, ValidationError
from cleanlist_pipeline.contract import (
    BULK_SCOPE,
    DATA_POINTS,
    ENRICHMENT_TYPES,
    LEADS_PAGE_SIZE_MAX,
)

__all__ = ["CleanlistEnrichOperator", "needs_enrichment"]

# The estimate tool of ``enrichment/bulk``.
BULK_TOOL = "enrich_list"
# The estimate tool of ``enrichment/by-task`` is not documented: the SDK names
# ``add_person_enrichments``, the sandbox ``enrich_by_task``; the first one that answers is used.
BY_TASK_TOOLS = ("enrich_by_task", "add_person_enrichments")


def needs_enrichment(lead: Any, enrichment_type: str) -> bool:
    """Is ``lead`` still missing what ``enrichment_type`` finds?

    >>> needs_enrichment({"email": "a@b.c", "phone": None}, "full")
    True
    """
    email = lead.get("email") if isinstance(lead, dict) else getattr(lead, "email", None)
    phone = lead.get("phone") if isinstance(lead, dict) else getattr(lead, "phone", None)
    wants = DATA_POINTS[enrichment_type]
    return ("Email" in wants and not email) or ("Phone" in wants and not phone)


def _quote(client: Any, tool: str, max_credits: int | None, action: str, **fields: Any) -> Any:
    """A quote for ``tool``, or a spend-rule refusal when it cannot be had."""
    try:
        return client.estimate_cost(tool, **fields)
    except APIError as exc:
        spend_rules.without_quote(exc, tool=tool, max_credits=max_credits, action=action)
        raise


class CleanlistEnrichOperator(BaseOperator):
    """Dispatch enrichment for list ``list_id`` (templated); return the workflow ids.

    :param enrichment_type: ``partial`` (email), ``phone_only`` or ``full``; empty: do nothing
    :param only_missing: by cohort, only the leads missing what the type finds (default), else
        the whole list in bulk
    :param max_credits: refuse any dispatch that could exceed this many credits
    :param skip_when_nothing_new: with ``new_rows`` 0 (the import report's ``imported_now``),
        dispatch nothing — a re-run pays for nothing
    """

    template_fields: Sequence[str] = ("list_id", "enrichment_type", "new_rows")

    def __init__(
        self,
        *,
        list_id: str,
        enrichment_type: str | None,
        cleanlist_conn_id: str = CleanlistHook.default_conn_name,
        only_missing: bool = True,
        max_credits: int | None = None,
        new_rows: Any = None,
        skip_when_nothing_new: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.list_id = list_id
        self.enrichment_type = enrichment_type
        self.cleanlist_conn_id = cleanlist_conn_id
        self.only_missing = only_missing
        self.max_credits = max_credits
        self.new_rows = new_rows
        self.skip_when_nothing_new = skip_when_nothing_new

    def execute(self, context: Any) -> list[str]:
        etype = (self.enrichment_type or "").strip()
        if not etype or etype == "None":
            self.log.info("No enrichment type configured: nothing to enrich.")
            return []
        if etype not in ENRICHMENT_TYPES:
            raise AirflowFailException(
                f"enrichment_type must be one of {', '.join(ENRICHMENT_TYPES)}, not {etype!r}"
            )
        if self.skip_when_nothing_new and self.new_rows is not None and int(self.new_rows) == 0:
            self.log.info("This run imported no new rows: nothing to enrich.")
            return []
        hook = CleanlistHook(self.cleanlist_conn_id)
        self.log.info("[cleanlist %s] %s", hook.mode, hook.describe_target())
        dispatched: list[str] = []
        try:
            with hook.get_conn() as client:
                if self.only_missing:
                    self._missing(client, etype, dispatched)
                else:
                    self._bulk(client, etype, dispatched)
        except spend_rules.SpendRuleError as exc:
            raise AirflowFailException(self._after(dispatched, exc.description)) from exc
        except APIError as exc:
            raise AirflowFailException(
                self._after(dispatched, f"HTTP {exc.status} {exc.code or ''}: {exc.problem}")
            ) from exc
        self.log.info("Dispatched %d enrichment workflow(s).", len(dispatched))
        return dispatched

    @staticmethod
    def _after(dispatched: list[str], why: str) -> str:
        if not dispatched:
            return why
        return f"{why} — after {len(dispatched)} workflow(s) were dispatched: {', '.join(dispatched)}"

    def _bulk(self, client: Any, etype: str, dispatched: list[str]) -> None:
        scope = BULK_SCOPE[etype]
        quote = _quote(
            client, BULK_TOOL, self.max_credits, f"{etype} enrichment of list {self.list_id}",
            list_id=self.list_id, scope=scope,
        )
        spend_rules.guard_quote(quote, self.max_credits)
        result = client.enrich_list(self.list_id, scope, quote.quote_id)
        dispatched.append(result.workflow_id)

    def _missing(self, client: Any, etype: str, dispatched: list[str]) -> None:
        data_points = DATA_POINTS[etype]
        missing = sum(
            sum(1 for lead in page.leads if needs_enrichment(lead, etype))
            for page in client.iter_lead_pages(self.list_id, page_size=LEADS_PAGE_SIZE_MAX)
        )
        spend_rules.guard_worst_case(missing, etype, self.max_credits)
        committed = 0.0
        tools = BY_TASK_TOOLS
        for page in client.iter_lead_pages(self.list_id, page_size=LEADS_PAGE_SIZE_MAX):
            ids = [lead.lead_id for lead in page.leads if needs_enrichment(lead, etype)]
            if not ids:
                continue
            if not page.task_id:
                raise AirflowFailException(
                    f"a leads page of list {self.list_id} came without a cohort task_id; "
                    "enrich the whole list instead (only_missing=False)"
                )
            quote = None
            for number, tool in enumerate(tools):
                try:
                    quote = _quote(
                        client, tool, self.max_credits, f"{etype} enrichment of {len(ids)} leads",
                        task_id=page.task_id, data_points=data_points, entity_ids=ids,
                    )
                except ValidationError:
                    if number == len(tools) - 1:
                        raise
                    continue
                tools = (tool,)
                break
            spend_rules.guard_quote(quote, self.max_credits, committed)
            result = client.enrich_by_task(
                page.task_id,
                data_points,
                entity_ids=ids,
                lead_list_id=self.list_id,
                quote_id=quote.quote_id,
            )
            committed += float(quote.estimated_cost)
            if result.workflow_id:
                dispatched.append(result.workflow_id)
