"""The ``Definitions`` object Dagster loads (``dagster dev -w dagster_workspace.yaml``)."""

from __future__ import annotations

import dagster as dg

from cleanlist_pipeline.settings import settings_from_env as load_settings
from cleanlist_pipeline.dagster_layer.imports import build_import_definitions
from cleanlist_pipeline.dagster_layer.lifecycle import build_lifecycle_definitions
from cleanlist_pipeline.dagster_layer.resources import cleanlist_resource_from_env


def build_definitions() -> dg.Definitions:
    """Assemble imports, enrichment, snapshots, catalog and schedules over one resource."""
    settings = load_settings()
    return dg.Definitions.merge(
        build_import_definitions(settings),
        build_lifecycle_definitions(settings),
        dg.Definitions(resources={"cleanlist": cleanlist_resource_from_env()}),
    )


defs = build_definitions()
