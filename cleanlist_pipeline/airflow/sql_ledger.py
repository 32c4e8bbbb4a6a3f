"""The import ledger as a SQL table, through an Airflow connection (``ledger_conn_id``).

One row per chunk answer in ``cleanlist_import_ledger``, with a unique constraint on
``(list_id, source_sha256, idempotency_key)``: an insert that meets an existing row keeps the
first one (the same exclusive-create rule as the object ledger). The engine comes from the
connection: its hook's ``get_sqlalchemy_engine()`` when the provider offers one (Postgres, MySQL
…), else the connection's URI.

SQLite is refused unless the connection's extra says ``{"local_only": true}``: a SQLite file on
shared or object storage does not lock, and a ledger that silently loses a record imports twice.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from cleanlist_pipeline.airflow.ledger import ChunkRecord

__all__ = ["TABLE_NAME", "SqlLedger"]

TABLE_NAME = "cleanlist_import_ledger"

_metadata = sa.MetaData()
_table = sa.Table(
    TABLE_NAME,
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("list_id", sa.String(200), nullable=False),
    sa.Column("source_sha256", sa.String(64), nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=False),
    sa.Column("drop_key", sa.String(600), nullable=False),
    sa.Column("chunk_index", sa.Integer, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.Float, nullable=False),
    sa.UniqueConstraint(
        "list_id", "source_sha256", "idempotency_key", name="uq_cleanlist_ledger_chunk"
    ),
)


#: Airflow connection types → SQLAlchemy driver names (for connections without a SQL provider).
_DRIVERS = {"postgres": "postgresql", "postgresql": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}


def _url_of(conn: Any) -> sa.URL:
    """A SQLAlchemy URL from the connection's fields (its extras are not URL options)."""
    kind = str(conn.conn_type or "").lower()
    driver = _DRIVERS.get(kind, kind)
    if driver == "sqlite":  # Airflow's sqlite connections keep the file path in ``host``
        return sa.URL.create("sqlite", database=conn.host or conn.schema or None)
    return sa.URL.create(
        driver,
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=conn.port or None,
        database=conn.schema or None,
    )


def engine_for_connection(conn_id: str) -> sa.Engine:
    """A SQLAlchemy engine for the Airflow connection ``conn_id``."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson if isinstance(conn.extra_dejson, dict) else {}
    engine: sa.Engine | None = None
    try:
        hook = conn.get_hook()
    except Exception:  # no provider for this type: fall back to the URI
        hook = None
    if hook is not None and hasattr(hook, "get_sqlalchemy_engine"):
        engine = hook.get_sqlalchemy_engine()
    if engine is None:
        engine = sa.create_engine(_url_of(conn))
    # a URI-form connection gives extras as strings: "false" must not count as true
    local_only = str(extra.get("local_only", "")).strip().lower() in ("true", "1", "yes")
    if engine.dialect.name == "sqlite" and not local_only:
        engine.dispose()
        raise ValueError(
            f"connection {conn_id!r} is SQLite: refused as an import ledger, since a SQLite file "
            "on shared or object storage does not lock. Use Postgres/MySQL, the default object "
            'ledger, or set the extra {"local_only": true} for a single-machine deployment.'
        )
    return engine


class SqlLedger:
    """Chunk records in a SQL table (created on first use)."""

    def __init__(self, conn_id: str, engine: sa.Engine | None = None) -> None:
        self.conn_id = conn_id
        self.engine = engine or engine_for_connection(conn_id)
        _metadata.create_all(self.engine, checkfirst=True)

    def describe(self) -> str:
        return f"SQL table {TABLE_NAME} (connection {self.conn_id!r})"

    def get(self, list_id: str, source_sha256: str, key: str) -> ChunkRecord | None:
        query = sa.select(_table.c.record).where(
            _table.c.list_id == list_id,
            _table.c.source_sha256 == source_sha256,
            _table.c.idempotency_key == key,
        )
        with self.engine.connect() as c:
            row = c.execute(query).first()
        return ChunkRecord.from_json(row[0]) if row else None

    def put(self, record: ChunkRecord) -> ChunkRecord:
        if not record.recorded_at:
            record = ChunkRecord(**{**asdict(record), "recorded_at": time.time()})
        values: dict[str, Any] = {
            "list_id": record.list_id,
            "source_sha256": record.source_sha256,
            "idempotency_key": record.idempotency_key,
            "drop_key": record.drop,
            "chunk_index": record.chunk_index,
            "record": json.dumps(asdict(record), sort_keys=True),
            "recorded_at": record.recorded_at,
        }
        try:
            with self.engine.begin() as c:
                c.execute(_table.insert().values(**values))
        except sa.exc.IntegrityError:
            existing = self.get(record.list_id, record.source_sha256, record.idempotency_key)
            if existing is None:
                raise
            return existing
        return record

    def records(self, list_id: str, source_sha256: str) -> list[ChunkRecord]:
        query = (
            sa.select(_table.c.record)
            .where(_table.c.list_id == list_id, _table.c.source_sha256 == source_sha256)
            .order_by(_table.c.id)
        )
        with self.engine.connect() as c:
            return [ChunkRecord.from_json(row[0]) for row in c.execute(query)]
