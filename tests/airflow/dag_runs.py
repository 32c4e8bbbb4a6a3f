"""Helpers for running the example DAG with ``dag.test()`` and reading the metadata DB back."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path
from typing import Any

DAG_FILE = Path(__file__).resolve().parents[2] / "examples" / "airflow" / "cleanlist_drops.py"
_counter = itertools.count()


def load_dag() -> Any:
    """The example DAG, imported afresh (it reads its settings from the environment at import)."""
    name = f"cleanlist_drops_under_test_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, DAG_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def run_dag(**kwargs: Any) -> Any:
    """One ``dag.test()`` run of a freshly loaded example DAG; returns the DagRun."""
    dag = load_dag()
    kwargs.setdefault("logical_date", None)
    return dag.test(**kwargs)


def _task_instances(dag_run: Any) -> dict[str, tuple[str, int]]:
    """``{task_id[map_index]: (state, try_number)}`` of one run, from the metadata DB."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id)
            .all()
        )
        return {
            ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): (
                str(ti.state),
                int(ti.try_number),
            )
            for ti in tis
        }


def task_states(dag_run: Any) -> dict[str, str]:
    """``{task_id[map_index]: state}`` of one run."""
    return {name: state for name, (state, _) in _task_instances(dag_run).items()}


def task_tries(dag_run: Any) -> dict[str, int]:
    """``{task_id[map_index]: try_number}`` of one run."""
    return {name: tries for name, (_, tries) in _task_instances(dag_run).items()}


def xcom_value(dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    """A stored XCom value of one run (JSON-decoded)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel.value)
            .filter(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
                XComModel.map_index == map_index,
            )
            .one_or_none()
        )
    if row is None:
        return None
    value = row[0]
    return json.loads(value) if isinstance(value, str | bytes) else value


def forget_xcoms(dag_run: Any) -> None:
    """Delete one run's XComs, as clearing the run or ``airflow db clean`` does."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(XComModel).filter(
            XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id
        ).delete()


def metadata_text(*tables: str) -> str:
    """Every stored value of ``tables`` (XComs, rendered fields …) as one string to search."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    chunks = []
    with create_session() as session:
        for table in tables:
            for row in session.execute(text(f"SELECT * FROM {table}")):
                chunks.append(repr(tuple(row)))
    return "\n".join(chunks)
