"""A ``CleanlistClient`` from ``Settings``: the one place a configured client is built.

The Dagster resource (``dagster_layer.resources``), the Airflow hook (``airflow.hook``) and the
Dagster-free ``snapshot`` command (``cli.direct_snapshot``) all build their clients here, so the
timeouts, retry policy, rate-limit budget (one SQLite file in the state folder unless set
otherwise) and idempotency namespace are the same whichever way a call is made — a CLI snapshot
and a running pipeline share one request budget. Each caller decides *where* calls go (its
``target``: the resource pins the deployment's key to its origin, the hook reads an Airflow
connection); without one, ``settings`` decide: its API key and base URL, or with no key the
embedded sandbox. Orchestrator-free: imported by both orchestrators' layers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx

from cleanlist_pipeline import contract
from cleanlist_pipeline.api.client import CleanlistClient
from cleanlist_pipeline.api.ratelimit import RateLimitConfig
from cleanlist_pipeline.api.retry import RetryPolicy
from cleanlist_pipeline.settings import MODE_API, MODE_EMBEDDED, Settings, default_state_dir

__all__ = [
    "EMBEDDED_RATE_LIMIT",
    "client_from_settings",
    "embedded_target",
    "rate_limit_from_settings",
    "settings_target",
    "state_dir_of",
]

#: The embedded sandbox has its limits off; ours stays on (same code path) but never binds.
EMBEDDED_RATE_LIMIT = 100_000

#: ``(mode, base_url, api_key)``: where a client's calls go and with which key.
Target = tuple[str, str, str]


def state_dir_of(settings: Settings) -> Path:
    """The folder of local state: the embedded sandbox's database, the rate limiter's file."""
    return Path(settings.state_dir or default_state_dir({}))


def embedded_target(settings: Settings) -> Target:
    """Start (once per process) the embedded sandbox over the state folder's file; its target.

    Every process that needs it starts its own server thread; they agree because all of the
    sandbox's state is in the one SQLite file.
    """
    from cleanlist_pipeline.sandbox.embedded import EMBEDDED_API_KEY, ensure_embedded_sandbox

    server = ensure_embedded_sandbox(
        state_dir_of(settings), enrich_seconds=settings.sandbox_enrich_seconds
    )
    return MODE_EMBEDDED, server.origin + contract.V1_PREFIX, EMBEDDED_API_KEY


def settings_target(settings: Settings) -> Target:
    """``settings``' own target: its key to its base URL, or the embedded sandbox without a key."""
    if settings.embedded:
        return embedded_target(settings)
    return MODE_API, settings.api_base_url, str(settings.api_key)


def rate_limit_from_settings(settings: Settings, *, embedded: bool) -> RateLimitConfig | None:
    """The limiter every process on this key shares (``None`` when a limit is 0).

    Against the embedded sandbox the limiter stays on (the same code path) with limits that
    never bind.
    """
    per_key, per_org = settings.rate_limit_per_key, settings.rate_limit_per_org
    if per_key <= 0 or per_org <= 0:
        return None
    if embedded:
        per_key = per_org = EMBEDDED_RATE_LIMIT
    return RateLimitConfig(
        per_key=per_key,
        per_org=per_org,
        window_seconds=settings.rate_limit_window_seconds,
        safety_margin=settings.rate_limit_safety_margin,
        backend=settings.rate_limit_backend,
        db_path=settings.rate_limit_db_path
        or str(state_dir_of(settings) / "cleanlist-ratelimit.sqlite"),
        redis_url=settings.redis_url,
        org_id=settings.org_id,
    )


def client_from_settings(
    settings: Settings,
    *,
    target: Target | None = None,
    logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    close_on_exit: bool = True,
) -> CleanlistClient:
    """A new client configured by ``settings``, calling ``target`` (default: ``settings_target``).

    The caller closes it (``with client_from_settings(settings) as client:``).
    """
    mode, base_url, key = target or settings_target(settings)
    return CleanlistClient(
        key,
        base_url,
        timeout=httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds),
        retry=RetryPolicy(
            max_attempts=settings.max_attempts,
            max_total_wait=settings.max_total_retry_wait_seconds,
        ),
        rate_limit=rate_limit_from_settings(settings, embedded=mode == MODE_EMBEDDED),
        idempotency_namespace=settings.namespace,
        logger=logger,
        close_on_exit=close_on_exit,
    )
