"""The parsing machinery behind every response model: ``Model.from_json`` and its field checks.

Parsing is *tolerant of extras* (unknown fields land in ``.extra``, so a server that adds fields
does not break us) and *strict on required fields*: a missing or mistyped required field raises
``ResponseShapeError`` naming the model and the field, never a bare ``KeyError``.
"""

from __future__ import annotations

import abc
import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, get_args, get_origin

from cleanlist_pipeline.api.errors import ResponseShapeError

__all__ = ["ListField", "Model"]

M = TypeVar("M", bound="Model")
_MISSING = object()
_NONE_TYPE = type(None)


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
    elif isinstance(kind, type) and issubclass(kind, ListField):
        return kind._from_json_list(value, model, path)
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


class ListField(abc.ABC):
    """Base of a field type that parses a whole JSON list itself (e.g. a page's leads)."""

    __slots__ = ()

    @classmethod
    @abc.abstractmethod
    def _from_json_list(cls, value: Any, model: str, path: str) -> Any:
        """The parsed field for the JSON list ``value`` at ``path`` of ``model``."""


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
