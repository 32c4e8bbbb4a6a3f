"""``CleanlistEnrichmentTrigger``: waits for enrichment workflows in the triggerer, not a worker.

The triggerer is a separate process with an asyncio loop shared by every trigger, so:

* the trigger serializes only the connection id, the workflow ids, the poll interval and its
  cursor (the workflows already finished) — never a URL or a key. It resolves the target itself
  from the connection (or starts its own embedded sandbox thread over the same SQLite file: the
  URL of a worker's sandbox means nothing in another process);
* it polls with an async httpx client, and takes each request's slot from the *same* rate limiter
  every other process on the key uses; the limiter's acquire blocks, so it runs in a thread
  (``asyncio.to_thread``) — on the loop it would stall every trigger and the triggerer would
  report a blocked loop;
* a poll that gets no answer, a 5xx or a 429 is tried again next round; a 401/403/404 ends the
  trigger with an error event the sensor turns into a task failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from cleanlist_pipeline.airflow.hook import Target, rate_limit_config, resolve_target
from cleanlist_pipeline.api.errors import APIError, error_from_response
from cleanlist_pipeline.api.models import WorkflowStatus
from cleanlist_pipeline.api.ratelimit import RateLimiter
from cleanlist_pipeline.api.urls import split_base_url
from cleanlist_pipeline.contract import AUTH_HEADER, FAILED_STATUSES
from cleanlist_pipeline.settings import Settings, settings_from_env

__all__ = ["CleanlistEnrichmentTrigger", "workflow_summary"]

#: Statuses that may change by waiting: the poll is tried again next round.
_TRANSIENT = (429, 500, 502, 503, 504)


def workflow_summary(status: WorkflowStatus) -> dict[str, Any]:
    """What the cursor and the sensor's result keep of a terminal status (counts only)."""
    return {
        "status": status.status,
        "total": status.total,
        "processed": status.processed,
        "completed": status.completed,
        "failed": status.failed,
        "credits_charged": status.credits_charged,
        "credits_refunded": status.credits_refunded,
    }


def outcome_event(finished: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The event payload once every workflow is terminal."""
    bad = sorted(w for w, s in finished.items() if s.get("status") in FAILED_STATUSES)
    return {"status": "failed" if bad else "success", "failed": bad, "workflows": finished}


class CleanlistEnrichmentTrigger(BaseTrigger):
    """Fires once every workflow in ``workflow_ids`` has a terminal status."""

    def __init__(
        self,
        workflow_ids: list[str],
        cleanlist_conn_id: str = "cleanlist_default",
        poll_interval: float = 10.0,
        finished: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.workflow_ids = list(workflow_ids)
        self.cleanlist_conn_id = cleanlist_conn_id
        self.poll_interval = float(poll_interval)
        self.finished: dict[str, dict[str, Any]] = dict(finished or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "workflow_ids": self.workflow_ids,
                "cleanlist_conn_id": self.cleanlist_conn_id,
                "poll_interval": self.poll_interval,
                "finished": self.finished,
            },
        )

    async def _target(self, settings: Settings) -> Target:
        try:
            conn = await BaseHook.aget_connection(self.cleanlist_conn_id)
        except AirflowNotFoundException:
            conn = None
        # may start this process's embedded sandbox thread: blocking, so off the loop
        target = await asyncio.to_thread(resolve_target, conn, self.cleanlist_conn_id, settings)
        return target

    async def run(self) -> AsyncIterator[TriggerEvent]:
        settings = await asyncio.to_thread(settings_from_env)
        try:
            target = await self._target(settings)
        except Exception as exc:  # a broken connection: say so instead of dying silently
            yield TriggerEvent({"status": "error", "message": f"{type(exc).__name__}: {exc}"})
            return
        config = rate_limit_config(target, settings)
        limiter = (
            await asyncio.to_thread(RateLimiter, config, target.api_key) if config else None
        )
        origin, prefix = split_base_url(target.base_url)
        self.log.info(
            "Waiting for %d enrichment workflow(s) at %s.",
            len(self.workflow_ids),
            target.describe(),
        )
        try:
            async with httpx.AsyncClient(
                base_url=origin,
                headers={AUTH_HEADER: f"Bearer {target.api_key}", "Accept": "application/json"},
                timeout=httpx.Timeout(30.0, connect=10.0),
                follow_redirects=False,  # a redirect could carry the key elsewhere
            ) as http:
                while True:
                    for workflow_id in self.workflow_ids:
                        if workflow_id in self.finished:
                            continue
                        if limiter is not None:
                            await asyncio.to_thread(limiter.acquire)
                        try:
                            status = await self._poll(http, prefix, workflow_id, target)
                        except APIError as exc:
                            if exc.status in _TRANSIENT:
                                self.log.warning("Poll of %s: HTTP %s; next round.", workflow_id, exc.status)
                                continue
                            yield TriggerEvent(
                                {
                                    "status": "error",
                                    "message": f"enrichment status of {workflow_id}: HTTP "
                                    f"{exc.status} {exc.code or ''} {exc.problem or ''}".rstrip(),
                                }
                            )
                            return
                        except httpx.HTTPError as exc:
                            self.log.warning(
                                "Poll of %s got no answer (%s); next round.",
                                workflow_id,
                                type(exc).__name__,
                            )
                            continue
                        if status is not None and status.is_terminal:
                            self.finished[workflow_id] = workflow_summary(status)
                    if len(self.finished) >= len(set(self.workflow_ids)):
                        yield TriggerEvent(outcome_event(self.finished))
                        return
                    await asyncio.sleep(self.poll_interval)
        finally:
            if limiter is not None:
                await asyncio.to_thread(limiter.close)

    async def _poll(
        self, http: httpx.AsyncClient, prefix: str, workflow_id: str, target: Target
    ) -> WorkflowStatus | None:
        path = f"{prefix}/enrichment/status/{quote(workflow_id, safe='')}"
        response = await http.get(path)
        if response.status_code >= 400:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            raise error_from_response(
                status=response.status_code,
                body=body,
                retry_after_header=response.headers.get("retry-after"),
                method="GET",
                path=path,
                secret=target.api_key,
            )
        return WorkflowStatus.from_json(response.json())
