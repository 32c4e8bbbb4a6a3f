"""SQLite state of the sandbox: schema, per-thread connections, transactions, settings, clock.

Every bit of state lives in the database file (the quote secret, idempotency cache, rate-limit
windows, workflow start times, the clock offset), so several processes serving one file agree.
Writes run in ``BEGIN IMMEDIATE`` transactions: SQLite then takes the write lock up front, and a
second process waits (``busy_timeout``) instead of failing half-way with ``SQLITE_BUSY``.

The file holds imported leads (real ones, when someone tries real drops without a key) and the
admin token, so it is created ``0600`` before SQLite opens it; SQLite gives its ``-wal``/``-shm``
files the main file's mode, and :meth:`Database.conn` narrows those of older files too.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cleanlist_pipeline.sandbox.meta import (
    DEFAULT_ORG,
    DEFAULT_USER,
    TEAMMATE_USER,
    get_meta,
    get_meta_json,
    load_meta,
    set_meta,
)
from cleanlist_pipeline.sandbox.seed import seed_state

__all__ = [
    "DEFAULT_ORG",
    "DEFAULT_USER",
    "TEAMMATE_USER",
    "Database",
    "bump",
    "get_meta",
    "get_meta_json",
    "hash_key",
    "iso",
    "load_meta",
    "now_from",
    "read_admin_token",
    "select_in",
    "set_meta",
    "settings_from",
]

SCHEMA_VERSION = "1"

#: Meta key of the admin token (``X-Sandbox-Admin-Token``): random per database file, so every
#: process serving one file accepts it and only whoever can read the 0600 file can learn it.
ADMIN_TOKEN_META = "admin_token"

#: Owner read/write only: the file holds leads and the admin token.
PRIVATE_FILE_MODE = 0o600

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY, name TEXT, credits INTEGER NOT NULL DEFAULT 0,
    charged_total INTEGER NOT NULL DEFAULT 0, reserved_open INTEGER NOT NULL DEFAULT 0,
    refunded_total INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, first_name TEXT, last_name TEXT, email TEXT);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY, key_id TEXT NOT NULL, scopes TEXT NOT NULL,
    user_id TEXT NOT NULL, org_id TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS folders (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, owner_id TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lists (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, org_id TEXT NOT NULL,
    owner_id TEXT NOT NULL, name TEXT NOT NULL, name_lower TEXT NOT NULL, description TEXT,
    folder_id TEXT, created_at REAL NOT NULL, visibility TEXT NOT NULL DEFAULT 'private',
    protected INTEGER NOT NULL DEFAULT 0, hidden INTEGER NOT NULL DEFAULT 0,
    lead_count INTEGER NOT NULL DEFAULT 0, enriched_count INTEGER NOT NULL DEFAULT 0,
    next_pos INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS lists_owner_name ON lists (owner_id, name_lower);
CREATE TABLE IF NOT EXISTS list_shares (
    list_seq INTEGER NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (list_seq, user_id));
CREATE TABLE IF NOT EXISTS leads (
    rid INTEGER PRIMARY KEY, lead_id TEXT NOT NULL, org_id TEXT NOT NULL,
    first_name TEXT, last_name TEXT, full_name TEXT, email TEXT, phone TEXT, title TEXT,
    company TEXT, location TEXT, linkedin_url TEXT, provider TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS leads_lead_id ON leads (lead_id);
-- What enrichment found, kept apart from the wide lead rows: settling a 1M-lead workflow then
-- appends narrow rows instead of rewriting every page of ``leads``. Readers overlay it
-- (``COALESCE(r.email, l.email)``); its values already include the lead's own.
CREATE TABLE IF NOT EXISTS lead_results (
    rid INTEGER PRIMARY KEY, email TEXT, phone TEXT, provider TEXT);
CREATE TABLE IF NOT EXISTS memberships (
    list_seq INTEGER NOT NULL, pos INTEGER NOT NULL, lead_rid INTEGER NOT NULL,
    PRIMARY KEY (list_seq, pos)) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS memberships_lead ON memberships (list_seq, lead_rid);
CREATE INDEX IF NOT EXISTS memberships_by_lead ON memberships (lead_rid);
CREATE TABLE IF NOT EXISTS cohorts (
    handle TEXT PRIMARY KEY, org_id TEXT NOT NULL, list_seq INTEGER, lead_rids BLOB,
    created_at REAL NOT NULL, expires_at REAL NOT NULL, workflow_id TEXT);
CREATE INDEX IF NOT EXISTS cohorts_expiry ON cohorts (expires_at);
CREATE TABLE IF NOT EXISTS idempotency (
    org_id TEXT NOT NULL, kind TEXT NOT NULL, key_hash TEXT NOT NULL, list_id TEXT NOT NULL,
    status INTEGER NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (org_id, kind, key_hash));
CREATE TABLE IF NOT EXISTS imports (
    n INTEGER PRIMARY KEY, list_id TEXT NOT NULL, idempotency_key_hash TEXT,
    rows_parsed INTEGER, rows_imported INTEGER, rows_skipped INTEGER, workflow_id TEXT,
    replayed INTEGER NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS imports_list ON imports (list_id);
CREATE TABLE IF NOT EXISTS workflows (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, list_id TEXT NOT NULL, list_seq INTEGER,
    enrichment_type TEXT NOT NULL, total INTEGER NOT NULL, pos_from INTEGER, pos_to INTEGER,
    lead_rids BLOB, started_at REAL NOT NULL, duration REAL NOT NULL,
    will_fail INTEGER NOT NULL DEFAULT 0, reserved INTEGER NOT NULL, settled INTEGER NOT NULL DEFAULT 0,
    final_status TEXT, credits_charged INTEGER, credits_refunded INTEGER,
    emails_found INTEGER, phones_found INTEGER, created_n INTEGER);
CREATE INDEX IF NOT EXISTS workflows_due ON workflows (settled, started_at);
CREATE TABLE IF NOT EXISTS quotes (
    quote_id TEXT PRIMARY KEY, org_id TEXT NOT NULL, tool TEXT NOT NULL, list_id TEXT,
    task_id TEXT, enrichment_type TEXT, row_count INTEGER NOT NULL, cost INTEGER NOT NULL,
    expires_at REAL NOT NULL, used_at REAL);
CREATE TABLE IF NOT EXISTS lead_charges (lead_rid INTEGER PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (
    kind TEXT NOT NULL, name TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (kind, name));
CREATE TABLE IF NOT EXISTS rate_windows (
    bucket TEXT NOT NULL, window INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (bucket, window));
"""

