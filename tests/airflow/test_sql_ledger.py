"""The optional SQL-table ledger (``ledger_conn_id``) under real Airflow against a real sandbox.

A deployment that keeps the ledger in its own database points the import operators at an
Airflow connection; the table's unique constraint, not the code, is what keeps one record per
chunk when two tasks race. A re-run after the API's 24-hour replay window has passed (when the
API itself would import the chunks again) imports nothing, because the ledger says it is done.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cleanlist_pipeline.airflow.ledger import ChunkRecord
from cleanlist_pipeline.airflow.sql_ledger import TABLE_NAME, SqlLedger
from cleanlist_pipeline.drop_scan import scan_drops
from cleanlist_pipeline.ingest import plan_file
from tests.airflow.airflow_home import SAMPLE_DROPS
from tests.airflow.dag_runs import task_states, xcom_value

pytestmark = pytest.mark.usefixtures("airflow_db")

DAG_FILE = Path(__file__).parent / "sql_ledger_dags" / "cleanlist_sql_ledger_import.py"
LEDGER_CONN = "cleanlist_ledger_db"  # the DAG file's
ROWS_PER_CHUNK = 120  # the DAG file's: several chunks per drop, several mapped tasks
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
DROPS = ("2025-01-acme-webinar.csv",)
DAY = 24 * 3600
CSV_IMPORT = "POST /lead-lists/{list_id}/csv-import"


def _load_dag(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The test DAG, in a DAG bundle of its own beside the default ``dags-folder`` one
    (``dag.test()`` runs only a DAG it can serialize from a bundle)."""
    bundles = [
        {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {}},
        {
            "name": "cleanlist-sql-ledger-test",
            "classpath": LOCAL_BUNDLE,
            "kwargs": {"path": str(DAG_FILE.parent)},
        },
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    spec = importlib.util.spec_from_file_location("cleanlist_sql_ledger_import_dag", DAG_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (module.LEDGER_CONN, module.ROWS_PER_CHUNK) == (LEDGER_CONN, ROWS_PER_CHUNK)
    return module.dag


def _ledger_rows(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as c:
        return c.execute(
            f"SELECT list_id, source_sha256, idempotency_key FROM {TABLE_NAME}"
        ).fetchall()


def test_sql_ledger_records_each_chunk_once_and_a_rerun_past_the_replay_window_imports_nothing(
    cleanlist_sandbox: Any,
    airflow_env: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    for name in DROPS:
        shutil.copyfile(SAMPLE_DROPS / name, drops / name)
    env = airflow_env(cleanlist_sandbox, drops, list_name="SQL ledger drops")
    db = tmp_path / "ledger" / "ledger.sqlite"
    db.parent.mkdir()
    conn = {"conn_type": "sqlite", "host": str(db), "extra": {"local_only": True}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{LEDGER_CONN.upper()}", json.dumps(conn))
    chunks = sum(len(plan_file(d.path, max_rows=ROWS_PER_CHUNK).chunks) for d in scan_drops(drops))
    assert chunks > 1
    dag = _load_dag(monkeypatch)

    first = dag.test(logical_date=None)
    assert str(first.state) == "success", task_states(first)
    report = xcom_value(first, "import_report")
    list_id = report["list_id"]
    assert report["imported_now"] == report["rows_imported"] > 0
    # one ledger row per chunk, none under <data dir>/ledger (the object ledger was not used)
    rows = _ledger_rows(db)
    assert len(rows) == len(set(rows)) == chunks
    assert {r[0] for r in rows} == {list_id}
    assert not (Path(env["CLEANLIST_DATA_DIR"]) / "ledger").exists()
    ledger = cleanlist_sandbox.ledger()
    assert ledger["csv_imports"] == {"executed": chunks, "replayed": 0}
    assert ledger["lists"][list_id]["lead_count"] == report["rows_imported"]

    # past the API's 24 h replay window the API would import every chunk again; a re-run of the
    # cleared run reads the table first and sends nothing
    cleanlist_sandbox.advance_clock(DAY + 3600)
    sent = ledger["requests"].get(CSV_IMPORT, 0)
    again = dag.test(logical_date=None)
    assert str(again.state) == "success", task_states(again)
    rerun = xcom_value(again, "import_report")
    assert rerun["imported_now"] == 0
    assert rerun["rows_imported"] == report["rows_imported"]  # the report reads the table
    late = cleanlist_sandbox.ledger()
    assert late["requests"].get(CSV_IMPORT, 0) == sent
    assert late["csv_imports"] == {"executed": chunks, "replayed": 0}
    assert late["lists"][list_id]["lead_count"] == report["rows_imported"]
    assert len(_ledger_rows(db)) == chunks


def test_the_unique_constraint_keeps_the_first_of_racing_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "ledger.sqlite"
    conn = {"conn_type": "sqlite", "host": str(db), "extra": {"local_only": True}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{LEDGER_CONN.upper()}", json.dumps(conn))
    base = ChunkRecord(
        list_id="lst_1",
        source_sha256="a" * 64,
        idempotency_key="k" * 64,
        drop="drops/2025-01.csv",
        chunk_index=0,
        piece="0",
        chunk_sha256="c" * 64,
        records=10,
        rows_parsed=10,
        rows_imported=10,
        rows_skipped=0,
    )
    # eight tasks answer the same chunk at once, each with its own ledger (own engine)
    ledgers = [SqlLedger(LEDGER_CONN) for _ in range(8)]
    answers: list[ChunkRecord] = []
    start = threading.Barrier(len(ledgers))

    def put(i: int) -> None:
        start.wait()
        answers.append(ledgers[i].put(replace(base, rows_imported=10 - i, workflow_id=f"w{i}")))

    threads = [threading.Thread(target=put, args=(i,)) for i in range(len(ledgers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    stored = SqlLedger(LEDGER_CONN).get("lst_1", "a" * 64, "k" * 64)
    assert stored is not None and len(answers) == len(ledgers)
    assert all(a == stored for a in answers)  # every racer got the one stored record back
    assert len(_ledger_rows(db)) == 1
    # the constraint is in the table, so a writer that skips the code is refused too
    engine = sa.create_engine(f"sqlite:///{db}")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:
        c.execute(
            sa.text(
                f"INSERT INTO {TABLE_NAME} (list_id, source_sha256, idempotency_key, drop_key, "
                "chunk_index, record, recorded_at) VALUES ('lst_1', :s, :k, 'x', 0, '{}', 0)"
            ),
            {"s": "a" * 64, "k": "k" * 64},
        )
    engine.dispose()


@pytest.mark.parametrize(
    "form",
    [
        {"conn_type": "sqlite", "host": "{db}"},
        {"conn_type": "sqlite", "host": "{db}", "extra": {"local_only": False}},
        "sqlite:///{db}?local_only=false",  # URI form: the extra is the string "false"
    ],
)
def test_a_sqlite_ledger_connection_is_refused_unless_it_says_local_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: Any
) -> None:
    db = str(tmp_path / "shared.sqlite")
    value = (
        form.replace("{db}", db) if isinstance(form, str) else json.dumps(form).replace("{db}", db)
    )
    monkeypatch.setenv(f"AIRFLOW_CONN_{LEDGER_CONN.upper()}", value)
    with pytest.raises(ValueError, match="SQLite: refused as an import ledger"):
        SqlLedger(LEDGER_CONN)
