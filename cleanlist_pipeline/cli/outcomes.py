"""What the CLI's flows produce: per-drop and per-list outcomes, and the step-failure error.

Plain data shared by ``runner`` (which fills it) and ``render`` (which prints it), so neither
imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click

__all__ = ["DropOutcome", "ListOutcome", "PendingWorkflow", "StepFailed"]


class StepFailed(click.ClickException):
    """A pipeline step failed (exit status 1)."""

    exit_code = 1


@dataclass
class DropOutcome:
    """One drop's import, from its materialization's ``accounting`` metadata."""

    partition_key: str
    success: bool
    run_id: str = ""
    seconds: float = 0.0
    list_id: str | None = None
    data_records: int = 0
    imported: int = 0
    skipped: int = 0
    rejected: int = 0
    removed_duplicates: int = 0
    already_imported: int = 0
    workflows: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def accounted_for(self) -> bool:
        """Every data record is imported, skipped by the API, rejected or imported earlier."""
        total = (
            self.imported
            + self.skipped
            + self.rejected
            + self.removed_duplicates
            + self.already_imported
        )
        return self.success and total == self.data_records


@dataclass
class ListOutcome:
    """One target list after the wait: credits and its snapshot."""

    list_id: str
    workflows_finished: int = 0
    workflows_failed: int = 0
    credits_charged: float = 0.0
    credits_refunded: float = 0.0
    snapshot: dict[str, Any] = field(default_factory=dict)
    snapshot_error: str | None = None


@dataclass(frozen=True)
class PendingWorkflow:
    """An enrichment workflow dispatched and not yet seen terminal in the event log."""

    workflow_id: str
    list_id: str
    source: str
    status: str = "pending"
    processed: str | None = None
    next_poll_in_s: float | None = None