# Tables wiped by POST /_sandbox/reset (keys, users, orgs and meta/settings stay).
STATE_TABLES = (
    "folders",
    "lists",
    "list_shares",
    "leads",
    "lead_results",
    "memberships",
    "cohorts",
    "idempotency",
    "imports",
    "workflows",
    "quotes",
    "lead_charges",
    "counters",
    "rate_windows",
)

# An independent reading of the API spec: never import cleanlist_pipeline.contract here.
DEFAULT_SETTINGS: dict[str, Any] = {
    "rpm_key": 30,
    "rpm_org": 60,
    # the limits' window; shorter only to run a benchmark's counts in less time
    "rate_window_seconds": 60,
    "enrich_seconds": 5.0,
    "credits": 100_000,
    "cohort_ttl_seconds": 3600,
    "fail_next_workflow": False,
    # Lists one user may own (hidden scratch lists aside); None = no cap, as for public keys.
    "list_cap": None,
}


class Database:
    """One SQLite file; each thread gets its own connection (sqlite3 objects are not thread-safe).

    >>> db = Database("/tmp/x.sqlite"); db.init()
    >>> with db.tx() as c: c.execute("SELECT 1").fetchone()
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()

    def conn(self) -> sqlite3.Connection:
        """The calling thread's connection (opened on first use)."""
        c: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if c is None:
            _make_private(self.path)
            c = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            # Another process may hold the write lock for a while (a 1M-lead seed).
            c.execute("PRAGMA busy_timeout=30000")
            c.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL survives process crashes; only an OS crash can lose the last commits.
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA foreign_keys=OFF")
            c.execute("PRAGMA cache_size=-65536")
            # Settling a big workflow builds a temp table per lead; keep it off the disk.
            c.execute("PRAGMA temp_store=MEMORY")
            # A file made before the sandbox narrowed modes may have world-readable companions.
            for suffix in ("-wal", "-shm"):
                _make_private(self.path + suffix, create=False)
            self._local.conn = c
        return c

    def close_thread_connection(self) -> None:
        """Close the calling thread's connection, if any."""
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE … COMMIT; ROLLBACK on any exception)."""
        c = self.conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def init(self, settings: dict[str, Any] | None = None) -> bool:
        """Create the schema and, on a fresh file, the secret, org, users and seed data.

        Returns True when the file was fresh. ``settings`` (CLI options) overwrite stored ones.
        """
        c = self.conn()
        c.executescript(SCHEMA)
        with self.tx() as c:
            fresh = c.execute("SELECT value FROM meta WHERE key='schema'").fetchone() is None
            merged = dict(DEFAULT_SETTINGS)
            if not fresh:
                merged.update(get_meta_json(c, "settings", {}))
            if settings:
                merged.update({k: v for k, v in settings.items() if v is not None})
            set_meta(c, "settings", json.dumps(merged))
            if fresh:
                set_meta(c, "schema", SCHEMA_VERSION)
                set_meta(c, "secret", secrets.token_hex(32))
                set_meta(c, "kid", "k" + secrets.token_hex(2))
                set_meta(c, "clock_offset", "0")
                set_meta(c, "faults", json.dumps({"seed": 1, "rules": [], "n": 0}))
                c.execute(
                    "INSERT INTO orgs (id, name, credits) VALUES (?, ?, ?)",
                    (DEFAULT_ORG, "Sandbox Org", int(merged["credits"])),
                )
                c.executemany(
                    "INSERT INTO users (id, org_id, first_name, last_name, email) VALUES (?,?,?,?,?)",
                    [
                        (DEFAULT_USER, DEFAULT_ORG, "Sam", "Sandbox", "sam.sandbox@example.com"),
                        (TEAMMATE_USER, DEFAULT_ORG, "Terry", "Teammate", "terry@example.com"),
                    ],
                )
                seed_state(c, now_from(c))
            # Also for files made before the admin API needed a token.
            if get_meta(c, ADMIN_TOKEN_META) is None:
                set_meta(c, ADMIN_TOKEN_META, secrets.token_urlsafe(32))
        return fresh

    def admin_token(self) -> str:
        """The admin token stored in this file (set by :meth:`init`)."""
        return str(get_meta(self.conn(), ADMIN_TOKEN_META) or "")


def _make_private(path: str, *, create: bool = True) -> None:
    """Create ``path`` as ``0600`` (or narrow it, when it is ours) before SQLite opens it.

    SQLite would create the file with the process umask (often ``0644``: readable by every local
    user). Files owned by someone else are left alone: chmod would fail, and opening them is
    that user's decision.
    """
    if path == ":memory:" or path.startswith("file:"):
        return
    flags = os.O_RDWR | (os.O_CREAT if create else 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, PRIVATE_FILE_MODE)
    except FileNotFoundError:
        return
    try:
        st = os.fstat(fd)
        if st.st_uid == os.getuid() and st.st_mode & 0o777 != PRIVATE_FILE_MODE:
            os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)


def read_admin_token(path: str | Path) -> str:
    """The admin token of the sandbox database at ``path`` (for its owner: the file is 0600).

    Raises ``FileNotFoundError`` when there is no such file and ``LookupError`` when no sandbox
    has initialised it yet.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"no sandbox database at {path}")
    c = sqlite3.connect(str(path), timeout=30.0)
    try:
        c.execute("PRAGMA busy_timeout=30000")
        row = c.execute("SELECT value FROM meta WHERE key=?", (ADMIN_TOKEN_META,)).fetchone()
    except sqlite3.OperationalError:
        row = None
    finally:
        c.close()
    if not row or not row[0]:
        raise LookupError(f"the sandbox database at {path} has no admin token yet")
    return str(row[0])


