"""Two processes calling as fast as they can through one key stay within the limit, as counted
by a sandbox process that enforces it, and never see a 429."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cleanlist_pipeline.testing import SandboxHandle, start_sandbox_process
from tests.client.limiter_worker import run_workers

RPM_KEY = 20


@pytest.fixture(scope="module")
def strict_sandbox() -> Iterator[SandboxHandle]:
    """A sandbox process of its own that enforces 20 requests/min per key."""
    with start_sandbox_process(rpm_key=RPM_KEY, rpm_org=0) as proc:
        handle = SandboxHandle(proc.origin, proc.key)
        try:
            yield handle
        finally:
            handle.close()


def test_two_processes_share_the_per_minute_budget(
    strict_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    key = strict_sandbox.add_key()
    db = tmp_path / "cleanlist-ratelimit.sqlite"
    # Each process alone would send 15; together they may send only 20 - 1 (safety margin).
    results = run_workers(2, strict_sandbox.v2, key, db, RPM_KEY, 60, 15, 3)

    assert sum(r["http_429"] for r in results) == 0
    assert sum(r["ok"] for r in results) == RPM_KEY - 1
    assert all(r["ok"] > 0 for r in results)  # both processes got slots: the budget is shared
    ledger = strict_sandbox.ledger()
    assert not ledger["rate_limited"]
    per_minute = [n for minutes in ledger["requests_per_minute"].values() for n in minutes.values()]
    assert max(per_minute) <= RPM_KEY


def test_short_window_refills_and_spaces_calls(
    strict_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    key = strict_sandbox.add_key()
    db = tmp_path / "cleanlist-ratelimit.sqlite"
    # 6 per 2 s minus the margin = 5 per 2 s shared: 16 calls need at least 3 refills (≥ 6 s).
    results = run_workers(2, strict_sandbox.v2, key, db, 6, 2, 8, 30)

    assert sum(r["http_429"] for r in results) == 0
    assert sum(r["ok"] for r in results) == 16
    times = sorted(t for r in results for t in r["times"])
    assert times[-1] - times[0] >= 5.5
    # No 2-second window holds more than 5 slots. ``times`` are when calls *returned*, so a slot
    # taken just before a window ended can finish inside the next one: allow 0.5 s of latency.
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 1.5) <= 5
