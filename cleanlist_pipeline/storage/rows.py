"""Turn pages of leads (dicts or objects with attributes) into Arrow record batches, fast.

The client yields frozen dataclasses; users and tests may pass plain dicts (missing keys = null).
Columns are pulled with C-level getters and converted with one ``pa.array`` call per column: about
0.9 µs per lead for the 11 lead columns (measured), far below the cost of fetching the lead.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa

Columns = list[Sequence[Any]]


def _generic(row: Any, name: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(name)
    return getattr(row, name, None)


def make_column_getter(fields: Sequence[str]) -> Callable[[Sequence[Any]], Columns]:
    """Return ``page -> one sequence per field``, accepting dicts, objects, or a mix."""
    names = tuple(fields)
    if len(names) < 2:
        raise ValueError("make_column_getter needs two or more fields")  # attrgetter → tuples
    by_attr = operator.attrgetter(*names)

    def columns(page: Sequence[Any]) -> Columns:
        if not page:
            return [() for _ in names]
        try:
            if isinstance(page[0], Mapping):
                # `.get` raises AttributeError on an object mixed into a page of dicts.
                return [[row.get(name) for row in page] for name in names]
            # attrgetter raises AttributeError on a dict or an object lacking an optional field.
            return list(zip(*map(by_attr, page), strict=True))
        except AttributeError:
            return [[_generic(row, name) for row in page] for name in names]

    return columns


def page_rows(page: Any) -> Sequence[Any]:
    """The leads of a page: a list as given, or the ``.leads`` of a page object (``LeadsPage``)."""
    if isinstance(page, Sequence) and not isinstance(page, str | bytes):
        return page
    leads = getattr(page, "leads", None)
    if isinstance(leads, Sequence):
        return leads
    raise TypeError(
        f"each page must be a list of leads or have a .leads list; got {type(page).__name__} "
        "(pass pages, e.g. client.iter_lead_pages(...), not single leads)"
    )


def to_arrow_columns(
    columns: Columns, names: Sequence[str], types: Sequence[pa.DataType]
) -> list[pa.Array]:
    """``pa.array`` per column; a value of the wrong type names the column, never the value."""
    arrays: list[pa.Array] = []
    for values, name, type_ in zip(columns, names, types, strict=True):
        try:
            arrays.append(pa.array(values, type=type_))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
            kinds = sorted({type(v).__name__ for v in values if v is not None})
            raise TypeError(
                f"field {name!r} must hold {type_} values or None; got {', '.join(kinds)}"
            ) from exc
    return arrays
