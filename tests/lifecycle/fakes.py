"""Fakes for the lifecycle tests: a scripted status API and a manual clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cleanlist_pipeline.api.models import WorkflowStatus


@dataclass
class FakeStatusAPI:
    """Answers ``enrichment_status`` from a script; counts polls; grants ``tokens`` per tick."""

    statuses: dict[str, list[WorkflowStatus | Exception]] = field(default_factory=dict)
    tokens: int = 1_000_000
    polls: list[str] = field(default_factory=list)

    def try_acquire(self) -> bool:
        if self.tokens <= 0:
            return False
        self.tokens -= 1
        return True

    def enrichment_status(self, workflow_id: str) -> WorkflowStatus:
        self.polls.append(workflow_id)
        script = self.statuses.get(workflow_id) or [running(workflow_id)]
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def running(workflow_id: str, processed: int = 0, total: int = 10) -> WorkflowStatus:
    return WorkflowStatus(
        workflow_id=workflow_id, status="running", processed=processed, total=total
    )


def finished(workflow_id: str, status: str = "completed", **extra: Any) -> WorkflowStatus:
    return WorkflowStatus(
        workflow_id=workflow_id,
        status=status,
        processed=10,
        total=10,
        completed=10 if status == "completed" else 0,
        failed=0 if status == "completed" else 10,
        summary={"emails_found": 7, "phones_found": 2},
        credits_charged=extra.pop("credits_charged", 7),
        credits_refunded=extra.pop("credits_refunded", 3),
        refund_status=extra.pop("refund_status", "not_applicable"),
        refund_message=extra.pop("refund_message", None),
    )


class Clock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
