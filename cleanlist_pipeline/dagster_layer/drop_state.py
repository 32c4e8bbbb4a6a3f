"""What state each drop is in, worked out once from the ledger for the drop sensor and the CLI.

A drop's state compares the file's bytes now with what the ledger says was imported into its
partition:

* ``not_imported`` — the API accepted no chunk of this partition yet;
* ``imported`` — the latest content the API accepted is the file's content now;
* ``failed`` — as ``imported`` (or ``not_imported``), but some chunk of this content has a
  failure as its latest ledger entry (re-execute the failed steps);
* ``changed`` — the API accepted other content for this partition last. Drops are immutable, so
  nothing imports it by itself: ``mode: append`` or ``mode: force`` does, by hand.

The rule for ``changed`` is the one the import's plan step applies, so what ``status`` shows is
what an import would do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import dagster as dg

from cleanlist_pipeline.dagster_layer.drops import DropFile
from cleanlist_pipeline.dagster_layer.ledger import LedgerEntry, iter_ledger
from cleanlist_pipeline.settings import Settings

__all__ = ["DropState", "State", "drop_state", "drop_states"]


class State(StrEnum):
    """Where a drop stands against the ledger."""

    NOT_IMPORTED = "not_imported"
    IMPORTED = "imported"
    FAILED = "failed"
    CHANGED = "changed"


@dataclass(frozen=True)
class DropState:
    """One drop's state, with the numbers ``status`` prints."""

    key: str
    relative_path: str
    sha256: str
    state: State
    #: the content the API accepted last for this partition (None: nothing accepted yet)
    imported_sha256: str | None
    #: rows and chunks the API accepted from the current content
    rows_imported: int = 0
    chunks_imported: int = 0
    #: chunks of the current content whose latest entry is a failure
    failed_chunks: int = 0

    @property
    def needs_import(self) -> bool:
        """True when the drop sensor should request an import run for it."""
        return self.imported_sha256 is None

    def describe(self) -> str:
        """One line for people, e.g. ``imported: 120 rows in 1 chunk(s)``."""
        if self.state is State.CHANGED:
            old = (self.imported_sha256 or "")[:12]
            return (
                f"CHANGED since its last import (sha256 {old}… → {self.sha256[:12]}…); drops are "
                "immutable: import it with mode: append or mode: force"
            )
        if self.state is State.NOT_IMPORTED:
            return "not imported"
        text = f"imported: {self.rows_imported} rows in {self.chunks_imported} chunk(s)"
        if self.failed_chunks:
            text += f", {self.failed_chunks} chunk(s) failed"
        return text


def state_from_entries(drop: DropFile, sha256: str, entries: Iterable[LedgerEntry]) -> DropState:
    """The state of ``drop`` (content ``sha256``) given its partition's ledger entries."""
    imported_sha: str | None = None
    # A 413 split records one entry per piece: rows add up over pieces, while a chunk has
    # failed when its latest entry (whole or piece) is a failure.
    pieces: dict[tuple[str, str], LedgerEntry] = {}
    latest_by_chunk: dict[tuple[str, int], LedgerEntry] = {}
    for entry in entries:
        if entry.imported:
            imported_sha = entry.source_sha256
        if entry.source_sha256 != sha256:
            continue
        latest_by_chunk[(entry.list_id, entry.chunk_index)] = entry
        if entry.imported:
            pieces[(entry.list_id, entry.chunk_sha256)] = entry
    failed = sum(1 for e in latest_by_chunk.values() if not e.imported)
    if imported_sha is not None and imported_sha != sha256:
        state = State.CHANGED
    elif failed:
        state = State.FAILED
    elif imported_sha is None:
        state = State.NOT_IMPORTED
    else:
        state = State.IMPORTED
    return DropState(
        key=drop.key,
        relative_path=drop.relative_path,
        sha256=sha256,
        state=state,
        imported_sha256=imported_sha,
        rows_imported=sum(e.rows_imported for e in pieces.values()),
        chunks_imported=len({(e.list_id, e.chunk_index) for e in pieces.values()}),
        failed_chunks=failed,
    )


def drop_state(
    instance: dg.DagsterInstance,
    settings: Settings,
    drop: DropFile,
    sha256: str | None = None,
) -> DropState:
    """The state of one drop (``sha256``: its content hash when already known; else read)."""
    sha = sha256 or drop.sha256()
    entries = iter_ledger(instance, settings.names.import_asset, drop.key)
    return state_from_entries(drop, sha, entries)


def drop_states(
    instance: dg.DagsterInstance, settings: Settings, scan: Iterable[DropFile]
) -> list[DropState]:
    """The state of every drop in ``scan`` (a ``DropScan`` or any drops), in scan order.

    >>> for s in drop_states(instance, settings, scan_drops(settings.drops_dir)):  # doctest: +SKIP
    ...     print(s.key, s.describe())
    """
    return [drop_state(instance, settings, drop) for drop in scan]
