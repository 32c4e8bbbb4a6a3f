"""Typed answers of the Cleanlist API: frozen dataclasses built by ``Model.from_json``.

Field lists follow the OpenAPI schema of the official SDK (``cleanlist-ai`` 2.0.0). Parsing is
*tolerant of extras* (unknown fields land in ``.extra``, so a server that adds fields does not break
us) and *strict on required fields*: a missing or mistyped required field raises
``ResponseShapeError`` naming the model and the field, never a bare ``KeyError``.

>>> LeadList.from_json({"list_id": "l1", "name": "Q3", "lead_count": 0, "enriched_count": 0}).name
'Q3'
"""

from __future__ import annotations

import dataclasses
import operator
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, get_args, get_origin

from cleanlist_pipeline.api.errors import ResponseShapeError

__all__ = [
    "AddLeadsResult",
    "CostEstimate",
    "CreditsBalance",
    "CsvImportResult",
    "DeleteListResult",
    "EnrichByTaskEntity",
    "EnrichByTaskResult",
    "EnrichListResult",
    "KeyValidation",
    "Lead",
    "LeadList",
    "LeadRows",
    "LeadsPage",
    "ListSummary",
    "ListsPage",
    "Model",
    "RemoveLeadsResult",
    "SingleEnrichmentResult",
    "WhoAmI",
    "WorkflowStatus",
]

M = TypeVar("M", bound="Model")
_MISSING = object()
_NONE_TYPE = type(None)

#: Workflow statuses after which nothing changes any more (contract §3). Unknown values are
#: treated as still running, since the schema types `status` as a free string.
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    name: str
    required: bool
    nullable: bool
    kind: Any  # a plain type, a Model subclass, or ("list", inner) / ("dict",)


def _spec_for(tp: Any) -> tuple[bool, Any]:
    """Return (nullable, kind) for an annotation like ``str | None`` or ``tuple[Lead, ...]``."""
    nullable = False
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not _NONE_TYPE]
        nullable = len(args) != len(get_args(tp))
        if len(args) == 1:
            tp = args[0]
            origin = get_origin(tp)
        else:  # e.g. int | float
            return nullable, tuple(args)
    if origin is tuple:
        return nullable, ("list", get_args(tp)[0])
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return nullable, ("dict",)
    if tp is Any:
        return nullable, ("any",)
    return nullable, tp


def _type_name(kind: Any) -> str:
    if isinstance(kind, tuple):
        if kind and kind[0] == "list":
            return "list"
        if kind and kind[0] == "dict":
            return "object"
        return " or ".join(_type_name(k) for k in kind)
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(
        kind, getattr(kind, "__name__", str(kind))
    )


def _check(kind: Any, value: Any, model: str, path: str) -> Any:
    """Validate (and for nested models, build) one value; raise ResponseShapeError if wrong."""
    if isinstance(kind, tuple):
        tag = kind[0] if kind else None
        if tag == "any":
            return value
        if tag == "dict":
            if isinstance(value, Mapping):
                return value
        elif tag == "list":
            if isinstance(value, list):
                inner = kind[1]
                return tuple(_check(inner, v, model, f"{path}[{i}]") for i, v in enumerate(value))
        else:
            for alternative in kind:
                try:
                    return _check(alternative, value, model, path)
                except ResponseShapeError:
                    continue
    elif kind is LeadRows:
        return LeadRows._from_json_list(value, model, path)
    elif isinstance(kind, type) and issubclass(kind, Model):
        if isinstance(value, Mapping):
            return kind._parse(value, f"{path}.")
    elif kind is Any:
        return value
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(value, kind):
        return value
    raise ResponseShapeError(
        f"Cleanlist answered with an unexpected shape: {model}.{path} should be "
        f"{_type_name(kind)}, got {type(value).__name__}. The API contract may have changed; "
        "upgrade cleanlist-pipeline or report it.",
        model=model,
        field=path,
    )


