"""Account answers: credit balance, ``whoami`` and the legacy key check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleanlist_pipeline.api.models.base import Model, _Envelope, _extra

__all__ = ["CreditsBalance", "KeyValidation", "WhoAmI"]


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
