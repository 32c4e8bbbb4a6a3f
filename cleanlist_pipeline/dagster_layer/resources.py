"""``CleanlistResource``: the Dagster resource that holds settings and hands out API clients.

Two modes, decided by the API key the deployment configured:

* **api** — a key: talk to ``base_url`` (default ``https://api.cleanlist.ai/api/v1/public``).
* **embedded-sandbox** — no key: start (once per process) the embedded sandbox over
  ``<state dir>/cleanlist-sandbox.sqlite`` and talk to it with its fixed local key. Every log
  line and ``describe_target()`` say so, so nobody mistakes a demo for a real import.

**Where the key may go.** ``CleanlistResource.from_settings(settings)`` pins the deployment's key
and origin in the resource's *class* (a subclass made per settings), where run config cannot
reach them: Dagster rebuilds a resource from run config with ``self.__class__(**values)``, so
the pin survives, while the key is never a config value the Launchpad shows or replaces. A
run-config ``base_url`` on another origin than the pinned one is refused unless that run config
also brings its own ``api_key`` — otherwise anyone able to launch a run could send the
production key to a host of their choosing. Nothing here falls back to the environment: with
two instances in one code location that would also hand one instance's key to the other.

Inside a run the resource opens one ``CleanlistClient`` (one connection pool and rate-limiter
connection) at setup and closes it at teardown; ``get_client()`` hands out that client made with
``close_on_exit=False``, so ``with resource.get_client() as c:`` is right both in runs and
outside them (sensors, CLI), where a fresh client is returned and the ``with`` block closes it.

>>> resource = CleanlistResource()
>>> resource.mode
'embedded-sandbox'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import dagster as dg
from pydantic import Field, PrivateAttr

from cleanlist_pipeline import contract
from cleanlist_pipeline.api.client import CleanlistClient
from cleanlist_pipeline.client_factory import (
    EMBEDDED_RATE_LIMIT,
    client_from_settings,
    embedded_target,
)
from cleanlist_pipeline.settings import (
    MODE_API,
    MODE_EMBEDDED,
    Names,
    Settings,
    default_state_dir,
    origin_of,
)

__all__ = [
    "EMBEDDED_RATE_LIMIT",
    "CleanlistResource",
    "TargetRefused",
    "cleanlist_of",
    "cleanlist_resource_from_env",
]


_logger = logging.getLogger("cleanlist_pipeline.api")


class TargetRefused(dg.DagsterInvalidConfigError):
    """Run config asked to send the deployment's key somewhere the deployment did not say."""

    def __init__(self, message: str) -> None:
        super().__init__(message, [], None)


@dataclass(frozen=True)
class Deployment:
    """What the deployment pinned: the key (or none: embedded), its origin, where state lives."""

    api_key: str | None
    base_url: str
    state_dir: str
    redis_url: str | None
    sandbox_enrich_seconds: float

    def __repr__(self) -> str:  # the key must never reach a repr
        mode = MODE_EMBEDDED if not self.api_key else MODE_API
        return f"Deployment({mode}, {self.base_url})"

    @classmethod
    def of(cls, settings: Settings) -> Deployment:
        return cls(
            api_key=settings.api_key or None,
            base_url=settings.api_base_url,
            state_dir=settings.state_dir or default_state_dir({}),
            redis_url=settings.redis_url,
            sandbox_enrich_seconds=settings.sandbox_enrich_seconds,
        )


_UNPINNED = Deployment(None, contract.DEFAULT_BASE_URL, "", None, 3.0)


class _PrefixedLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Puts ``[cleanlist <mode>]`` in front of every message from a resource-made client."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"{self.extra['prefix']} {msg}", kwargs  # type: ignore[index]


def _resolve(value: Any) -> str | None:
    """A config value as a plain string; an unresolved ``EnvVar`` is read through Dagster."""
    if value is None:
        return None
    if isinstance(value, dg.EnvVar):
        return value.get_value()
    return str(value) or None


class CleanlistResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Cleanlist API access for assets, ops and sensors.

    Build it with :meth:`from_settings`. Rate limits count requests per
    ``rate_limit_window_seconds`` across every process on the machine (or Redis); 0 disables
    the limiter. ``api_key`` and ``base_url`` are for run config that brings its own key (a
    test key, another region): the deployment's key is not a config value.
    """

    #: Pinned by :meth:`from_settings` on a per-settings subclass; ``None`` on the base class.
    deployment: ClassVar[Deployment | None] = None

    api_key: str | None = Field(
        default=None,
        description="An API key (clapi_…) for this run only; the deployment's own key is not "
        "shown or set here. Leave unset to use the deployment's key (or the embedded sandbox).",
        json_schema_extra={"dagster__is_secret": True},
        repr=False,  # keep the key out of reprs that reach logs and tracebacks
    )
    base_url: str | None = Field(
        default=None,
        description="API base URL including the prefix (…/api/v1/public or …/api/v2). Only the "
        "deployment's origin, unless api_key is given too. http:// is refused except on loopback.",
    )
    timeout_seconds: float = Field(default=30.0, description="Read/write/pool timeout per request.")
    connect_timeout_seconds: float = Field(default=10.0, description="Connect timeout.")
    max_attempts: int = Field(default=6, description="Attempts per call, the first included.")
    max_total_retry_wait_seconds: float = Field(
        default=120.0, description="Most seconds one call may sleep between retries."
    )
    rate_limit_per_key: int = Field(
        default=contract.RATE_LIMIT_PER_KEY,
        description="Requests per window per key (documented: 30/min). 0: no limiter.",
    )
    rate_limit_per_org: int = Field(
        default=contract.RATE_LIMIT_PER_ORG,
        description="Requests per window per organization (documented: 60/min).",
    )
    rate_limit_window_seconds: float = Field(
        default=contract.RATE_LIMIT_WINDOW_SECONDS, description="Rate-limit window."
    )
    rate_limit_safety_margin: int = Field(
        default=1, description="Taken off each limit against clock skew with the server."
    )
    rate_limit_backend: str = Field(
        default="sqlite", description="'sqlite' (one machine), 'redis' (many) or 'memory'."
    )
    rate_limit_db_path: str | None = Field(
        default=None,
        description="SQLite limiter file; default <state dir>/cleanlist-ratelimit.sqlite.",
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

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> CleanlistResource:
        """The resource for ``settings``, its key and origin pinned out of run config's reach.

        >>> CleanlistResource.from_settings(Settings()).mode
        'embedded-sandbox'
        """
        pinned = type(
            cls.__name__,
            (cls,),
            {
                "__module__": cls.__module__,
                "__qualname__": cls.__qualname__,
                "deployment": Deployment.of(settings),
            },
        )
        values: dict[str, Any] = {
            "timeout_seconds": settings.timeout_seconds,
            "connect_timeout_seconds": settings.connect_timeout_seconds,
            "max_attempts": settings.max_attempts,
            "max_total_retry_wait_seconds": settings.max_total_retry_wait_seconds,
            "rate_limit_per_key": settings.rate_limit_per_key,
            "rate_limit_per_org": settings.rate_limit_per_org,
            "rate_limit_window_seconds": settings.rate_limit_window_seconds,
            "rate_limit_safety_margin": settings.rate_limit_safety_margin,
            "rate_limit_backend": settings.rate_limit_backend,
            "rate_limit_db_path": settings.rate_limit_db_path,
            "org_id": settings.org_id,
            "idempotency_namespace": settings.namespace,
        }
        values.update(overrides)
        return pinned(**{k: v for k, v in values.items() if v is not None})

    # --- where calls go ----------------------------------------------------------------------

    def _deployment(self) -> Deployment:
        return type(self).deployment or _UNPINNED

    def _target(self) -> tuple[str, str, str]:
        """``(mode, base_url, key)`` for this run, refusing to send a pinned key elsewhere."""
        own_key = _resolve(self.api_key)
        own_url = _resolve(self.base_url)
        if own_key:  # run config brought its own key: it may go where that config says
            return MODE_API, own_url or contract.DEFAULT_BASE_URL, own_key
        deployment = self._deployment()
        if deployment.api_key:
            if own_url and origin_of(own_url) != origin_of(deployment.base_url):
                raise TargetRefused(
                    f"base_url {origin_of(own_url)} is not the API origin this deployment "
                    f"configured ({origin_of(deployment.base_url)}): the deployment's API key is "
                    "only sent there. Give api_key in the same run config to call another origin."
                )
            return MODE_API, own_url or deployment.base_url, deployment.api_key
        if own_url:
            raise TargetRefused(
                "base_url is set but no API key is: this deployment runs against the embedded "
                "sandbox. Give api_key in the same run config to call an API."
            )
        return (MODE_EMBEDDED, *self._embedded_target())

    @property
    def mode(self) -> str:
        """``"embedded-sandbox"`` without an API key, else ``"api"``."""
        if _resolve(self.api_key) or self._deployment().api_key:
            return MODE_API
        return MODE_EMBEDDED

    @property
    def log_prefix(self) -> str:
        """``[cleanlist embedded-sandbox]`` or ``[cleanlist api]``."""
        return f"[cleanlist {self.mode}]"

    def describe_target(self) -> str:
        """Where calls go, for logs and metadata (never the key), e.g.
        ``"api at https://api.cleanlist.ai/api/v1/public"``."""
        mode, base_url, _ = self._target()
        return _describe(mode, base_url)

    def target_metadata(self) -> dict[str, str]:
        """``{"cleanlist_mode", "cleanlist_base_url"}`` for materialization metadata."""
        mode, base_url, _ = self._target()
        return {"cleanlist_mode": mode, "cleanlist_base_url": base_url}

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
        mode, base_url, key = self._target()
        log = _PrefixedLogger(_logger, {"prefix": f"[cleanlist {mode}]"})
        client = client_from_settings(
            self._client_settings(),
            target=(mode, base_url, key),
            logger=log,
            close_on_exit=close_on_exit,
        )
        log.debug("client ready: %s", _describe(mode, base_url))
        return client

    def _client_settings(self) -> Settings:
        """This run's client configuration (run config over the deployment's) as ``Settings``."""
        limited = self.rate_limit_per_key > 0 and self.rate_limit_per_org > 0
        backend = self.rate_limit_backend
        if backend not in ("sqlite", "redis", "memory"):
            if limited:
                raise dg.DagsterInvalidConfigError(
                    f"rate_limit_backend must be sqlite, redis or memory, not {backend!r}", [], None
                )
            backend = "sqlite"  # no limiter: the backend is never used
        deployment = self._deployment()
        return Settings(
            timeout_seconds=self.timeout_seconds,
            connect_timeout_seconds=self.connect_timeout_seconds,
            max_attempts=self.max_attempts,
            max_total_retry_wait_seconds=self.max_total_retry_wait_seconds,
            rate_limit_per_key=self.rate_limit_per_key,
            rate_limit_per_org=self.rate_limit_per_org,
            rate_limit_window_seconds=self.rate_limit_window_seconds,
            rate_limit_safety_margin=self.rate_limit_safety_margin,
            rate_limit_backend=backend,  # type: ignore[arg-type]
            rate_limit_db_path=self.rate_limit_db_path,
            redis_url=_resolve(self.redis_url) or deployment.redis_url,
            org_id=self.org_id,
            namespace=self.idempotency_namespace,
            state_dir=deployment.state_dir or None,
            sandbox_enrich_seconds=deployment.sandbox_enrich_seconds,
        )

    def _embedded_target(self) -> tuple[str, str]:
        deployment = self._deployment()
        _, base_url, key = embedded_target(
            Settings(
                state_dir=deployment.state_dir or None,
                sandbox_enrich_seconds=deployment.sandbox_enrich_seconds,
            )
        )
        return base_url, key


def _describe(mode: str, base_url: str) -> str:
    if mode == MODE_EMBEDDED:
        return f"{MODE_EMBEDDED} at {base_url} (local; no real credits)"
    return f"{MODE_API} at {base_url}"


def cleanlist_of(context: Any, names: Names) -> CleanlistResource:
    """The instance's resource from a step's or sensor's context (its key is per instance)."""
    return getattr(context.resources, names.resource)


def cleanlist_resource_from_env(
    environ: dict[str, str] | None = None, **overrides: Any
) -> CleanlistResource:
    """The resource for :func:`~cleanlist_pipeline.settings.settings_from_env` (a shortcut for
    scripts and tests): ``CleanlistResource.from_settings(settings_from_env(environ))``."""
    from cleanlist_pipeline.settings import settings_from_env

    return CleanlistResource.from_settings(settings_from_env(environ), **overrides)
