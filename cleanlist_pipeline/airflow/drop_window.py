"""Which drops a DAG run imports: its data interval's, or (manual runs) every one.

A drop's date is taken from its file name (``2025-03-14``, ``20250314``, or ``2025-03`` = the 1st
of that month, UTC), else from its modification time. A scheduled or backfill run imports the
drops dated inside ``[data_interval_start, data_interval_end)``; a manual run — ``airflow dags
trigger``, ``airflow dags test``, a run without an interval, or the param ``all_drops: true`` —
imports every drop, and the ledger leaves out what was imported before.

Airflow 3's plain cron schedules (``CronTriggerTimetable``) give a zero-length interval, which
would select nothing; the example DAG schedules with ``CronDataIntervalTimetable`` instead, and
a zero-length interval is refused here with that advice rather than silently importing nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["DropWindow", "drop_date", "select_drops", "window_of_run"]

_DAY = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")
_MONTH = re.compile(r"(?<!\d)(\d{4})-(\d{2})(?![\d])")


def drop_date(relative_path: str, mtime_ns: int) -> datetime:
    """The date a drop belongs to (UTC).

    >>> drop_date("2025-03-14-badges.csv", 0).date().isoformat()
    '2025-03-14'
    >>> drop_date("leads/2025-01-acme-webinar.csv", 0).date().isoformat()
    '2025-01-01'
    >>> drop_date("export.csv", 0).year
    1970
    """
    name = relative_path.replace("\\", "/")
    for match in _DAY.finditer(name):
        try:
            return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
        except ValueError:
            continue  # 2025-13-40 is not a date: look on
    for match in _MONTH.finditer(name):
        if 1 <= int(match[2]) <= 12:
            return datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
    return datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC)


@dataclass(frozen=True)
class DropWindow:
    """``[start, end)`` of drop dates to import; ``None`` bounds: every drop."""

    start: datetime | None
    end: datetime | None
    reason: str

    @property
    def everything(self) -> bool:
        return self.start is None

    def contains(self, when: datetime) -> bool:
        if self.start is None or self.end is None:
            return True
        return self.start <= when < self.end


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def window_of_run(
    run_type: str | None, start: Any, end: Any, all_drops: bool = False
) -> DropWindow:
    """The window a run imports: everything for manual runs, else its data interval."""
    if all_drops:
        return DropWindow(None, None, "param all_drops is true: every drop not imported yet")
    kind = str(getattr(run_type, "value", run_type) or "").lower()
    begin, finish = _aware(start), _aware(end)
    if kind in ("manual", "asset_triggered", "asset_materialization") or begin is None:
        return DropWindow(None, None, f"{kind or 'a'} run: every drop not imported yet")
    if finish is None or finish <= begin:
        raise ValueError(
            f"the run's data interval is empty ({begin.isoformat()} … {finish}), so no drop date "
            "falls inside it. Schedule the DAG with CronDataIntervalTimetable (Airflow 3's plain "
            "cron strings give zero-length intervals), or trigger it manually to import every "
            "drop not imported yet."
        )
    return DropWindow(begin, finish, f"{kind} run: drops dated {begin:%Y-%m-%d} … {finish:%Y-%m-%d}")


def select_drops(drops: Iterable[Any], window: DropWindow) -> list[Any]:
    """The drops (``DropFile``) whose date falls in ``window``, in key order."""
    return [d for d in drops if window.contains(drop_date(d.relative_path, d.mtime_ns))]
