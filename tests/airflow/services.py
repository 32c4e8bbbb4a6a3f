"""Real Airflow 3 services for the slow tests: api-server, dag-processor, scheduler, triggerer.

``dag.test()`` runs a DAG in one process and its triggers inline; what a deployment runs is
several processes that share only the metadata database, the execution API and the
environment. :func:`airflow_services` starts them on a fresh ``AIRFLOW_HOME`` (a copy of the
migrated template database from ``conftest.py``, SQLite), each in its own process group, and
stops every group in a ``finally``.

Airflow 3.3 on SQLite: the executor is the default ``LocalExecutor`` (Airflow 3 removed the
``SequentialExecutor``; workers reach the database only through the execution API, so SQLite's
single writer is the api-server). Task processes talk to the api-server's execution API, so it
must run too (``--apps execution`` is enough). Intervals are shortened so that a DAG is parsed,
scheduled and finished in seconds rather than minutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from filelock import FileLock

from tests.airflow.airflow_home import DAGS_FOLDER, ROOT, SAMPLE_DROPS, connection_json

__all__ = ["ALL_SERVICES", "SAMPLE_DROPS", "AirflowServices", "airflow_services", "connection_json"]

#: Every service a DAG with a deferrable sensor needs.
ALL_SERVICES = ("api-server", "dag-processor", "scheduler", "triggerer")
TERMINAL_RUN_STATES = {"success", "failed"}


def migrated_db(target: Path) -> None:
    """Put a migrated metadata database at ``target``: a copy of the per-machine template
    ``conftest.py`` makes (same folder and lock), migrating it here if no test has yet."""
    version = metadata.version("apache-airflow")
    folder = Path(tempfile.gettempdir()) / f"cleanlist-airflow-{version}-template"
    folder.mkdir(exist_ok=True)
    with FileLock(str(folder / ".lock"), timeout=300):
        if not (folder / "migrated").exists():
            (folder / "airflow.db").unlink(missing_ok=True)
            env = {
                **os.environ,
                "AIRFLOW_HOME": str(target.parent),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{folder / 'airflow.db'}",
            }
            subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=env, check=True, capture_output=True, timeout=280,
            )  # fmt: skip
            (folder / "migrated").write_text(version)
        shutil.copyfile(folder / "airflow.db", target)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return "(no output)"


@dataclass
class AirflowServices:
    """Running Airflow services over one ``AIRFLOW_HOME`` (see :func:`airflow_services`)."""

    home: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.home / "airflow.db"

    def log_of(self, service: str) -> Path:
        return self.home / f"{service}.out"

    def start(self, service: str, *args: str) -> None:
        """Start ``airflow <service> <args>`` in its own process group, output to a file."""
        with open(self.log_of(service), "wb") as out:
            self.procs[service] = subprocess.Popen(
                [sys.executable, "-m", "airflow", service, *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM every service's process group at once, then SIGKILL what lingers after
        ``timeout`` s (a graceful scheduler shutdown takes longer, and nothing is left to save)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            # the leader may be gone while a child it forked (a task, a log server) is not
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)

    def check_alive(self) -> None:
        """Fail with the service's output when one of them died."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(
                    f"airflow {name} exited with {proc.returncode}:\n{_tail(self.log_of(name))}"
                )

    def diagnostics(self) -> str:
        """The tail of every service's output (for an assertion message)."""
        return "\n".join(f"--- {n}\n{_tail(self.log_of(n), 2000)}" for n in self.procs)

    def cli(self, *args: str, timeout: float = 60.0) -> str:
        """Run one ``airflow …`` command against these services; its output, or an error.

        In its own process group, killed (group and all) if it outlives ``timeout``."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:  # a timeout, or the test interrupted: the whole group goes
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        if proc.returncode != 0:
            raise AssertionError(
                f"airflow {' '.join(args)} failed ({proc.returncode}):\n{out[-2000:]}\n{err[-3000:]}"
            )
        return out

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read the metadata database (read-only; SQLite allows readers beside the writer)."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def wait_until(self, what: str, check: Any, timeout: float, interval: float = 1.0) -> Any:
        """Poll ``check()`` until it returns something truthy; fail after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                value = check()
            except sqlite3.OperationalError:  # table locked or not there yet
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.diagnostics()}")
            time.sleep(interval)

    def wait_for_dag(self, dag_id: str, timeout: float = 60.0) -> None:
        """Until the dag-processor has serialized ``dag_id`` (what the scheduler runs)."""
        self.wait_until(
            f"the dag-processor to parse {dag_id}",
            lambda: self.query("SELECT 1 FROM serialized_dag WHERE dag_id = ?", (dag_id,)),
            timeout,
        )

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of ``dag_id`` (run id, type, state, data interval), oldest first."""
        rows = self.query(
            "SELECT run_id, run_type, state, data_interval_start, data_interval_end "
            "FROM dag_run WHERE dag_id = ? ORDER BY data_interval_start, id",
            (dag_id,),
        )
        return [dict(r) for r in rows]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        """``{task_id[map_index]: state}`` of one run."""
        rows = self.query(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
            (dag_id, run_id),
        )
        return {
            r["task_id"] + (f"[{r['map_index']}]" if r["map_index"] >= 0 else ""): str(r["state"])
            for r in rows
        }

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """One stored XCom value (JSON-decoded), or None."""
        rows = self.query(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ? "
            "AND map_index = -1",
            (dag_id, run_id, task_id, key),
        )
        if not rows:
            return None
        value = rows[0]["value"]
        return json.loads(value) if isinstance(value, str | bytes) else value

    def wait_for_runs(
        self, dag_id: str, run_type: str, count: int, timeout: float
    ) -> list[dict[str, Any]]:
        """Until ``count`` runs of ``run_type`` have finished (success or failed); those runs."""

        def finished() -> list[dict[str, Any]] | None:
            runs = [r for r in self.dag_runs(dag_id) if r["run_type"] == run_type]
            if len(runs) >= count and all(r["state"] in TERMINAL_RUN_STATES for r in runs):
                return runs
            return None

        return self.wait_until(
            f"{count} {run_type} run(s) of {dag_id} to finish", finished, timeout
        )


def service_env(home: Path, api_port: int, extra: Mapping[str, str]) -> dict[str, str]:
    """The environment every service and CLI call shares: this home, fast intervals, ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "CLEANLIST_")) and k != "PYTEST_CURRENT_TEST"
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "0",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            # the scheduler and triggerer serve logs on fixed ports (8793/8794) by default
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
            # one secret for every process: the api-server signs task tokens the others verify
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__SCHEDULER__USE_ROW_LEVEL_LOCKING": "False",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
            ),
        }
    )
    env.update(extra)
    return env


@contextmanager
def airflow_services(
    extra_env: Mapping[str, str],
    services: Sequence[str] = ALL_SERVICES,
    startup_timeout: float = 120.0,
) -> Iterator[AirflowServices]:
    """Start ``services`` on a fresh SQLite ``AIRFLOW_HOME`` with ``extra_env`` (the DAG's
    ``CLEANLIST_*`` settings, a connection); stop every process group on exit."""
    home = Path(tempfile.mkdtemp(prefix="cleanlist-airflow-services-"))
    migrated_db(home / "airflow.db")
    port = _free_port()
    running = AirflowServices(home, service_env(home, port, extra_env))
    try:
        for service in services:
            if service == "api-server":
                running.start(
                    service, "--host", "127.0.0.1", "--port", str(port), "--apps", "execution"
                )
            else:
                running.start(service)
        if "api-server" in services:

            def api_up() -> bool:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/execution/health", timeout=2)
                except httpx.HTTPError:
                    return False
                return True

            running.wait_until("the api-server", api_up, startup_timeout, interval=0.5)
        yield running
    finally:
        running.stop()
        shutil.rmtree(home, ignore_errors=True)
