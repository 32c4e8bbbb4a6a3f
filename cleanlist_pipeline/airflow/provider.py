"""What Airflow reads from the ``apache_airflow_provider`` entry point.

Every Airflow command (``airflow providers list``, ``airflow connections …``, the scheduler)
calls :func:`get_provider_info` of every installed provider at start-up, and an exception here
breaks all of them — so it is a literal dictionary, importing nothing (not even Airflow).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PACKAGE_NAME", "get_provider_info"]

#: The distribution's name (``pyproject.toml``); Airflow matches it against the installed package.
PACKAGE_NAME = "cleanlist-pipeline"
_HOOK = "cleanlist_pipeline.airflow.hook.CleanlistHook"


def get_provider_info() -> dict[str, Any]:
    """The provider's metadata: name, description, connection type and the modules it offers."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "Cleanlist",
        "description": "Cleanlist lead lists for Airflow: chunked idempotent CSV imports with a "
        "durable ledger, a deferrable enrichment sensor and Parquet snapshots.",
        "versions": ["0.1.0"],
        "integrations": [
            {"integration-name": "Cleanlist", "tags": ["service"]},
        ],
        "hooks": [
            {"integration-name": "Cleanlist", "python-modules": ["cleanlist_pipeline.airflow.hook"]}
        ],
        "operators": [
            {
                "integration-name": "Cleanlist",
                "python-modules": [
                    "cleanlist_pipeline.airflow.operators",
                    "cleanlist_pipeline.airflow.report",
                    "cleanlist_pipeline.airflow.enrich",
                    "cleanlist_pipeline.airflow.snapshot",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Cleanlist",
                "python-modules": ["cleanlist_pipeline.airflow.sensor"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Cleanlist",
                "python-modules": ["cleanlist_pipeline.airflow.trigger"],
            }
        ],
        "connection-types": [{"connection-type": "cleanlist", "hook-class-name": _HOOK}],
    }
