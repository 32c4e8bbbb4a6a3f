"""``CleanlistResource``: the Dagster resource that holds settings and hands out API clients.

Two modes, decided by the API key:

* **api** — a key is configured (``EnvVar("CLEANLIST_API_KEY")``): talk to ``base_url``
  (default ``https://api.cleanlist.ai/api/v1/public``; ``CLEANLIST_BASE_URL`` overrides).
* **embedded-sandbox** — no key: start (once per process) the embedded sandbox over
  ``$DAGSTER_HOME/cleanlist-sandbox.sqlite`` and talk to it with its fixed local key. Every log
  line and ``describe_target()`` say so, so nobody mistakes a demo for a real import.

Inside a run the resource opens one ``CleanlistClient`` (one ``httpx.Client`` connection pool and
rate-limiter connection) at setup and closes it at teardown; ``get_client()`` hands out that client
made with ``close_on_exit=False``, so ``with resource.get_client() as c:`` is right both in runs
and outside them (sensors, CLI), where a fresh client is returned and the ``with`` block closes it.

>>> resource = CleanlistResource(api_key=None)
>>> resource.mode
'embedded-sandbox'
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
from pydantic import Field, PrivateAttr

from cleanlist_pipeline.api.client import DEFAULT_BASE_URL, V1_PREFIX, CleanlistClient
from cleanlist_pipeline.api.ratelimit import RateLimitConfig
from cleanlist_pipeline.api.retry import RetryPolicy

__all__ = [
    "EMBEDDED_RATE_LIMIT",
    "CleanlistResource",
    "cleanlist_resource_from_env",
]

MODE_EMBEDDED = "embedded-sandbox"
MODE_API = "api"
#: The embedded sandbox has its limits off; ours stays on (same code path) but never binds.
EMBEDDED_RATE_LIMIT = 100_000

_logger = logging.getLogger("cleanlist_pipeline.api")


class _PrefixedLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Puts ``[cleanlist <mode>]`` in front of every message from a resource-made client."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"{self.extra['prefix']} {msg}", kwargs  # type: ignore[index]


def _resolve(value: Any) -> str | None:
    """A config value as a plain string; an unresolved ``EnvVar`` is read from the environment."""
    if value is None:
        return None
    if isinstance(value, dg.EnvVar):
        return value.get_value()
    return str(value) or None


class CleanlistResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Cleanlist API access for assets, ops and sensors.

    Leave ``api_key`` unset to run against the embedded sandbox. Rate limits count requests
    per ``rate_limit_window_seconds`` across every process on the machine (or Redis);
    0 disables the limiter.
    """

    api_key: str | None = Field(
        default=None,
        description="Cleanlist API key (clapi_…). Pass EnvVar('CLEANLIST_API_KEY'); "
        "leave unset for the embedded sandbox.",
        json_schema_extra={"dagster__is_secret": True},
        repr=False,  # keep the key out of reprs that reach logs and tracebacks
    )
    base_url: str | None = Field(
        default=None,
        description="API base URL including the prefix (…/api/v1/public or …/api/v2). "
        f"Default {DEFAULT_BASE_URL}. http:// is refused except on loopback.",
    )
    timeout_seconds: float = Field(default=30.0, description="Read/write/pool timeout per request.")
    connect_timeout_seconds: float = Field(default=10.0, description="Connect timeout.")
    max_attempts: int = Field(default=6, description="Attempts per call, the first included.")
    max_total_retry_wait_seconds: float = Field(
        default=120.0, description="Most seconds one call may sleep between retries."
    )
    rate_limit_per_key: int = Field(
        default=30, description="Requests per window per key (documented: 30/min). 0: no limiter."
    )
    rate_limit_per_org: int = Field(
        default=60, description="Requests per window per organization (documented: 60/min)."
    )
    rate_limit_window_seconds: float = Field(default=60.0, description="Rate-limit window.")
    rate_limit_safety_margin: int = Field(
        default=1, description="Taken off each limit against clock skew with the server."
    )
    rate_limit_backend: str = Field(
        default="sqlite", description="'sqlite' (one machine), 'redis' (many) or 'memory'."
    )
    rate_limit_db_path: str | None = Field(
        default=None,
        description="SQLite limiter file; default $DAGSTER_HOME/cleanlist-ratelimit.sqlite.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for backend 'redis' (may hold a password: use an EnvVar).",
        repr=False,
    )
    org_id: str | None = Field(
        default=None,
        description="Organization id: lets several keys of one org share the per-org budget.",
    )
    idempotency_namespace: str = Field(
        default="default",
        description="Separates derived idempotency keys of deployments sharing an org.",
    )

    _run_client: CleanlistClient | None = PrivateAttr(default=None)

    # --- mode & description ------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """``"embedded-sandbox"`` without an API key, else ``"api"``."""
        return MODE_API if self._api_key() else MODE_EMBEDDED

    @property
    def log_prefix(self) -> str:
        """``[cleanlist embedded-sandbox]`` or ``[cleanlist api]``."""
        return f"[cleanlist {self.mode}]"

    def describe_target(self) -> str:
        """Where calls go, for logs and metadata (never the key), e.g.
        ``"api at https://api.cleanlist.ai/api/v1/public"``."""
        return _describe(self.mode, self._base_url(self.mode))

    def target_metadata(self) -> dict[str, str]:
        """``{"cleanlist_mode", "cleanlist_base_url"}`` for materialization metadata."""
        mode = self.mode
        return {"cleanlist_mode": mode, "cleanlist_base_url": self._base_url(mode)}

    # --- clients -----------------------------------------------------------------------------

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Open the run's shared client (one connection pool for every step in the process)."""
        self._run_client = self._new_client(close_on_exit=False)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Close the run's client."""
        if self._run_client is not None:
            self._run_client.close()
            self._run_client = None

    def get_client(self) -> CleanlistClient:
        """The run's client (closed by the resource at teardown), or outside a run a new one
        that the caller closes — ``with resource.get_client() as client:`` fits both."""
        if self._run_client is not None:
            if self._run_client.closed:  # step code called close() itself: open a new one
                self._run_client = self._new_client(close_on_exit=False)
            return self._run_client
        return self._new_client()

    def _new_client(self, close_on_exit: bool = True) -> CleanlistClient:
        mode = self.mode
        if mode == MODE_EMBEDDED:
            base_url, key = self._embedded_target()
        else:
            base_url, key = self._api_base_url(), self._api_key() or ""
        log = _PrefixedLogger(_logger, {"prefix": self.log_prefix})
        client = CleanlistClient(
            key,
            base_url,
            timeout=httpx.Timeout(self.timeout_seconds, connect=self.connect_timeout_seconds),
            retry=RetryPolicy(
                max_attempts=self.max_attempts,
                max_total_wait=self.max_total_retry_wait_seconds,
            ),
            rate_limit=self._rate_limit_config(mode),
            idempotency_namespace=self.idempotency_namespace,
            logger=log,
            close_on_exit=close_on_exit,
        )
        log.debug("client ready: %s", _describe(mode, base_url))
        return client

    def _rate_limit_config(self, mode: str) -> RateLimitConfig | None:
        if self.rate_limit_per_key <= 0 or self.rate_limit_per_org <= 0:
            return None
        per_key, per_org = self.rate_limit_per_key, self.rate_limit_per_org
        if mode == MODE_EMBEDDED:
            per_key = per_org = EMBEDDED_RATE_LIMIT
        backend = self.rate_limit_backend
        if backend not in ("sqlite", "redis", "memory"):
            raise dg.DagsterInvalidConfigError(
                f"rate_limit_backend must be sqlite, redis or memory, not {backend!r}", [], None
            )
        return RateLimitConfig(
            per_key=per_key,
            per_org=per_org,
            window_seconds=self.rate_limit_window_seconds,
            safety_margin=self.rate_limit_safety_margin,
            backend=backend,  # type: ignore[arg-type]
            db_path=self.rate_limit_db_path,
            redis_url=_resolve(self.redis_url),
            org_id=self.org_id,
        )

    # Dagster rebuilds a resource from run config when a launch supplies any of its fields, and
    # the values given to the constructor (the EnvVar key among them) are then gone. Falling back
    # to the environment keeps such a run on the real API instead of silently going embedded.
    def _api_key(self) -> str | None:
        return _resolve(self.api_key) or os.environ.get("CLEANLIST_API_KEY") or None

    def _api_base_url(self) -> str:
        return _resolve(self.base_url) or os.environ.get("CLEANLIST_BASE_URL") or DEFAULT_BASE_URL

    def _base_url(self, mode: str) -> str:
        return self._embedded_target()[0] if mode == MODE_EMBEDDED else self._api_base_url()

    def _embedded_target(self) -> tuple[str, str]:
        from cleanlist_pipeline.sandbox.embedded import EMBEDDED_API_KEY, ensure_embedded_sandbox

        home = os.environ.get("DAGSTER_HOME")
        if not home:
            home = str(Path(tempfile.gettempdir()) / "cleanlist-embedded-sandbox")
            warnings.warn(
                "DAGSTER_HOME is not set: the embedded Cleanlist sandbox keeps its state in "
                f"{home}, and Dagster's own instance is temporary. Set DAGSTER_HOME to keep both.",
                stacklevel=3,
            )
        server = ensure_embedded_sandbox(Path(home))
        return server.origin + V1_PREFIX, EMBEDDED_API_KEY