def now_from(c: sqlite3.Connection) -> float:
    """The sandbox clock: wall time plus the stored offset the admin API can move."""
    return time.time() + float(get_meta(c, "clock_offset", "0") or 0)


def settings_from(c: sqlite3.Connection) -> dict[str, Any]:
    """Current settings (defaults filled in)."""
    merged = dict(DEFAULT_SETTINGS)
    merged.update(get_meta_json(c, "settings", {}))
    return merged


def bump(c: sqlite3.Connection, kind: str, name: str, by: int = 1) -> None:
    """Increment a ledger counter."""
    c.execute(
        "INSERT INTO counters (kind, name, n) VALUES (?, ?, ?) "
        "ON CONFLICT(kind, name) DO UPDATE SET n = n + excluded.n",
        (kind, name, by),
    )


def iso(ts: float) -> str:
    """Epoch seconds → ``2026-06-28T14:32:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def hash_key(key: str) -> str:
    """API and idempotency keys are stored and compared as SHA-256 hex digests only (an
    idempotency key may embed customer identifiers)."""
    return hashlib.sha256(key.encode()).hexdigest()


#: Values per ``IN (…)`` list: well under SQLite's bound-parameter limit (999 before 3.32).
IN_BATCH = 500


def select_in(
    c: sqlite3.Connection, sql: str, values: Sequence[Any], *params: Any
) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql`` for every value, ``IN_BATCH`` values per query.

    ``sql`` holds ``{ids}`` where the ``IN`` list goes; ``params`` fill the ``?`` before it.

    >>> dict(select_in(c, "SELECT lead_id, rid FROM leads WHERE org_id=? AND lead_id IN ({ids})",
    ...                lead_ids, org_id))  # doctest: +SKIP
    """
    for i in range(0, len(values), IN_BATCH):
        part = values[i : i + IN_BATCH]
        yield from c.execute(sql.replace("{ids}", ",".join("?" * len(part))), (*params, *part))
