"""Real Airflow 3 for the provider's tests: a temporary ``AIRFLOW_HOME`` on SQLite, migrated once.

Airflow reads its configuration when it is first imported, so the environment is set at import
of this conftest (``airflow_home.py``), before any test module imports Airflow. ``airflow db migrate`` is slow
(~20 s), so it runs once per machine and version into a template database (under a file lock, so
two xdist workers do not both migrate) that each worker copies into its own ``AIRFLOW_HOME``.

Fixtures:

* ``airflow_db`` (session) — the migrated metadata database is in place; returns ``AIRFLOW_HOME``.
* ``airflow_env`` — a function to set ``CLEANLIST_*`` and the ``cleanlist_default`` connection
  (JSON form of ``AIRFLOW_CONN_CLEANLIST_DEFAULT``) for one test, undone afterwards.
* ``drops_copy`` — the sample drops in a temporary folder (the DAG's drop folder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from tests.airflow.airflow_home import AIRFLOW_HOME, SAMPLE_DROPS, connection_json


def _template_db() -> Path:
    """A migrated metadata database for this Airflow version (made once per machine)."""
    version = metadata.version("apache-airflow")
    folder = Path(tempfile.gettempdir()) / f"cleanlist-airflow-{version}-template"
    folder.mkdir(exist_ok=True)
    db = folder / "airflow.db"
    with FileLock(str(folder / ".lock"), timeout=300):
        if not (folder / "migrated").exists():
            home = folder / "home"
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir()
            env = {
                **os.environ,
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
            }
            db.unlink(missing_ok=True)
            subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=env,
                check=True,
                capture_output=True,
                timeout=280,
            )
            (folder / "migrated").write_text(version)
    return db


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """``AIRFLOW_HOME`` with a migrated SQLite metadata database."""
    target = AIRFLOW_HOME / "airflow.db"
    if not target.exists():
        shutil.copyfile(_template_db(), target)
    return AIRFLOW_HOME


@pytest.fixture
def drops_copy(tmp_path: Path) -> Path:
    """The sample drops (and their mapping sidecar) in a temporary drop folder."""
    folder = tmp_path / "drops"
    shutil.copytree(SAMPLE_DROPS, folder)
    return folder


@pytest.fixture
def airflow_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Callable[..., dict[str, str]]]:
    """Set the DAG's settings and connection for one test: ``airflow_env(sandbox, drops, …)``."""

    def apply(
        sandbox: Any | None,
        drops: Path,
        *,
        list_name: str = "Airflow drops",
        enrichment_type: str | None = None,
        key: str | None = None,
        **extra: Any,
    ) -> dict[str, str]:
        values = {
            "CLEANLIST_DROPS_DIR": str(drops),
            "CLEANLIST_DATA_DIR": str(tmp_path / "data"),
            "CLEANLIST_LIST_NAME": list_name,
            "CLEANLIST_STATE_DIR": str(tmp_path / "state"),
        }
        if enrichment_type:
            values["CLEANLIST_ENRICHMENT_TYPE"] = enrichment_type
        else:
            monkeypatch.delenv("CLEANLIST_ENRICHMENT_TYPE", raising=False)
        if sandbox is not None:
            values["AIRFLOW_CONN_CLEANLIST_DEFAULT"] = connection_json(
                sandbox.v2, key or sandbox.key, **extra
            )
        else:
            monkeypatch.delenv("AIRFLOW_CONN_CLEANLIST_DEFAULT", raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return values

    yield apply