def _describe(mode: str, base_url: str) -> str:
    if mode == MODE_EMBEDDED:
        return f"{MODE_EMBEDDED} at {base_url} (local; no real credits)"
    return f"{MODE_API} at {base_url}"


def cleanlist_resource_from_env(
    environ: Mapping[str, str] | None = None, **overrides: Any
) -> CleanlistResource:
    """The resource the definitions use, configured from the environment.

    ``EnvVar("CLEANLIST_API_KEY")`` is passed only when the variable is set (an unset ``EnvVar``
    makes Dagster raise at launch); without it the resource runs in embedded-sandbox mode.
    ``CLEANLIST_BASE_URL`` and ``CLEANLIST_NAMESPACE`` are honoured the same way, and
    ``CLEANLIST_RATE_LIMIT_PER_KEY`` / ``CLEANLIST_RATE_LIMIT_PER_ORG`` (integers; 0 disables the
    limiter) set the limits without launch-time run config.
    """
    env = os.environ if environ is None else environ
    kwargs: dict[str, Any] = {}
    if env.get("CLEANLIST_API_KEY"):
        kwargs["api_key"] = dg.EnvVar("CLEANLIST_API_KEY")
        if env.get("CLEANLIST_BASE_URL"):
            kwargs["base_url"] = dg.EnvVar("CLEANLIST_BASE_URL")
    if env.get("CLEANLIST_NAMESPACE"):
        kwargs["idempotency_namespace"] = env["CLEANLIST_NAMESPACE"]
    for var, field in (
        ("CLEANLIST_RATE_LIMIT_PER_KEY", "rate_limit_per_key"),
        ("CLEANLIST_RATE_LIMIT_PER_ORG", "rate_limit_per_org"),
    ):
        if env.get(var):
            try:
                kwargs[field] = int(env[var])
            except ValueError:
                raise ValueError(f"{var} must be a whole number, not {env[var]!r}") from None
    kwargs.update(overrides)
    return CleanlistResource(**kwargs)
