"""Following the API's opaque cursors page after page, and the page-size bounds.

Cursors are opaque (examples look like offsets, but nothing says they are): we only hand back what
the server gave, stop on a null/empty one, and refuse to follow a cursor twice — a server bug
there would otherwise loop forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from cleanlist_pipeline.api.errors import PaginationError
from cleanlist_pipeline.api.models import Model

__all__ = ["check_page_size", "paginate"]

_M = TypeVar("_M", bound=Model)


def paginate(
    fetch: Callable[[Mapping[str, Any]], Any],
    path: str,
    params: Mapping[str, Any],
    model: type[_M],
) -> Iterator[_M]:
    """Pages of ``model`` from ``fetch(query)`` (one GET of ``path``), until the cursor runs out."""
    seen: set[str] = set()
    cursor: str | None = None
    pages = 0
    while True:
        query = dict(params)
        if cursor is not None:
            query["cursor"] = cursor
        page = model.from_json(fetch(query))
        pages += 1
        yield page
        next_cursor = page.cursor  # type: ignore[attr-defined]
        if not next_cursor:
            return
        if next_cursor in seen:
            raise PaginationError(
                f"GET {path}: page {pages + 1} would reuse a cursor already followed; "
                "stopping instead of looping forever (server-side pagination bug)."
            )
        seen.add(next_cursor)
        cursor = next_cursor


def check_page_size(page_size: int, maximum: int) -> None:
    """Refuse a page size the API would reject (1 to ``maximum``)."""
    if not 1 <= page_size <= maximum:
        raise ValueError(f"page_size must be between 1 and {maximum}")
