"""One frozen ``Settings`` value per pipeline instance, and the names derived from it.

A ``Settings`` is built once — from the environment (:func:`settings_from_env`, the only function
in the package that reads ``os.environ``), from CLI flags (the same function with overrides), or
from a ``CleanlistComponent``'s attributes — and passed down: ``build_definitions(settings)``,
``CleanlistResource.from_settings(settings)``, the CLI's runner. Nothing below reads the
environment again.

Two modes, decided by the API key:

* **embedded sandbox** — no key. The pipeline talks to a local stand-in of the API and may
  default to the sample drops and a sample list; sensors and the schedule start running.
* **api** — a key. Nothing runs by itself: no default drop folder or list (sample leads must
  never land in a customer's workspace), and sensors and the schedule start stopped.

| variable | default (embedded) | default (real API) |
|---|---|---|
| ``CLEANLIST_API_KEY`` | unset → embedded sandbox | the key |
| ``CLEANLIST_BASE_URL`` | embedded origin | ``https://api.cleanlist.ai/api/v1/public`` |
| ``CLEANLIST_DROPS_DIR`` | ``<repo>/sample_data/drops`` | none: set it |
| ``CLEANLIST_DATA_DIR`` | ``data`` | ``data`` |
| ``CLEANLIST_LIST_NAME`` / ``CLEANLIST_LIST_ID`` | ``Sample drops (sandbox)`` | none: set one |
| ``CLEANLIST_NAMESPACE`` | ``default`` | ``default`` (idempotency-key namespace) |
| ``CLEANLIST_ENRICHMENT_TYPE`` | unset: import only | unset: import only |
| ``CLEANLIST_MAX_CREDITS`` | unset: balance only | unset: balance only |
| ``CLEANLIST_RATE_LIMIT_PER_KEY`` / ``_PER_ORG`` | 30 / 60 (0: no limiter) | 30 / 60 |
| ``CLEANLIST_RATE_LIMIT_BACKEND`` / ``CLEANLIST_REDIS_URL`` | ``sqlite`` | ``sqlite`` |
| ``CLEANLIST_ORG_ID`` | unset | unset |
| ``CLEANLIST_WEBSERVER_URL`` | unset (backfill cancel by stop record) | unset |
| ``CLEANLIST_INGEST_WORKERS`` | 1 | 1 |
| ``CLEANLIST_SANDBOX_ENRICH_SECONDS`` | 3 | — |
| ``CLEANLIST_SCHEDULE_CRON`` | ``0 5 * * *`` | ``0 5 * * *`` |
| ``CLEANLIST_ALLOW_INSECURE_OBJECT_STORE`` | off: ``http`` object stores only on loopback | off |
| ``CLEANLIST_REJECTS_FORMULA_GUARD`` | off: rejects byte-identical | off |
| ``CLEANLIST_STATE_DIR`` | ``DAGSTER_HOME``, else a per-user state folder | the same |
| ``DAGSTER_HOME`` | where the embedded sandbox and the rate limiter keep their files | |

>>> settings_from_env({}).mode
'embedded-sandbox'
>>> settings_from_env({}).names.import_job
'cleanlist_import_job'
>>> Settings(name="emea").names.import_job
'emea__cleanlist_import_job'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from cleanlist_pipeline import contract

__all__ = [
    "EMBEDDED_LIST_NAME",
    "MODE_API",
    "MODE_EMBEDDED",
    "Names",
    "Settings",
    "SettingsError",
    "settings_from_env",
]

MODE_EMBEDDED = "embedded-sandbox"
MODE_API = "api"
EMBEDDED_LIST_NAME = "Sample drops (sandbox)"
REPO_SAMPLE_DROPS = Path(__file__).resolve().parents[1] / "sample_data" / "drops"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")

Backend = Literal["sqlite", "redis", "memory"]
Status = Literal["running", "stopped"]


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot use; the message names it and the fix."""


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """Every Dagster name of one pipeline instance, derived from one prefix.

    The default instance (``prefix=None``) keeps the historical names (``cleanlist_csv_import``,
    ``csv_drops``, ``cleanlist`` …). A named instance puts its name in front of every string name
    (``emea__csv_drops``) and its key prefix in front of every asset key
    (``["emea", "cleanlist_csv_import"]``). Names that are not unique per instance fail loudly
    at load (ops, resources) or — worse — silently share state (two dynamic-partitions
    definitions of one name share one set of keys in the instance), so all of them come from here.

    >>> Names("emea").asset_key("leads_snapshot").path
    ['emea', 'leads_snapshot']
    >>> Names(None).partitions_drops
    'csv_drops'
    """

    prefix: str | None = None
    key_prefix: tuple[str, ...] | None = None

    def name(self, base: str) -> str:
        """``base`` for the default instance, ``<prefix>__<base>`` for a named one."""
        return base if not self.prefix else f"{self.prefix}__{base}"

    def asset_key(self, base: str) -> Any:
        import dagster as dg

        prefix = (
            self.key_prefix
            if self.key_prefix is not None
            else ((self.prefix,) if self.prefix else ())
        )
        return dg.AssetKey([*prefix, base])

    # --- assets (keys built on demand so importing settings does not import Dagster) ---------
    @property
    def import_asset(self) -> Any:
        return self.asset_key("cleanlist_csv_import")

    @property
    def enrichment_asset(self) -> Any:
        return self.asset_key("cleanlist_enrichment")

    @property
    def snapshot_asset(self) -> Any:
        return self.asset_key("leads_snapshot")

    @property
    def catalog_asset(self) -> Any:
        return self.asset_key("lead_lists")

    # --- partitions, jobs, sensors, schedule, resources, ops ---------------------------------
    @property
    def partitions_drops(self) -> str:
        return self.name("csv_drops")

    @property
    def partitions_lists(self) -> str:
        return self.name("cleanlist_lists")

    @property
    def import_job(self) -> str:
        return self.name("cleanlist_import_job")

    @property
    def snapshot_job(self) -> str:
        return self.name("cleanlist_snapshot_job")

    @property
    def refresh_job(self) -> str:
        return self.name("cleanlist_refresh_job")

    @property
    def enrich_job(self) -> str:
        return self.name("cleanlist_enrich_job")

    @property
    def drop_sensor(self) -> str:
        return self.name("cleanlist_drop_sensor")

    @property
    def enrichment_sensor(self) -> str:
        return self.name("cleanlist_enrichment_sensor")

    @property
    def schedule(self) -> str:
        return self.name("cleanlist_daily_refresh")

    @property
    def resource(self) -> str:
        return self.name("cleanlist")

    @property
    def io_manager(self) -> str:
        return self.name("cleanlist_snapshot_io_manager")

    def op(self, base: str) -> str:
        """An op inside a graph-backed asset (``plan_drop``, ``import_chunk`` …)."""
        return self.name(base)

    @property
    def kv_prefix(self) -> str:
        """Prefix of this instance's entries in the instance's key-value store."""
        return "cleanlist." if not self.prefix else f"cleanlist.{self.prefix}."


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Everything one pipeline instance is configured with.

    ``api_key`` and ``redis_url`` are secrets: kept out of ``repr`` and never logged. The key is
    sent only to ``base_url``'s origin (the embedded sandbox's when there is no key).
    """

    name: str | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    drops_dir: str | None = None
    data_dir: str = "data"
    list_name: str | None = None
    list_id: str | None = None
    namespace: str = "default"
    enrichment_type: str | None = None
    max_credits: int | None = None
    # API client
    rate_limit_per_key: int = contract.RATE_LIMIT_PER_KEY
    rate_limit_per_org: int = contract.RATE_LIMIT_PER_ORG
    rate_limit_window_seconds: float = contract.RATE_LIMIT_WINDOW_SECONDS
    rate_limit_safety_margin: int = 1
    rate_limit_backend: Backend = "sqlite"
    rate_limit_db_path: str | None = None
    redis_url: str | None = field(default=None, repr=False)
    org_id: str | None = None
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    max_attempts: int = 6
    max_total_retry_wait_seconds: float = 120.0
    # where local state lives: the embedded sandbox's database, the rate limiter's file
    state_dir: str | None = None
    sandbox_enrich_seconds: float = 3.0
    ingest_workers: int = 1
    # plain ``http`` to an object store off loopback sends leads in clear: refused unless set
    allow_insecure_object_store: bool = False
    # prefix rejects-file cells starting with = + - @ with ' (off: the file stays byte-identical
    # so it can be fixed and re-dropped)
    rejects_formula_guard: bool = False
    # Dagster presentation and automation
    key_prefix: tuple[str, ...] | None = None
    group_name: str = "cleanlist"
    owners: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    schedule_cron: str = "0 5 * * *"
    drop_sensor_interval_seconds: int = 30
    enrichment_sensor_interval_seconds: int | None = None
    default_status: Status | None = None
    webserver_url: str | None = None

    def __post_init__(self) -> None:
        if self.name is not None and not _NAME.match(self.name):
            raise SettingsError(
                f"instance name {self.name!r} must start with a letter and hold only letters, "
                "digits and _ (at most 48 characters): it prefixes Dagster names."
            )
        if self.list_id and self.list_name:
            raise SettingsError("give list_id or list_name, not both")
        if self.enrichment_type is not None and self.enrichment_type not in contract.UNIT_COSTS:
            raise SettingsError(
                f"enrichment_type must be one of {', '.join(contract.ENRICHMENT_TYPES)}, "
                f"not {self.enrichment_type!r}"
            )
        if self.rate_limit_backend not in ("sqlite", "redis", "memory"):
            raise SettingsError(
                "rate_limit_backend must be sqlite, redis or memory, "
                f"not {self.rate_limit_backend!r}"
            )
        if self.max_credits is not None and self.max_credits < 0:
            raise SettingsError("max_credits must be 0 or more")

    # --- derived -----------------------------------------------------------------------------
    @property
    def embedded(self) -> bool:
        """No API key: the embedded sandbox."""
        return not self.api_key

    @property
    def mode(self) -> str:
        return MODE_EMBEDDED if self.embedded else MODE_API

    @property
    def api_base_url(self) -> str:
        """Where a real key goes (meaningless in embedded mode)."""
        return self.base_url or contract.DEFAULT_BASE_URL

    @property
    def names(self) -> Names:
        return Names(self.name, self.key_prefix)

    @property
    def automation_running(self) -> bool:
        """Sensors and schedule start running: by default only against the embedded sandbox."""
        if self.default_status is not None:
            return self.default_status == "running"
        return self.embedded

    @property
    def enrichment_poll_seconds(self) -> int:
        if self.enrichment_sensor_interval_seconds is not None:
            return self.enrichment_sensor_interval_seconds
        return 5 if self.embedded else 30

    def with_defaults(self) -> Settings:
        """The embedded-sandbox defaults filled in (sample drops, sample list); a real key
        gets none."""
        if not self.embedded:
            return self
        changes: dict[str, Any] = {}
        if self.drops_dir is None and REPO_SAMPLE_DROPS.is_dir():
            changes["drops_dir"] = str(REPO_SAMPLE_DROPS)
        if not self.list_id and not self.list_name:
            changes["list_name"] = EMBEDDED_LIST_NAME
        return replace(self, **changes) if changes else self

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (``None`` values are ignored), e.g. from CLI flags."""
        given = {k: v for k, v in changes.items() if v is not None}
        if given.get("list_id"):
            given["list_name"] = None
        elif given.get("list_name"):
            given["list_id"] = None
        return replace(self, **given) if given else self


