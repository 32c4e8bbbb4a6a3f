"""``CleanlistHook``: an Airflow connection → a ``CleanlistClient`` (or the embedded sandbox).

The connection (type ``cleanlist``, default id ``cleanlist_default``) holds:

==========  ===================================================================================
password    the API key (``clapi_…``); never logged, never returned, never in an XCom
host        the base URL with its prefix (default: the production API's), or a bare
            host name (then ``https``, ``port`` and ``schema`` as the path); empty: the default
extra       ``rate_limit_per_key``, ``rate_limit_per_org`` (0: no limiter), ``rate_limit_backend``
            (``sqlite``/``redis``/``memory``), ``org_id``, ``namespace`` (idempotency keys),
            ``timeout_seconds``, ``max_attempts``
==========  ===================================================================================

No such connection and no ``CLEANLIST_API_KEY``: the **embedded sandbox** (a local server thread
over ``<CLEANLIST_STATE_DIR>/cleanlist-sandbox.sqlite``, synthetic data, no real credits), as the
Dagster resource does — and every task log says so in its first line.

Everything that is not on the connection (state folder, Redis URL, rate-limit defaults) comes
from :func:`cleanlist_pipeline.settings.settings_from_env`, the package's only environment
reader. The limiter is shared with every process on the key: a SQLite file in the state folder
on one machine, Redis (``CLEANLIST_RATE_LIMIT_BACKEND=redis`` + ``CLEANLIST_REDIS_URL``) across
workers.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from cleanlist_pipeline import contract
from cleanlist_pipeline.api.client import CleanlistClient
from cleanlist_pipeline.api.errors import APIError, CleanlistError, InsufficientScopeError
from cleanlist_pipeline.api.ratelimit import RateLimitConfig
from cleanlist_pipeline.client_factory import (
    EMBEDDED_RATE_LIMIT,
    client_from_settings,
    embedded_target,
    rate_limit_from_settings,
)
from cleanlist_pipeline.settings import (
    MODE_API,
    MODE_EMBEDDED,
    Settings,
    settings_from_env,
)

__all__ = ["EMBEDDED_RATE_LIMIT", "CleanlistHook", "Target", "resolve_target"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where calls go and with what: the key stays out of ``repr`` (and so out of logs)."""

    mode: str
    base_url: str
    api_key: str = field(repr=False)
    conn_id: str
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``"api at https://…"`` or ``"embedded-sandbox at http://127.0.0.1:… (local; …)"``."""
        if self.mode == MODE_EMBEDDED:
            return f"{MODE_EMBEDDED} at {self.base_url} (local; no real credits)"
        return f"{MODE_API} at {self.base_url} (connection {self.conn_id!r})"


def _base_url(conn: Any, settings: Settings) -> str:
    host = (conn.host or "").strip()
    if not host:
        return settings.api_base_url
    if "://" in host:
        return host
    port = f":{conn.port}" if conn.port else ""
    path = f"/{conn.schema.strip('/')}" if conn.schema else ""
    return f"https://{host}{port}{path}"


def _extras(conn: Any) -> dict[str, Any]:
    extra = conn.extra_dejson if conn is not None else {}
    return dict(extra) if isinstance(extra, dict) else {}


def resolve_target(conn: Any | None, conn_id: str, settings: Settings) -> Target:
    """The target for ``conn`` (``None``: no such connection) under ``settings``.

    Blocking when it starts the embedded sandbox: async callers run it in a thread.
    """
    if conn is not None:
        key = (conn.password or "").strip()
        if not key:
            raise CleanlistError(
                f"Airflow connection {conn_id!r} has no API key: put the key (clapi_…) in its "
                "password field."
            )
        return Target(MODE_API, _base_url(conn, settings), key, conn_id, _extras(conn))
    if settings.api_key:  # CLEANLIST_API_KEY without a connection: the CLI's way, honoured too
        return Target(MODE_API, settings.api_base_url, settings.api_key, conn_id, {})
    mode, base_url, key = embedded_target(settings)  # started once per process, over one file
    return Target(mode, base_url, key, conn_id, {})


def client_settings(target: Target, settings: Settings) -> Settings:
    """``settings`` with the connection's extras laid over them (what its clients are built with)."""
    opts = target.options
    overrides: dict[str, Any] = {"namespace": namespace_of(target, settings)}
    for name, cast in _NUMERIC_EXTRAS:
        if name in opts:
            overrides[name] = cast(opts[name])
    for name in ("rate_limit_backend", "org_id"):
        if name in opts:
            overrides[name] = opts[name]
    return dataclasses.replace(settings, **overrides)


