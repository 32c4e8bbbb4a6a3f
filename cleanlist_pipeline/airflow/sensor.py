"""``CleanlistEnrichmentSensor``: wait for enrichment workflows without holding a worker slot.

``deferrable=True`` (the default) hands the wait to :class:`CleanlistEnrichmentTrigger` in the
triggerer; ``deferrable=False`` pokes from the worker (``mode="reschedule"`` frees the slot
between pokes) for deployments that run no triggerer. Either way the task succeeds when every
workflow completed, and fails naming the workflows that failed or were cancelled.

No workflow ids (nothing was dispatched) succeeds at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from cleanlist_pipeline.airflow.hook import CleanlistHook
from cleanlist_pipeline.airflow.trigger import (
    CleanlistEnrichmentTrigger,
    outcome_event,
    workflow_summary,
)
from cleanlist_pipeline.api.errors import APIError, TransportError

__all__ = ["CleanlistEnrichmentSensor"]


def _ids(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v]


class CleanlistEnrichmentSensor(BaseSensorOperator):
    """Succeeds when every workflow in ``workflow_ids`` has finished.

    :param workflow_ids: workflow ids (an XComArg of the enrich task works as is)
    :param deferrable: wait in the triggerer (default) instead of poking from a worker
    """

    template_fields: Sequence[str] = ("workflow_ids",)

    def __init__(
        self,
        *,
        workflow_ids: Any,
        cleanlist_conn_id: str = CleanlistHook.default_conn_name,
        deferrable: bool = True,
        poke_interval: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.workflow_ids = workflow_ids
        self.cleanlist_conn_id = cleanlist_conn_id
        self.deferrable = deferrable
        self._finished: dict[str, dict[str, Any]] = {}

    def execute(self, context: Any) -> Any:
        ids = _ids(self.workflow_ids)
        if not ids:
            self.log.info("No enrichment workflows to wait for.")
            return {"status": "success", "failed": [], "workflows": {}}
        if not self.deferrable:
            super().execute(context)
            return self._finish(outcome_event(self._finished))
        self.log.info("Deferring: the triggerer waits for %d workflow(s).", len(ids))
        self.defer(
            trigger=CleanlistEnrichmentTrigger(
                workflow_ids=ids,
                cleanlist_conn_id=self.cleanlist_conn_id,
                poll_interval=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) if self.timeout else None,
        )

    def poke(self, context: Any) -> bool:
        """One round of status polls from the worker (``deferrable=False``)."""
        hook = CleanlistHook(self.cleanlist_conn_id)
        with hook.get_conn() as client:
            for workflow_id in _ids(self.workflow_ids):
                if workflow_id in self._finished:
                    continue
                try:
                    status = client.enrichment_status(workflow_id)
                except TransportError as exc:
                    self.log.warning("Poll of %s got no answer (%s).", workflow_id, exc)
                    return False
                except APIError as exc:
                    raise AirflowFailException(
                        f"enrichment status of {workflow_id}: HTTP {exc.status} {exc.code or ''}"
                    ) from exc
                if status.is_terminal:
                    self._finished[workflow_id] = workflow_summary(status)
        return len(self._finished) >= len(set(_ids(self.workflow_ids)))

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """Called when the trigger fired: succeed, or fail with what went wrong."""
        if not event:
            raise AirflowException("the enrichment trigger ended without an event")
        if event.get("status") == "error":
            raise AirflowFailException(f"Waiting for enrichment failed: {event.get('message')}")
        return self._finish(event)

    def _finish(self, event: dict[str, Any]) -> dict[str, Any]:
        for workflow_id, summary in sorted(event.get("workflows", {}).items()):
            self.log.info(
                "Workflow %s: %s (%s of %s processed, %s credits charged).",
                workflow_id,
                summary.get("status"),
                summary.get("processed"),
                summary.get("total"),
                summary.get("credits_charged"),
            )
        if event.get("status") == "failed":
            raise AirflowFailException(
                f"{len(event['failed'])} enrichment workflow(s) did not complete: "
                f"{', '.join(event['failed'])}"
            )
        return event
