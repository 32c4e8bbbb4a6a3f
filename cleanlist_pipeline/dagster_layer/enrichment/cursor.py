"""The enrichment sensor's state: the workflows it tracks and how hard it may poll.

The whole state is one JSON document, the sensor cursor. Dagster saves it only after a tick
succeeds, so a failed or killed tick leaves the previous state in place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

__all__ = ["EnrichmentCursor", "PollPolicy", "TrackedWorkflow", "snapshot_run_key"]


@dataclass
class TrackedWorkflow:
    """A dispatched workflow the sensor has not yet seen terminal."""

    workflow_id: str
    list_id: str
    source: str
    seen_at: float
    next_poll_at: float
    interval_s: float
    last_polled_at: float = 0.0
    poll_seq: int = 0  # position in the global poll order; 0 = never polled
    status: str = "pending"
    processed: int | None = None
    errors: int = 0


@dataclass
class EnrichmentCursor:
    """The sensor's whole state, stored as JSON in the sensor cursor."""

    import_after: int = 0
    enrich_after: int = 0
    polls: int = 0  # polls ever made: orders workflows least-recently-polled first
    pending: dict[str, TrackedWorkflow] = field(default_factory=dict)
    # list_id -> workflow ids finished since that list's last snapshot request
    finished: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | None) -> EnrichmentCursor:
        """Parse a cursor; ``None``/empty gives a fresh state.

        >>> EnrichmentCursor.from_json(None).pending
        {}
        """
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            import_after=int(data.get("import_after", 0)),
            enrich_after=int(data.get("enrich_after", 0)),
            polls=int(data.get("polls", 0)),
            pending={wid: TrackedWorkflow(**item) for wid, item in data.get("pending", {}).items()},
            finished={k: list(v) for k, v in data.get("finished", {}).items()},
        )

    def to_json(self) -> str:
        """Serialize (stable key order, so unchanged state gives an unchanged cursor)."""
        return json.dumps(
            {
                "v": 1,
                "import_after": self.import_after,
                "enrich_after": self.enrich_after,
                "polls": self.polls,
                "pending": {wid: asdict(w) for wid, w in sorted(self.pending.items())},
                "finished": {k: sorted(v) for k, v in sorted(self.finished.items())},
            },
            sort_keys=True,
        )

    def open_lists(self) -> set[str]:
        """Lists with at least one workflow still pending."""
        return {w.list_id for w in self.pending.values()}


@dataclass(frozen=True)
class PollPolicy:
    """How hard one tick may poll.

    Polls count against the key's rate limit, and Dagster kills a sensor evaluation after 60 s.
    """

    max_polls_per_tick: int = 10
    time_budget_s: float = 20.0
    min_interval_s: float = 5.0
    max_interval_s: float = 60.0


def snapshot_run_key(list_id: str, workflow_ids: Iterable[str]) -> str:
    """Run key of the snapshot requested once the given workflows of a list are all terminal.

    >>> snapshot_run_key("L1", ["b", "a"]) == snapshot_run_key("L1", ["a", "b"])
    True
    """
    digest = hashlib.sha256("\n".join(sorted(set(workflow_ids))).encode()).hexdigest()[:16]
    return f"leads_snapshot:{list_id}:{digest}"