_NUMERIC_EXTRAS: tuple[tuple[str, Any], ...] = (
    ("timeout_seconds", float),
    ("max_attempts", int),
    ("rate_limit_per_key", int),
    ("rate_limit_per_org", int),
    ("rate_limit_window_seconds", float),
)


def rate_limit_config(target: Target, settings: Settings) -> RateLimitConfig | None:
    """The limiter every process on this key shares (``None`` when a limit is 0)."""
    return rate_limit_from_settings(
        client_settings(target, settings), embedded=target.mode == MODE_EMBEDDED
    )


def namespace_of(target: Target, settings: Settings) -> str:
    """The idempotency-key namespace: the connection's ``namespace`` extra, else the settings'
    (``CLEANLIST_NAMESPACE``) — the same one the Dagster path uses, so the two replay each other."""
    return str(target.options.get("namespace") or settings.namespace)


class CleanlistHook(BaseHook):
    """Cleanlist API access from an Airflow connection.

    >>> CleanlistHook.default_conn_name
    'cleanlist_default'
    """

    conn_name_attr = "cleanlist_conn_id"
    default_conn_name = "cleanlist_default"
    conn_type = "cleanlist"
    hook_name = "Cleanlist"

    def __init__(
        self, cleanlist_conn_id: str = default_conn_name, *, settings: Settings | None = None
    ) -> None:
        super().__init__()
        self.cleanlist_conn_id = cleanlist_conn_id
        self._settings = settings
        self._target: Target | None = None

    @property
    def settings(self) -> Settings:
        """The deployment's settings (``settings_from_env`` unless given)."""
        if self._settings is None:
            self._settings = settings_from_env()
        return self._settings

    def connection_or_none(self) -> Any | None:
        """The Airflow connection, or ``None`` when it does not exist (→ embedded sandbox)."""
        try:
            return self.get_connection(self.cleanlist_conn_id)
        except AirflowNotFoundException:
            return None

    def target(self) -> Target:
        """Where this hook's calls go (resolved once)."""
        if self._target is None:
            self._target = resolve_target(
                self.connection_or_none(), self.cleanlist_conn_id, self.settings
            )
            if self._target.mode == MODE_EMBEDDED:
                self.log.warning(
                    "[cleanlist embedded-sandbox] No Airflow connection %r and no "
                    "CLEANLIST_API_KEY: talking to the EMBEDDED SANDBOX at %s — synthetic data, "
                    "no real credits. Create the connection to use the Cleanlist API.",
                    self.cleanlist_conn_id,
                    self._target.base_url,
                )
        return self._target

    @property
    def mode(self) -> str:
        """``"embedded-sandbox"`` or ``"api"``."""
        return self.target().mode

    @property
    def namespace(self) -> str:
        """The idempotency-key namespace (shared with the Dagster path)."""
        return namespace_of(self.target(), self.settings)

    def describe_target(self) -> str:
        """Where calls go, for logs (never the key)."""
        return self.target().describe()

    def get_conn(self) -> CleanlistClient:
        """A new client; the caller closes it (``with hook.get_conn() as client:``)."""
        target = self.target()
        return client_from_settings(
            client_settings(target, self.settings),
            target=(target.mode, target.base_url, target.api_key),
            logger=_log,
        )

    def test_connection(self) -> tuple[bool, str]:
        """Validate the key with ``GET /whoami``; report its scopes (never the key)."""
        try:
            target = self.target()
            with self.get_conn() as client:
                who = client.whoami()
        except InsufficientScopeError as exc:
            return False, f"The key is valid but may not read its own account: {exc}"
        except APIError as exc:
            return False, f"Cleanlist refused the key ({target.describe()}): HTTP {exc.status} " + (
                f"{exc.code}: {exc.problem}" if exc.code else str(exc.problem or exc)
            )
        except CleanlistError as exc:
            return False, f"Could not reach Cleanlist: {exc}"
        scopes = ", ".join(s for s in who.scopes if s) or "(none)"
        return True, (
            f"Connection ok: {target.describe()}; organization {who.organization_id}, "
            f"scopes: {scopes}."
        )

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form: host is the base URL, password the API key."""
        return {
            "hidden_fields": ["login", "port", "schema"],
            "relabeling": {"host": "Base URL", "password": "API key"},
            "placeholders": {
                "host": contract.DEFAULT_BASE_URL,
                "password": "clapi_…",
                "extra": f'{{"rate_limit_per_key": {contract.RATE_LIMIT_PER_KEY}, '
                f'"rate_limit_per_org": {contract.RATE_LIMIT_PER_ORG}, '
                '"namespace": "default", "org_id": null}',
            },
        }
