"""``CleanlistComponent``: the pipeline as a Dagster Component, configured in ``defs.yaml``.

Add it to a ``dg`` project with ``dg scaffold defs cleanlist_pipeline.CleanlistComponent inbound``
and edit the ``defs.yaml`` that writes; every attribute has a default, so the scaffolded file
loads as it is (against the embedded sandbox until a key is set). Several instances live side by
side in one code location — two drop folders feeding two lists — because every Dagster name of
an instance (asset keys, partitions definitions, ops, jobs, sensors, schedule, resource and
IO-manager keys) is derived from its name (``settings.Names``).

.. code-block:: yaml

    type: cleanlist_pipeline.CleanlistComponent
    attributes:
      drops: s3://acme-leads/inbound/
      list_name: Inbound 2026
      enrichment: {type: partial, max_credits: 5000}
      api:
        api_key: "{{ env.CLEANLIST_API_KEY }}"

The key is resolved when the definitions load and pinned inside the instance's resource class
(``CleanlistResource.from_settings``): it is not a run-config value, so nobody launching a run can
read it or send it elsewhere.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

from cleanlist_pipeline.contract import EnrichmentType
from cleanlist_pipeline.settings import Settings

__all__ = ["CleanlistComponent", "CleanlistComponentScaffolder"]

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_]")


class ApiAttributes(dg.Resolvable, dg.Model):
    """How to reach the API. Leave ``api_key`` empty for the embedded sandbox."""

    api_key: str | None = Field(
        default=None,
        description="API key, as a template: '{{ env.CLEANLIST_API_KEY }}'. Unset: embedded sandbox.",
    )
    base_url: str | None = Field(
        default=None,
        description="Base URL with prefix; default https://api.cleanlist.ai/api/v1/public.",
    )
    namespace: str | None = Field(
        default=None, description="Idempotency-key namespace (separates deployments of one org)."
    )
    org_id: str | None = Field(default=None, description="Organization id (shared per-org budget).")
    rate_limit_per_key: int | None = Field(default=None, description="Requests/min per key (30).")
    rate_limit_per_org: int | None = Field(default=None, description="Requests/min per org (60).")
    rate_limit_backend: Literal["sqlite", "redis", "memory"] | None = Field(
        default=None, description="Limiter shared by 'sqlite' (one machine) or 'redis' (many)."
    )
    redis_url: str | None = Field(default=None, description="Redis URL for backend 'redis'.")


class EnrichmentAttributes(dg.Resolvable, dg.Model):
    """Enrichment dispatched with each import (off when ``type`` is unset)."""

    type: EnrichmentType | None = Field(
        default=None, description="partial (e-mail, 1 credit), phone_only (10) or full (11)."
    )
    max_credits: int | None = Field(
        default=None, description="Refuse an import whose enrichment would cost more credits."
    )


class AutomationAttributes(dg.Resolvable, dg.Model):
    """Sensors and schedule."""

    default_status: Literal["running", "stopped"] | None = Field(
        default=None,
        description="Default: running against the embedded sandbox, stopped with a key.",
    )
    drop_sensor_interval_seconds: int = Field(default=30, description="Drop-folder poll interval.")
    enrichment_sensor_interval_seconds: int | None = Field(
        default=None, description="Workflow poll interval (5 s embedded, 30 s with a key)."
    )
    schedule_cron: str = Field(default="0 5 * * *", description="Daily refresh (UTC).")


class CleanlistComponent(dg.Component, dg.Resolvable, dg.Model):
    """Import CSV drops into a Cleanlist lead list, enrich them, and snapshot the list to Parquet.

    One instance = one drop folder feeding one list. Relative paths are relative to the project
    root. Override :meth:`get_asset_spec` in a subclass to add metadata, tags or owners.
    """

    name: str | None = Field(
        default=None,
        description="Instance name, the prefix of every Dagster name; default: the folder's name.",
    )
    prefix_names: bool = Field(
        default=True,
        description="false keeps the unprefixed names (cleanlist_csv_import, csv_drops …); "
        "only one such instance fits in a code location.",
    )
    drops: str | None = Field(
        default=None, description="Drop folder or object-store URI (s3://, gs://, …) of CSV files."
    )
    list_name: str | None = Field(default=None, description="Target list, created if missing.")
    list_id: str | None = Field(default=None, description="Target list by id (instead of name).")
    data_dir: str = Field(default="data", description="Where snapshots and rejects files go.")
    enrichment: EnrichmentAttributes = Field(default_factory=EnrichmentAttributes)
    api: ApiAttributes = Field(default_factory=ApiAttributes)
    automation: AutomationAttributes = Field(default_factory=AutomationAttributes)
    key_prefix: list[str] | None = Field(
        default=None, description="Asset key prefix; default [<name>] (none without prefix_names)."
    )
    group_name: str = Field(default="cleanlist", description="Asset group.")
    owners: list[str] = Field(default_factory=list, description="Asset owners (e-mail or team:x).")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags on every asset.")
    state_dir: str | None = Field(
        default=None,
        description="Where the embedded sandbox and the rate limiter keep their files; "
        "default $DAGSTER_HOME.",
    )
    webserver_url: str | None = Field(
        default=None, description="Dagster webserver URL, used to cancel a backfill by GraphQL."
    )
    ingest_workers: int | None = Field(
        default=None, description="Processes that plan one large drop (default 1: in-process)."
    )
    sandbox_enrich_seconds: float | None = Field(
        default=None, description="Embedded sandbox only: seconds an enrichment takes (3)."
    )
    rejects_formula_guard: bool = Field(
        default=False,
        description="Prefix rejects-file cells starting with = + - @ with ' (spreadsheet-safe); "
        "off keeps them byte-identical for re-dropping.",
    )

    # --- settings ----------------------------------------------------------------------------

    def instance_name(self, folder: str) -> str:
        """``name``, else the folder's name made safe (``eu-leads`` → ``eu_leads``)."""
        if self.name:
            return self.name
        safe = _UNSAFE_NAME.sub("_", folder).strip("_") or "cleanlist"
        return safe if safe[0].isalpha() else f"c_{safe}"

    def to_settings(self, folder: str, project_root: Path) -> Settings:
        """The instance's :class:`Settings` (relative paths resolved against ``project_root``)."""
        from cleanlist_pipeline.settings import default_state_dir

        def local(path: str | None) -> str | None:
            if not path or "://" in path or Path(path).is_absolute():
                return path
            return str(project_root / path)

        api = self.api
        settings = Settings(
            name=self.instance_name(folder) if self.prefix_names else None,
            api_key=api.api_key or None,
            base_url=api.base_url or None,
            drops_dir=local(self.drops),
            data_dir=local(self.data_dir) or "data",
            list_name=self.list_name or None,
            list_id=self.list_id or None,
            namespace=api.namespace or "default",
            enrichment_type=self.enrichment.type,
            max_credits=self.enrichment.max_credits,
            org_id=api.org_id or None,
            rate_limit_backend=api.rate_limit_backend or "sqlite",
            redis_url=api.redis_url or None,
            state_dir=local(self.state_dir) or default_state_dir({}),
            key_prefix=tuple(self.key_prefix) if self.key_prefix is not None else None,
            group_name=self.group_name,
            owners=tuple(self.owners),
            tags=tuple(sorted(self.tags.items())),
            schedule_cron=self.automation.schedule_cron,
            drop_sensor_interval_seconds=self.automation.drop_sensor_interval_seconds,
            enrichment_sensor_interval_seconds=self.automation.enrichment_sensor_interval_seconds,
            default_status=self.automation.default_status,
            webserver_url=self.webserver_url or None,
            rejects_formula_guard=self.rejects_formula_guard,
            **{
                k: v
                for k, v in (
                    ("rate_limit_per_key", api.rate_limit_per_key),
                    ("rate_limit_per_org", api.rate_limit_per_org),
                    ("ingest_workers", self.ingest_workers),
                    ("sandbox_enrich_seconds", self.sandbox_enrich_seconds),
                )
                if v is not None
            },
        )
        return settings.with_defaults()

    # --- definitions -------------------------------------------------------------------------

    def get_asset_spec(self, spec: dg.AssetSpec) -> dg.AssetSpec:
        """Override to change an asset's metadata, tags, owners, group or description.

        Keys cannot change here: the import ledger and the enrichment sensor find their history
        by asset key, so a renamed key would import every drop again. Use ``key_prefix`` (and a
        new instance) for other keys.
        """
        return spec

    def _translated(self, spec: dg.AssetSpec) -> dg.AssetSpec:
        new = self.get_asset_spec(spec)
        if new.key != spec.key:
            raise dg.DagsterInvalidDefinitionError(
                f"CleanlistComponent.get_asset_spec changed the key {spec.key.to_user_string()} "
                f"to {new.key.to_user_string()}. Keys of a Cleanlist instance are fixed: the "
                "import ledger and the enrichment sensor read their history by key, and a new key "
                "would import every drop again. Set key_prefix instead (a new prefix starts a new, "
                "empty ledger)."
            )
        return new

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        from cleanlist_pipeline.definitions import build_definitions

        settings = self.to_settings(context.path.name, context.project_root)
        defs = build_definitions(settings)
        if type(self).get_asset_spec is CleanlistComponent.get_asset_spec:
            return defs
        return defs.map_asset_specs(func=self._translated)


class CleanlistComponentScaffolder(dg.Scaffolder):
    """``dg scaffold defs cleanlist_pipeline.CleanlistComponent <folder>`` writes a ``defs.yaml``
    that loads as it is: the embedded sandbox until ``CLEANLIST_API_KEY`` is set."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        folder = request.target_path
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "defs.yaml").write_text(
            textwrap.dedent(
                f"""\
                type: {request.type_name}
                attributes:
                  # Every attribute is optional. Without an API key the instance runs against
                  # the embedded sandbox (no real credits); with one, sensors and the schedule
                  # start stopped and drops/list must be set.
                  # drops: s3://my-bucket/leads/        # or a local folder of CSV files
                  # list_name: Inbound leads            # or list_id: …
                  # data_dir: data                      # snapshots and rejects files
                  # enrichment: {{type: partial, max_credits: 5000}}
                  state_dir: "{{{{ env.DAGSTER_HOME }}}}"   # embedded sandbox + rate limiter files
                  api:
                    api_key: "{{{{ env.CLEANLIST_API_KEY }}}}"
                  # owners: [team:growth]
                """
            )
        )


dg.scaffold_with(CleanlistComponentScaffolder)(CleanlistComponent)
