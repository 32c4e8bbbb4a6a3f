"""The test session's ``AIRFLOW_HOME`` and Airflow configuration, set once per process.

Imported by ``conftest.py`` before any test module imports Airflow (Airflow reads its
configuration at first import). Kept out of ``conftest.py`` so test modules can import the
paths without pytest importing the conftest a second time under another name — which would make
a second home and point Airflow at an empty database.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = ROOT / "examples" / "airflow"
SAMPLE_DROPS = ROOT / "sample_data" / "drops"
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="cleanlist-airflow-home-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # dag.test() waits out a retry delay in real time
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "0",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(AIRFLOW_HOME / "logs"),
    }
)


def connection_json(base_url: str, key: str, **extra: Any) -> str:
    """``AIRFLOW_CONN_…`` in Airflow's JSON form (rate limits high: the sandbox has none)."""
    return json.dumps(
        {
            "conn_type": "cleanlist",
            "host": base_url,
            "password": key,
            "extra": {"rate_limit_per_key": 100_000, "rate_limit_per_org": 100_000, **extra},
        }
    )
