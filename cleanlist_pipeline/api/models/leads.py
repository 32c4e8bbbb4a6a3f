"""Leads: one ``Lead``, the lazily built ``LeadRows`` of a page, and ``LeadsPage``."""

from __future__ import annotations

import operator
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cleanlist_pipeline.api.errors import ResponseShapeError
from cleanlist_pipeline.api.models.base import ListField, Model, _Envelope, _extra
from cleanlist_pipeline.contract import LEAD_FIELDS

__all__ = ["Lead", "LeadRows", "LeadsPage"]

_LEAD_OPTIONAL = LEAD_FIELDS[1:]  # every field but lead_id, in the API's order


@dataclass(frozen=True, slots=True, kw_only=True)
class Lead(Model):
    """LeadRow: only ``lead_id`` is required; every other field is a nullable string."""

    lead_id: str
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    company: str | None = None
    location: str | None = None
    linkedin_url: str | None = None
    provider: str | None = None
    extra: Mapping[str, Any] = _extra()

    def __repr__(self) -> str:
        # Leads carry personal data: keep it out of reprs that end up in logs and tracebacks.
        return f"Lead(lead_id={self.lead_id!r}, …)"

    @classmethod
    def _parse(cls, data: Mapping[str, Any], prefix: str) -> Lead:
        # Hot path (hundreds of thousands of rows per snapshot): the generic parser's rules,
        # unrolled; the object is filled slot by slot instead of through keyword arguments.
        lead_id = data.get("lead_id")
        if type(lead_id) is not str:
            raise ResponseShapeError(
                f"Cleanlist answered with a lead without a string `{prefix}lead_id` "
                f"(got {type(lead_id).__name__}).",
                model="Lead",
                field=prefix + "lead_id",
            )
        get = data.get
        values = [get(name) for name in _LEAD_OPTIONAL]
        for name, v in zip(_LEAD_OPTIONAL, values, strict=True):
            if v is not None and v.__class__ is not str:
                raise ResponseShapeError(
                    f"Cleanlist answered with a non-string `{prefix}{name}` for lead "
                    f"{lead_id}: {type(v).__name__}.",
                    model="Lead",
                    field=prefix + name,
                )
        obj = _new(cls)
        _set(obj, "lead_id", lead_id)
        for name, v in zip(_LEAD_OPTIONAL, values, strict=True):
            _set(obj, name, v)
        extra = (
            _NO_EXTRA
            if data.keys() <= _LEAD_KEYS
            else {k: v for k, v in data.items() if k not in _LEAD_KEYS}
        )
        _set(obj, "extra", extra)
        return obj


_LEAD_ID = operator.itemgetter("lead_id")
_new = object.__new__
_set = object.__setattr__
_LEAD_KEYS = frozenset({"lead_id", *_LEAD_OPTIONAL})
_NO_EXTRA: Mapping[str, Any] = types.MappingProxyType({})


class LeadRows(ListField, Sequence[Lead]):
    """The leads of one page: an immutable sequence of ``Lead``, built on access.

    Every row's required ``lead_id`` is checked when the page arrives (a row without one raises
    ``ResponseShapeError`` naming ``leads[i].lead_id``); the optional fields are type-checked when
    a row becomes a ``Lead``. Building objects lazily keeps the client within a few percent of a
    bare HTTP loop on 500-row pages; ``raw`` gives the rows as received, for columnar writers.
    """

    __slots__ = ("_rows",)

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self._rows = tuple(rows)

    @classmethod
    def _from_json_list(cls, value: Any, model: str, path: str) -> LeadRows:
        if not isinstance(value, list):
            raise ResponseShapeError(
                f"Cleanlist answered with {model}.{path} as {type(value).__name__}, not a list.",
                model=model,
                field=path,
            )
        try:
            # C-speed check of every row's lead_id (~30 ns a row); the loop below runs only to
            # name the offending row.
            if set(map(type, map(_LEAD_ID, value))) <= {str}:
                return cls(value)
        except (KeyError, TypeError, IndexError):
            pass
        for i, row in enumerate(value):
            if type(row) is not dict or type(row.get("lead_id")) is not str:
                field_path = f"{path}[{i}].lead_id" if type(row) is dict else f"{path}[{i}]"
                raise ResponseShapeError(
                    f"Cleanlist answered with a lead without a string `{field_path}` in {model}. "
                    "The API contract may have changed; upgrade cleanlist-pipeline or report it.",
                    model=model,
                    field=field_path,
                )
        return cls(value)

    @property
    def raw(self) -> tuple[Mapping[str, Any], ...]:
        """The rows exactly as the API sent them (dicts; treat them as read-only)."""
        return self._rows

    def __len__(self) -> int:
        return len(self._rows)

    @typing.overload
    def __getitem__(self, index: int) -> Lead: ...

    @typing.overload
    def __getitem__(self, index: slice) -> tuple[Lead, ...]: ...

    def __getitem__(self, index: int | slice) -> Lead | tuple[Lead, ...]:
        if isinstance(index, slice):
            return tuple(Lead._parse(row, "") for row in self._rows[index])
        return Lead._parse(self._rows[index], "")

    def __iter__(self) -> Iterator[Lead]:
        parse = Lead._parse
        for row in self._rows:
            yield parse(row, "")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LeadRows):
            return self._rows == other._rows
        if isinstance(other, tuple | list):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(row["lead_id"] for row in self._rows))

    def __repr__(self) -> str:
        return f"LeadRows({len(self._rows)} leads)"  # rows hold personal data: never shown


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadsPage(_Envelope):
    """One page of a list's leads; ``task_id`` is the cohort handle for exactly this page."""

    list_id: str
    leads: LeadRows
    total: int
    cursor: str | None = None
    extra: Mapping[str, Any] = _extra()
