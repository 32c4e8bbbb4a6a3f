"""Rates, ETAs and durations in words, for progress lines and request-budget estimates.

Standard library only: the CLI's progress display, ``plan``'s request estimate and the import
run's own log lines (Dagster layer) all word time the same way, and neither layer may import the
other's modules for it.

>>> progress_line("importing big.csv", 412, 1668, "chunks", per_minute=29.0)
'importing big.csv: 412/1,668 chunks (24.7%), 29.0/min, ETA 43 min'
>>> format_duration(3450)
'57 min'
"""

from __future__ import annotations

__all__ = ["eta_seconds", "format_duration", "format_rate", "progress_line"]


def format_duration(seconds: float) -> str:
    """``"8 s"``, ``"57 min"``, ``"2 h 05 min"`` (whole minutes, rounded down, above 90 s).

    >>> [format_duration(s) for s in (0.4, 59, 90, 3599, 7500)]
    ['0 s', '59 s', '1 min', '59 min', '2 h 05 min']
    """
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min"


def format_rate(per_minute: float) -> str:
    """A per-minute rate, one decimal below 100 (``"29.0/min"``), whole above (``"1,250/min"``).

    >>> format_rate(29), format_rate(4800.4)
    ('29.0/min', '4,800/min')
    """
    return f"{per_minute:.1f}/min" if per_minute < 100 else f"{per_minute:,.0f}/min"


def eta_seconds(done: int, total: int | None, per_minute: float | None) -> float | None:
    """Seconds left at ``per_minute``, or None when it cannot be told (no total, no rate yet).

    >>> eta_seconds(10, 40, 30.0)
    60.0
    """
    if total is None or not per_minute or per_minute <= 0:
        return None
    return max(total - done, 0) / per_minute * 60.0


def progress_line(
    label: str, done: int, total: int | None, unit: str, *, per_minute: float | None
) -> str:
    """``"<label>: 412/1,668 chunks (24.7%), 29.0/min, ETA 43 min"`` (parts it cannot tell left
    out: no total → no percentage or ETA; no rate yet → no rate or ETA)."""
    if total:
        text = f"{label}: {done:,}/{total:,} {unit} ({100.0 * done / total:.1f}%)"
    else:
        text = f"{label}: {done:,} {unit}"
    if per_minute:
        text += f", {format_rate(per_minute)}"
    eta = eta_seconds(done, total, per_minute)
    if eta is not None and total and done < total:
        text += f", ETA {format_duration(eta)}"
    return text
