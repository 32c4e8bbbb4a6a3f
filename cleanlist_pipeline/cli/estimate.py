"""How many requests a plan needs and how long they take at the configured rate limits.

Against the real API the bound is the request budget, not the code: every request counts (reads
and status polls too), so a drop's import time is its requests ÷ the effective rate. The rate is
the one the client's limiter enforces — the per-key limit minus the safety margin, or the
per-organization one when lower — taken from ``Settings`` through ``RateLimitConfig``, so this
estimate and the limiter cannot disagree.

What one drop's import sends (``cleanlist_csv_import``): one list lookup (create-or-get by name,
or get by id), one free ``credits/estimate`` when enrichment is dispatched, and one
``csv-import`` per chunk (a 413 adds a call per split). Enrichment rides on the chunk calls
(``dispatch_enrichment``: one workflow per chunk, no extra request) and each workflow then needs
at least one ``enrichment/status`` poll. The list's snapshot afterwards is one lead-count lookup
plus one page per ``LEADS_PAGE_SIZE_MAX`` leads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cleanlist_pipeline.api.ratelimit import RateLimitConfig
from cleanlist_pipeline.contract import LEADS_PAGE_SIZE_MAX
from cleanlist_pipeline.eta import format_duration, format_rate
from cleanlist_pipeline.settings import Settings

__all__ = ["DropRequests", "RequestRate", "drop_requests", "snapshot_requests"]


@dataclass(frozen=True)
class RequestRate:
    """The effective request rate of ``settings``' client (None: no client-side limit)."""

    per_minute: float | None
    per_key: int
    per_org: int
    safety_margin: int
    window_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestRate:
        key, org = settings.rate_limit_per_key, settings.rate_limit_per_org
        if key <= 0 or org <= 0:  # the resource turns the limiter off for these
            return cls(None, key, org, settings.rate_limit_safety_margin, 0.0)
        config = RateLimitConfig(
            per_key=key,
            per_org=org,
            window_seconds=settings.rate_limit_window_seconds,
            safety_margin=settings.rate_limit_safety_margin,
            backend="memory",
        )
        per_window = min(config.effective_per_key, config.effective_per_org)
        return cls(
            per_window * 60.0 / config.window_seconds,
            key,
            org,
            config.safety_margin,
            config.window_seconds,
        )

    def seconds_for(self, requests: int) -> float | None:
        """Seconds ``requests`` take at this rate (None when nothing limits the client)."""
        if self.per_minute is None:
            return None
        return requests / self.per_minute * 60.0

    def describe(self) -> str:
        """``"29/min (30 per key, 60 per organization per 60 s, less a safety margin of 1)"``."""
        if self.per_minute is None:
            return "no client-side rate limit (CLEANLIST_RATE_LIMIT_PER_KEY/_PER_ORG is 0)"
        return (
            f"{format_rate(self.per_minute)} ({self.per_key} per key, {self.per_org} per "
            f"organization per {self.window_seconds:g} s, less a safety margin of "
            f"{self.safety_margin})"
        )

    def took(self, requests: int) -> str:
        """``"1,668 requests ≈ 57 min at 29.0/min"``."""
        seconds = self.seconds_for(requests)
        if seconds is None or self.per_minute is None:
            return f"{requests:,} requests (not rate-limited)"
        return (
            f"{requests:,} requests ≈ {format_duration(seconds)} at {format_rate(self.per_minute)}"
        )


@dataclass(frozen=True)
class DropRequests:
    """The requests one drop's import needs (and its share of the list's snapshot)."""

    list_lookups: int
    estimates: int
    chunks: int
    #: workflows dispatched with the chunk calls (no request of their own)
    enrichment_dispatches: int
    #: at least one status poll per workflow (more while a workflow runs)
    enrichment_polls_min: int
    #: pages this drop's rows add to the list's snapshot (leads the API skips add none)
    snapshot_pages: int
    rows_to_send: int = 0

    @property
    def import_requests(self) -> int:
        """What the import run itself sends."""
        return self.list_lookups + self.estimates + self.chunks

    @property
    def total(self) -> int:
        return self.import_requests + self.enrichment_polls_min

    def as_dict(self, rate: RequestRate) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            import_requests=self.import_requests,
            total=self.total,
            seconds=rate.seconds_for(self.total),
        )
        return out


def drop_requests(item: Mapping[str, Any], enrichment_type: str | None) -> DropRequests:
    """The requests of one ``describe_plan`` item (a drop that plans without error)."""
    chunks = len(item.get("chunks") or ())
    rows = int(item.get("rows_to_send") or 0)
    enrich = enrichment_type is not None and chunks > 0
    return DropRequests(
        list_lookups=1,
        estimates=1 if enrich else 0,
        chunks=chunks,
        enrichment_dispatches=chunks if enrich else 0,
        enrichment_polls_min=chunks if enrich else 0,
        snapshot_pages=math.ceil(rows / LEADS_PAGE_SIZE_MAX),
        rows_to_send=rows,
    )


def snapshot_requests(drops: Iterable[DropRequests]) -> int:
    """One lead-count lookup plus the pages of every drop's rows, in one list."""
    return 1 + math.ceil(sum(d.rows_to_send for d in drops) / LEADS_PAGE_SIZE_MAX)
