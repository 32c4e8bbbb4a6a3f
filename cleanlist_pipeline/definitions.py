"""The definitions Dagster loads, and ``build_definitions(settings)`` for Python projects.

``defs`` is this ``dg`` project's defs folder (``cleanlist_pipeline/defs/``), loaded with
``dg.load_from_defs_folder``: it holds the sample instance of ``CleanlistComponent``
(``defs/sample/defs.yaml``) that ``dg dev``, ``dagster dev -w dagster_workspace.yaml`` and
``make demo`` run. It is built when Dagster loads it (``@dg.definitions``), so importing
``build_definitions`` loads nothing.

>>> from cleanlist_pipeline.settings import Settings
>>> sorted(job.name for job in build_definitions(Settings(name="emea")).jobs)[:2]
['emea__cleanlist_enrich_job', 'emea__cleanlist_import_job']
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from cleanlist_pipeline.settings import Settings

__all__ = ["build_definitions", "defs", "load_project_defs"]


def build_definitions(settings: Settings) -> dg.Definitions:
    """Imports, enrichment, snapshots, catalog and schedule of one instance, over its resource.

    Every name comes from ``settings.names``, so definitions of several settings merge.
    """
    from cleanlist_pipeline.dagster_layer.csv_import import build_import_definitions
    from cleanlist_pipeline.dagster_layer.lifecycle import build_lifecycle_definitions
    from cleanlist_pipeline.dagster_layer.resources import CleanlistResource

    return dg.Definitions.merge(
        build_import_definitions(settings),
        build_lifecycle_definitions(settings),
        dg.Definitions(
            resources={settings.names.resource: CleanlistResource.from_settings(settings)}
        ),
    )


def load_project_defs() -> dg.Definitions:
    """The definitions of this project's defs folder (every ``defs.yaml`` instance in it)."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


@dg.definitions
def defs() -> dg.Definitions:
    """What ``dg dev``/``dagster dev`` load: every instance in this project's defs folder."""
    return load_project_defs()
