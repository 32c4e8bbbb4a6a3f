"""Which API scopes the connector uses, what each enables, and how to learn a key's scopes.

Every endpoint checks exactly one scope (contract §1). A key may legitimately hold only some of
them — an import-only key, a key without ``credits:read`` — so the connector says up front
(``status``, ``plan``) what the missing ones disable, and adds the same sentence to an
``insufficient_scope`` failure. A key's scopes come from ``GET /whoami`` (free, needs no scope,
lists ``scopes``); failing that, each 403 ``insufficient_scope`` names the required scope and,
where the server says, the granted ones.

>>> missing_scopes(["lists:read", "lists:write"])
['enrich:write', 'enrich:read', 'credits:read']
>>> "snapshots" in disabled_by("lists:read")
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cleanlist_pipeline.api.errors import APIError, InsufficientScopeError
from cleanlist_pipeline.contract import (
    SCOPE_CREDITS_READ,
    SCOPE_ENRICH_READ,
    SCOPE_ENRICH_WRITE,
    SCOPE_GRANTS,
    SCOPE_LISTS_READ,
    SCOPE_LISTS_WRITE,
)

__all__ = [
    "CONNECTOR_SCOPES",
    "KeyCheck",
    "KeyScopes",
    "disabled_by",
    "key_scopes",
    "missing_scopes",
    "scope_advice",
    "scopes_of",
]

#: What the connector cannot do without each scope it uses, in the order ``status`` lists them.
CONNECTOR_SCOPES: dict[str, str] = {
    SCOPE_LISTS_READ: (
        "snapshots (reading a list's leads), the lists catalog, importing into a list given "
        "by list_id, enrich-later of only the leads still missing data"
    ),
    SCOPE_LISTS_WRITE: "CSV import (and creating the target list by name)",
    SCOPE_ENRICH_WRITE: "enrichment: import with dispatch_enrichment, and enrich-later",
    SCOPE_ENRICH_READ: "watching enrichment workflows (the enrichment sensor's status polls)",
    SCOPE_CREDITS_READ: (
        "the spend guard's quote: import with enrichment runs unquoted, and is refused when "
        "max_credits is set; enrich-later is refused (its calls need a quote); no balance in "
        "status"
    ),
}


def disabled_by(scope: str) -> str:
    """What the connector cannot do without ``scope`` (the API's grant for scopes it does
    not use itself)."""
    return CONNECTOR_SCOPES.get(scope) or SCOPE_GRANTS.get(scope) or "the calls that check it"


def missing_scopes(granted: Iterable[str]) -> list[str]:
    """The connector's scopes not in ``granted``, in :data:`CONNECTOR_SCOPES` order."""
    have = set(granted)
    return [s for s in CONNECTOR_SCOPES if s not in have]


@dataclass(frozen=True)
class KeyScopes:
    """A key's scopes as the API reported them, or why they could not be learned."""

    granted: tuple[str, ...] | None
    error: str | None = None

    @property
    def missing(self) -> list[str]:
        """The connector's scopes the key lacks (empty when unknown)."""
        return missing_scopes(self.granted) if self.granted is not None else []


def scopes_of(who: Any) -> KeyScopes:
    """The scopes a ``GET /whoami`` answer lists."""
    scopes = getattr(who, "scopes", None)
    if scopes is None:
        return KeyScopes(None, "whoami did not list scopes")
    return KeyScopes(tuple(str(s) for s in scopes if s))


@dataclass(frozen=True)
class KeyCheck:
    """What ``status``/``plan`` learned about the key: who it is, its balance (None when the key
    may not read it), its scopes, and the connector's scopes it lacks with what each disables."""

    who: Any = None
    balance: Any = None
    granted: tuple[str, ...] | None = None
    missing: dict[str, str] = field(default_factory=dict)
    #: Why the scopes are unknown (``whoami`` failed), if they are.
    unknown: str | None = None


def key_scopes(client: Any) -> KeyScopes:
    """Ask ``GET /whoami`` (free, no scope needed) for the key's scopes.

    An API error (a deployment without ``whoami``, a revoked key) is returned, not raised:
    ``status`` shows what it can and goes on.
    """
    try:
        me = client.whoami()
    except APIError as exc:
        return KeyScopes(None, f"HTTP {exc.status} {exc.code or ''}".strip())
    return scopes_of(me)


def scope_advice(exc: BaseException) -> str | None:
    """For a 403 ``insufficient_scope``: one sentence on what the missing scope disables in the
    connector; None for any other error.

    >>> err = InsufficientScopeError("x", status=403, details={"required": ["lists:read"]})
    >>> scope_advice(err).startswith("Without 'lists:read' the connector cannot do snapshots")
    True
    """
    if not isinstance(exc, InsufficientScopeError):
        return None
    required = exc.required_scopes
    if not required:
        return None
    scope = required[0]
    return f"Without {scope!r} the connector cannot do {disabled_by(scope)}."