class Model:
    """Base of all response models: ``from_json`` parsing plus ``.extra`` for unknown fields."""

    __slots__ = ()
    _specs: ClassVar[tuple[_FieldSpec, ...]]
    _known: ClassVar[frozenset[str]]

    @classmethod
    def _build_specs(cls) -> None:
        hints = typing.get_type_hints(cls)
        specs = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name == "extra":
                continue
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            nullable, kind = _spec_for(hints[f.name])
            specs.append(_FieldSpec(f.name, required, nullable, kind))
        cls._specs = tuple(specs)
        cls._known = frozenset(s.name for s in specs)

    @classmethod
    def from_json(cls: type[M], data: Any) -> M:
        """Build the model from decoded JSON; raise ``ResponseShapeError`` on a bad shape."""
        if not isinstance(data, Mapping):
            raise ResponseShapeError(
                f"Cleanlist answered with {type(data).__name__} where a {cls.__name__} object "
                "was expected.",
                model=cls.__name__,
                field="",
            )
        return cls._parse(data, "")

    @classmethod
    def _parse(cls: type[M], data: Mapping[str, Any], prefix: str) -> M:
        if "_specs" not in cls.__dict__:
            cls._build_specs()
        values: dict[str, Any] = {}
        name = cls.__name__
        for spec in cls._specs:
            raw = data.get(spec.name, _MISSING)
            if raw is _MISSING:
                if spec.required:
                    raise ResponseShapeError(
                        f"Cleanlist answered without the required field "
                        f"`{prefix}{spec.name}` of {name}. The API contract may have changed; "
                        "upgrade cleanlist-pipeline or report it.",
                        model=name,
                        field=prefix + spec.name,
                    )
                continue
            if raw is None:
                if not spec.nullable:
                    if spec.required:
                        raise ResponseShapeError(
                            f"Cleanlist answered with null for the required field "
                            f"`{prefix}{spec.name}` of {name}.",
                            model=name,
                            field=prefix + spec.name,
                        )
                    continue  # optional non-nullable: keep the default
                values[spec.name] = None
                continue
            values[spec.name] = _check(spec.kind, raw, name, prefix + spec.name)
        extra = {k: v for k, v in data.items() if k not in cls._known}
        return cls(**values, extra=extra)  # type: ignore[call-arg]

    def to_dict(self) -> dict[str, Any]:
        """The documented fields as a plain dict (nested models and tuples converted)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.name == "extra":
                continue
            out[f.name] = _plain(getattr(self, f.name))
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _extra() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class _Envelope(Model):
    """Optional fields the API puts beside many payloads (contract §1)."""

    task_id: str | None = None
    timestamp_ms: int | None = None
    agent_instructions: str | None = None
    usage: Any = None
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadList(_Envelope):
    """ListDetailResponse: one list (create, get, update). ``reused`` is true on create-reuse."""

    list_id: str
    name: str
    lead_count: int
    enriched_count: int
    description: str | None = None
    folder_id: str | None = None
    created_at: str | None = None
    reused: bool = False
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSummary(Model):
    """One entry of GET /lead-lists."""

    list_id: str
    name: str
    lead_count: int
    folder_id: str | None = None
    created_at: str | None = None
    owner_name: str | None = None
    visibility: str | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListsPage(_Envelope):
    """One page of GET /lead-lists; ``cursor`` is opaque and null on the last page."""

    lists: tuple[ListSummary, ...]
    total: int
    cursor: str | None = None
    extra: Mapping[str, Any] = _extra()


_LEAD_OPTIONAL = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "title",
    "company",
    "location",
    "linkedin_url",
    "provider",
)


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


class LeadRows(Sequence[Lead]):
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


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteListResult(_Envelope):
    """DELETE /lead-lists/{id}; ``already_deleted`` is set by the client when a retry saw 404."""

    list_id: str
    deleted: bool
    already_deleted: bool = False
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class AddLeadsResult(Model):
    """POST …/leads, summed over the client's ≤1000-id calls.

    ``idempotency_replayed`` is true when any call was answered from the server's idempotency
    cache (a repeat of an earlier request with the same key: nothing was added again).
    """

    list_id: str
    added: int
    skipped_duplicates: int
    created: int | None = None
    credits_charged: float | None = None
    idempotency_replayed: bool = False
    calls: int = 1
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveLeadsResult(Model):
    """DELETE …/leads, summed over the client's ≤100-id calls."""

    list_id: str
    removed: int
    calls: int = 1
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class CsvImportResult(_Envelope):
    """POST …/csv-import. ``sample_skip_rows`` are CSV record numbers with the header as 1."""

    list_id: str
    rows_parsed: int
    rows_imported: int
    rows_skipped: int
    skip_reasons: Mapping[str, Any] | None = None
    sample_skip_rows: tuple[int, ...] | None = None
    workflow_id: str | None = None
    enrichment_status_url: str | None = None
    idempotency_replayed: bool = False
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class CostEstimate(Model):
    """POST /credits/estimate: a single-use quote; ``expires_at`` is epoch seconds."""

    quote_id: str
    expires_at: int
    estimated_cost: int | float
    tool: str
    row_count: int
    filter_hash: str
    available_credits: int | float
    sufficient: bool
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrichListResult(_Envelope):
    """POST /enrichment/bulk: an async workflow; poll ``poll_url`` or ``workflow_id``."""

    workflow_id: str
    status: str
    total_leads: int
    estimated_cost: int | float
    credits_reserved: int | float
    poll_url: str
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrichByTaskEntity(Model):
    """One entity of a by-task enrichment (company cohorts carry an inline ``company``)."""

    entity_id: str
    status: str
    error: str | None = None
    company: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrichByTaskResult(_Envelope):
    """POST /enrichment/by-task: person cohorts get a ``workflow_id``; companies run inline."""

    entity_kind: str
    status: str
    total_entities: int
    credits_reserved: int | float
    results: tuple[EnrichByTaskEntity, ...]
    workflow_id: str | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class SingleEnrichmentResult(Model):
    """Inline lead of a finished single-person run (always null for bulk/CSV runs)."""

    lead_id: str
    status: str
    full_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    email_status: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    title: str | None = None
    company: str | None = None
    enrichment_type: str | None = None
    provider: str | None = None
    extra: Mapping[str, Any] = _extra()

    def __repr__(self) -> str:
        return f"SingleEnrichmentResult(lead_id={self.lead_id!r}, status={self.status!r}, …)"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowStatus(_Envelope):
    """GET /enrichment/status/{handle}. ``is_terminal`` is true for completed/failed/cancelled."""

    workflow_id: str
    status: str
    progress: int | float | None = None
    total: int | None = None
    processed: int | None = None
    completed: int | None = None
    failed: int | None = None
    enrichment_type: str | None = None
    lead_list_id: str | None = None
    summary: Mapping[str, Any] | None = None
    refund_status: str | None = None
    refund_message: str | None = None
    result: SingleEnrichmentResult | None = None
    credits_charged: int | float | None = None
    credits_refunded: int | float | None = None
    extra: Mapping[str, Any] = _extra()

    @property
    def is_terminal(self) -> bool:
        """True once the workflow can no longer change (unknown statuses count as running)."""
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditsBalance(_Envelope):
    """GET /credits/balance."""

    organization_id: str
    credits: int | float
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class WhoAmI(_Envelope):
    """GET /whoami: who the key belongs to and what it may do (``user_email`` is masked)."""

    user_email: str | None
    organization_id: str
    auth_type: str
    scopes: tuple[str | None, ...]
    tier: str
    features: tuple[str | None, ...]
    user_id: str | None = None
    user_name: str | None = None
    organization_name: str | None = None
    appsumo_tier: int | None = None
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyValidation(Model):
    """GET /api/v1/public/auth/validate-key (legacy, v1 only)."""

    valid: bool
    user_id: str | None = None
    organization_id: str | None = None
    extra: Mapping[str, Any] = _extra()
