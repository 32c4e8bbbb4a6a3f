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
from cleanlist_pipeline.api.errors import APIError
from cleanlist_pipeline.contract import ENRICHMENT_TYPES
from cleanlist_pipeline.enrich_dispatch import (
    EnrichDispatch,
    MissingCohortError,
    enrich_missing,
    enrich_whole_list,
    needs_enrichment,
)

__all__ = ["CleanlistEnrichOperator", "needs_enrichment"]


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

        def record(item: EnrichDispatch) -> None:
            dispatched.append(item.workflow_id)

        try:
            with hook.get_conn() as client:
                if self.only_missing:
                    enrich_missing(client, self.list_id, etype, self.max_credits, record)
                else:
                    for item in enrich_whole_list(client, self.list_id, etype, self.max_credits):
                        record(item)
        except spend_rules.SpendRuleError as exc:
            raise AirflowFailException(self._after(dispatched, exc.description)) from exc
        except MissingCohortError as exc:
            raise AirflowFailException(self._after(dispatched, str(exc))) from exc
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
