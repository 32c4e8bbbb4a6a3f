"""The Airflow import ledger: one immutable record per chunk the API answered, keyed by content.

Why not Airflow's own state? XComs and task states belong to one DAG run: clearing the run deletes
them and metadata retention (``airflow db clean``) removes them, while the API remembers an
idempotency key for only 24 hours. A chunk re-sent after both are gone would be imported twice.
So, like the Dagster path reads its event log, each chunk task reads this ledger *before*
sending and writes the API's answer the moment it arrives.

Records are keyed by what was sent — list id, the drop's source sha256, the chunk's idempotency
key (itself derived from namespace, list and chunk bytes) — never by a run id, so any later run,
backfill or cleared run finds them. Two stores, both already in a deployment:

* **objects** (default): ``<data dir>/ledger/imports/list_id=<id>/source_sha256=<sha>/<key>.json``
  next to the snapshots, on a local disk or an object store. One object per chunk, created once
  and never rewritten, so concurrent mapped tasks never read-modify-write a shared file. Locally
  the create is exclusive (``os.link`` of a complete temp file: the first answer wins); object
  stores offer pyarrow no conditional put, so there it is check-then-write — a race needs two
  tasks sending the *same* key at once, and the API's idempotency makes their answers the same
  import (the second one replayed), so either record is true.
* **SQL** (``sql_ledger.py``): a table with a unique constraint, through an Airflow connection.

Never a SQLite file on shared or object storage: its locking does not hold there.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import pyarrow.fs as pafs

from cleanlist_pipeline.storage.filesystem import (
    atomic_file,
    display_path,
    is_local,
    make_private_dirs,
    resolve_filesystem,
)

__all__ = ["ChunkRecord", "ImportLedger", "ObjectLedger"]


@dataclass(frozen=True)
class ChunkRecord:
    """The API's answer to one chunk (or one piece of a chunk split after a 413).

    Counts and source record numbers only: no field values, no key material beyond the
    idempotency key (a hash, not a secret).
    """

    list_id: str
    source_sha256: str
    idempotency_key: str
    drop: str
    chunk_index: int
    piece: str
    chunk_sha256: str
    records: int
    rows_parsed: int
    rows_imported: int
    rows_skipped: int
    skip_reasons: dict[str, int] = field(default_factory=dict)
    skipped_records: list[int] = field(default_factory=list)
    workflow_id: str | None = None
    replayed: bool = False
    recorded_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ChunkRecord:
        data = json.loads(text)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class ImportLedger(Protocol):
    """Where chunk records live (objects or a SQL table)."""

    def get(self, list_id: str, source_sha256: str, key: str) -> ChunkRecord | None:
        """The record of ``key``, or None when the API never answered it (as far as we know)."""
        ...

    def put(self, record: ChunkRecord) -> ChunkRecord:
        """Create the record once; when one exists already, keep it and return it."""
        ...

    def records(self, list_id: str, source_sha256: str) -> list[ChunkRecord]:
        """Every record of one drop's content imported into one list."""
        ...

    def describe(self) -> str:
        """Where the ledger lives, for logs (no credentials)."""
        ...


class ObjectLedger:
    """One JSON object per chunk under ``<root>/ledger/imports`` (local folder or object store)."""

    def __init__(self, root: str, *, allow_insecure: bool = False) -> None:
        self.root = root
        self.fs, base = resolve_filesystem(root, allow_insecure=allow_insecure)
        self.base = f"{base.rstrip('/')}/ledger/imports"

    def describe(self) -> str:
        return f"objects under {display_path(self.root, self.fs, self.base)}"

    def _folder(self, list_id: str, source_sha256: str) -> str:
        # list ids are opaque: percent-encode anything a path could misread
        return f"{self.base}/list_id={quote(list_id, safe='')}/source_sha256={source_sha256}"

    def _path(self, list_id: str, source_sha256: str, key: str) -> str:
        return f"{self._folder(list_id, source_sha256)}/{quote(key, safe='')}.json"

    def get(self, list_id: str, source_sha256: str, key: str) -> ChunkRecord | None:
        return self._read(self._path(list_id, source_sha256, key))

    def _read(self, path: str) -> ChunkRecord | None:
        try:
            with self.fs.open_input_stream(path) as f:
                return ChunkRecord.from_json(f.read())
        except FileNotFoundError:
            return None
        except OSError as exc:  # pyarrow reports a missing object as OSError on some stores
            if self.fs.get_file_info(path).type == pafs.FileType.NotFound:
                return None
            raise exc

    def put(self, record: ChunkRecord) -> ChunkRecord:
        if not record.recorded_at:
            record = ChunkRecord(**{**asdict(record), "recorded_at": time.time()})
        path = self._path(record.list_id, record.source_sha256, record.idempotency_key)
        if is_local(self.fs):
            return self._put_local(path, record)
        existing = self._read(path)
        if existing is not None:
            return existing
        with atomic_file(self.fs, path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.write(record.to_json())
        return record

    def _put_local(self, path: str, record: ChunkRecord) -> ChunkRecord:
        folder = os.path.dirname(path)
        make_private_dirs(folder)
        fd, tmp = tempfile.mkstemp(prefix=".chunk.", suffix=".tmp", dir=folder)  # 0o600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(record.to_json())
                f.flush()
                os.fsync(f.fileno())
            try:
                # link() refuses an existing name: a complete record appears at once, first wins
                os.link(tmp, path)
            except FileExistsError:
                existing = self._read(path)
                if existing is None:  # pragma: no cover - removed between link and read
                    raise
                return existing
            return record
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def records(self, list_id: str, source_sha256: str) -> list[ChunkRecord]:
        folder = self._folder(list_id, source_sha256)
        infos = self.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
        out = []
        for info in sorted(infos, key=lambda i: i.path):
            if info.type != pafs.FileType.File or not info.base_name.endswith(".json"):
                continue
            if info.base_name.startswith("."):
                continue  # a temp file of a put in progress
            record = self._read(info.path)
            if record is not None:
                out.append(record)
        return out


def record_from_answer(base: dict[str, Any], result: Any, skipped_records: list[int]) -> ChunkRecord:
    """A record from the chunk's identity (``base``) and the API's ``CsvImportResult``."""
    return ChunkRecord(
        **base,
        rows_parsed=int(result.rows_parsed),
        rows_imported=int(result.rows_imported),
        rows_skipped=int(result.rows_skipped),
        skip_reasons={str(k): int(v) for k, v in dict(result.skip_reasons or {}).items()},
        skipped_records=skipped_records,
        workflow_id=result.workflow_id,
        replayed=bool(result.idempotency_replayed),
        recorded_at=time.time(),
    )
