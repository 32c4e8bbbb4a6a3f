"""Where snapshots live under a root: hive-style partition folders.

```
<root>/leads/list_id=<id>/snapshot_date=<YYYY-MM-DD>/leads.parquet
<root>/lead_lists/snapshot_date=<YYYY-MM-DD>/lead_lists.parquet
```

``snapshot_date`` is the UTC calendar date of ``snapshot_at``. List ids are opaque, so characters
outside ``[A-Za-z0-9._~-]`` are percent-encoded (pyarrow's hive partitioning decodes them).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from urllib.parse import quote

LEADS_DIR = "leads"
LEADS_FILE = "leads.parquet"
LISTS_DIR = "lead_lists"
LISTS_FILE = "lead_lists.parquet"

_DATE_DIR = re.compile(r"^snapshot_date=(\d{4}-\d{2}-\d{2})$")


def utc_snapshot_at(snapshot_at: datetime) -> datetime:
    """Return ``snapshot_at`` in UTC; a naive datetime is refused (its day would be a guess)."""
    if snapshot_at.tzinfo is None or snapshot_at.utcoffset() is None:
        raise ValueError(
            "snapshot_at must be timezone-aware (e.g. datetime.now(timezone.utc)): "
            "the snapshot_date partition is its UTC date"
        )
    return snapshot_at.astimezone(UTC)


def list_dir_name(list_id: str) -> str:
    """``list_id=<id>``, with the id percent-encoded where a path could not hold it."""
    if not isinstance(list_id, str) or list_id in ("", ".", ".."):
        raise ValueError(f"invalid list_id for a snapshot path: {list_id!r}")
    return f"list_id={quote(list_id, safe='-_.~')}"


def date_dir_name(day: date) -> str:
    """``snapshot_date=YYYY-MM-DD``."""
    return f"snapshot_date={day.isoformat()}"


def parse_date_dir(name: str) -> date | None:
    """The date of a ``snapshot_date=YYYY-MM-DD`` folder name, else ``None``."""
    match = _DATE_DIR.match(name)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def lead_list_dir(base: str, list_id: str) -> str:
    """``<base>/leads/list_id=<id>`` (``base`` is a filesystem path, not a URI)."""
    return f"{base.rstrip('/')}/{LEADS_DIR}/{list_dir_name(list_id)}"


def lead_snapshot_file(base: str, list_id: str, snapshot_at: datetime | date) -> str:
    """``<base>/leads/list_id=<id>/snapshot_date=<UTC date>/leads.parquet`` for a moment or a
    UTC day."""
    day = utc_snapshot_at(snapshot_at).date() if isinstance(snapshot_at, datetime) else snapshot_at
    return f"{lead_list_dir(base, list_id)}/{date_dir_name(day)}/{LEADS_FILE}"


def lists_catalog_file(base: str, snapshot_at: datetime) -> str:
    """``<base>/lead_lists/snapshot_date=<UTC date>/lead_lists.parquet``."""
    day = utc_snapshot_at(snapshot_at).date()
    return f"{base.rstrip('/')}/{LISTS_DIR}/{date_dir_name(day)}/{LISTS_FILE}"
