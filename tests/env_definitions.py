"""The import definitions built from the ``CLEANLIST_*`` environment, for runs whose steps are
separate processes: each step process imports this module again, as a deployment's code location
would be loaded on every node.

``CLEANLIST_TEST_IO_DIR`` (tests only) sets the ``io_manager``'s base dir, as a deployment whose
nodes share no disk points it at shared storage.
"""

from __future__ import annotations

import os

import dagster as dg

from cleanlist_pipeline.dagster_layer.csv_import import build_import_definitions
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.settings import settings_from_env


# Built when loaded, not at import: one pytest worker imports this module once and reloads the
# definitions for several tests, each with its own environment (sandbox, drops, IO dir).
@dg.definitions
def defs() -> dg.Definitions:
    settings = settings_from_env()
    resources: dict[str, object] = {
        settings.names.resource: CleanlistResource.from_settings(settings)
    }
    if os.environ.get("CLEANLIST_TEST_IO_DIR"):
        resources["io_manager"] = dg.FilesystemIOManager(
            base_dir=os.environ["CLEANLIST_TEST_IO_DIR"]
        )
    return dg.Definitions.merge(
        build_import_definitions(settings), dg.Definitions(resources=resources)
    )
