"""Following the API's opaque cursors page after page, and the page-size bounds.

Cursors are opaque (examples look like offsets, but nothing says they are): we only hand back what
the server gave and stop on a null/empty one. A server bug (or a hostile server) could otherwise
keep a snapshot paging forever, so paging also stops with ``PaginationError`` when:

* a cursor comes back that was already followed (a loop);
* more pages were fetched than the pages' ``total`` allows at the requested page size, plus a
  margin (``total`` is read from every page and the largest kept, so a list growing while it is
  paged still pages to its end);
* more than :data:`MAX_EMPTY_PAGES_IN_ROW` pages in a row came back empty yet with a cursor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from cleanlist_pipeline.api.errors import PaginationError

__all__ = ["EXTRA_PAGES", "MAX_EMPTY_PAGES_IN_ROW", "check_page_size", "paginate"]

_P = TypeVar("_P")

#: Pages followed beyond ``ceil(total / limit)`` before giving up (at least this many, or 5 % of
#: the expected pages): room for leads added while the list is paged and for short pages.
EXTRA_PAGES = 3
#: Empty pages that still carry a cursor tolerated in a row (a server may end on one empty page).
MAX_EMPTY_PAGES_IN_ROW = 3


def paginate(
    fetch: Callable[[Mapping[str, Any]], Any],
    path: str,
    params: Mapping[str, Any],
    parse: Callable[[Any], _P],
    items: Callable[[_P], int],
) -> Iterator[_P]:
    """Pages ``parse(fetch(query))`` (one GET of ``path`` each), until the cursor runs out.

    ``parse`` is usually a model's ``from_json``; any page with ``cursor`` and ``total``
    attributes will do (the snapshot's Arrow pages). ``items(page)`` is the number of entries on
    a page; ``params["limit"]`` is the page size.
    """
    seen: set[str] = set()
    cursor: str | None = None
    pages = 0
    empty_in_row = 0
    most_total = 0
    limit = max(int(params.get("limit") or 1), 1)
    while True:
        query = dict(params)
        if cursor is not None:
            query["cursor"] = cursor
        page = parse(fetch(query))
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
        empty_in_row = empty_in_row + 1 if items(page) == 0 else 0
        if empty_in_row > MAX_EMPTY_PAGES_IN_ROW:
            raise PaginationError(
                f"GET {path}: {empty_in_row} empty pages in a row still handed out a next "
                "cursor; stopping instead of paging forever (server-side pagination bug)."
            )
        most_total = max(most_total, int(page.total or 0))  # type: ignore[attr-defined]
        expected = math.ceil(most_total / limit)
        allowed = expected + max(EXTRA_PAGES, expected // 20)
        if pages >= allowed:
            raise PaginationError(
                f"GET {path}: {pages} pages of up to {limit} fetched for a total of {most_total}, "
                f"and the server still hands out a next cursor (at most {allowed} pages "
                "expected); stopping instead of paging forever (server-side pagination bug)."
            )
        seen.add(next_cursor)
        cursor = next_cursor


def check_page_size(page_size: int, maximum: int) -> None:
    """Refuse a page size the API would reject (1 to ``maximum``)."""
    if not 1 <= page_size <= maximum:
        raise ValueError(f"page_size must be between 1 and {maximum}")