# ---------------------------------------------------------------------------------------------
# Building Settings (the only place the package reads the environment)
# ---------------------------------------------------------------------------------------------


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased, default ports dropped.

    >>> origin_of("https://API.cleanlist.ai:443/api/v1/public")
    'https://api.cleanlist.ai'
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is None or (scheme, port) in (("https", 443), ("http", 80)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def default_state_dir(environ: Mapping[str, str]) -> str:
    """``CLEANLIST_STATE_DIR`` or ``DAGSTER_HOME`` from ``environ``, else a per-user state
    directory (never a shared ``/tmp`` path). Callers other than :func:`settings_from_env`
    pass ``{}``."""
    home = environ.get("CLEANLIST_STATE_DIR") or environ.get("DAGSTER_HOME")
    if home:
        return home
    try:
        import platformdirs

        return platformdirs.user_state_dir("cleanlist-pipeline")
    except ImportError:  # pragma: no cover - platformdirs is a declared dependency
        return str(Path.home() / ".local" / "state" / "cleanlist-pipeline")


def _number(env: Mapping[str, str], var: str, kind: type[int] | type[float] = int) -> Any:
    raw = env.get(var)
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{var} must be {what}, not {raw!r}") from None


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(env: Mapping[str, str], var: str) -> bool | None:
    raw = (env.get(var) or "").strip().lower()
    if not raw:
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(f"{var} must be true or false (1/0, yes/no, on/off), not {raw!r}")


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``environ`` (default ``os.environ``), then ``overrides`` (CLI flags;
    ``None`` means "not given"), with the embedded defaults filled in.

    >>> settings_from_env({"CLEANLIST_API_KEY": "clapi_x"}).drops_dir is None
    True
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {
        "api_key": env.get("CLEANLIST_API_KEY") or None,
        "base_url": env.get("CLEANLIST_BASE_URL") or None,
        "drops_dir": env.get("CLEANLIST_DROPS_DIR") or None,
        "data_dir": env.get("CLEANLIST_DATA_DIR") or None,
        "list_id": env.get("CLEANLIST_LIST_ID") or None,
        "list_name": None if env.get("CLEANLIST_LIST_ID") else env.get("CLEANLIST_LIST_NAME"),
        "namespace": env.get("CLEANLIST_NAMESPACE") or None,
        "enrichment_type": env.get("CLEANLIST_ENRICHMENT_TYPE") or None,
        "max_credits": _number(env, "CLEANLIST_MAX_CREDITS"),
        "rate_limit_per_key": _number(env, "CLEANLIST_RATE_LIMIT_PER_KEY"),
        "rate_limit_per_org": _number(env, "CLEANLIST_RATE_LIMIT_PER_ORG"),
        "rate_limit_backend": env.get("CLEANLIST_RATE_LIMIT_BACKEND") or None,
        "redis_url": env.get("CLEANLIST_REDIS_URL") or None,
        "org_id": env.get("CLEANLIST_ORG_ID") or None,
        "webserver_url": env.get("CLEANLIST_WEBSERVER_URL") or None,
        "ingest_workers": _number(env, "CLEANLIST_INGEST_WORKERS"),
        "sandbox_enrich_seconds": _number(env, "CLEANLIST_SANDBOX_ENRICH_SECONDS", float),
        "schedule_cron": env.get("CLEANLIST_SCHEDULE_CRON") or None,
        "allow_insecure_object_store": _flag(env, "CLEANLIST_ALLOW_INSECURE_OBJECT_STORE"),
        "rejects_formula_guard": _flag(env, "CLEANLIST_REJECTS_FORMULA_GUARD"),
        "state_dir": default_state_dir(env),
    }
    # an override of None is a flag not given: it must not hide the environment's value
    values.update({k: v for k, v in overrides.items() if v is not None})
    # a list given as an override replaces the environment's whole choice of list
    if overrides.get("list_name"):
        values["list_id"] = None
    elif overrides.get("list_id"):
        values["list_name"] = None
    given = {k: v for k, v in values.items() if v is not None and v != ""}
    if "ingest_workers" in given:
        given["ingest_workers"] = max(1, given["ingest_workers"])
    return Settings(**given).with_defaults()
