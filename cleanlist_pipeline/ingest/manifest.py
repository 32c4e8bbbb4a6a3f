"""The manifest of one drop: ``ImportPlan`` and the ``ChunkSpec`` of each upload it holds.

Both are plain data (JSON round trip included): ``plan.plan_file`` builds them, ``chunker``
reads a chunk's bytes back by them, and import steps receive them instead of the bytes.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cleanlist_pipeline.ingest.encoding import EncodingDecision
from cleanlist_pipeline.ingest.preflight import RejectedRecord

__all__ = ["ChunkSpec", "ImportPlan"]


@dataclass(frozen=True)
class ChunkSpec:
    """One upload: which source bytes, which records, and the sha256 of the bytes to send.

    ``record_ranges`` are inclusive ``(first, last)`` CSV record numbers (header = 1);
    ``record_numbers`` expands them. The server numbers a chunk's rows from 2 (its own header is
    row 1); :meth:`source_record` maps such a row back to the source record.
    """

    index: int
    byte_ranges: list[tuple[int, int]]
    record_ranges: list[tuple[int, int]]
    rows: int
    size: int
    sha256: str
    part: str = ""  # "a"/"b"… after a split for a 413
    #: XXH3-128 of the same bytes: what :func:`read_chunk` verifies at send time (about 30 times
    #: cheaper than sha256; it guards against a drop edited after planning, not an adversary).
    #: Empty in manifests from before it existed: then the sha256 is checked.
    digest: str = ""

    @property
    def label(self) -> str:
        return f"{self.index}{self.part}"

    @property
    def record_numbers(self) -> list[int]:
        return [n for a, b in self.record_ranges for n in range(a, b + 1)]

    @property
    def excluded_records(self) -> list[int]:
        """Records between this chunk's first and last one that it does not carry."""
        return [
            n
            for (_, b), (a, _) in zip(self.record_ranges, self.record_ranges[1:], strict=False)
            for n in range(b + 1, a)
        ]

    def source_record(self, server_row: int) -> int:
        """Source record number of the chunk's row ``server_row`` (header = 1, first data = 2).

        >>> ChunkSpec(0, [(0, 9)], [(5, 6), (9, 9)], 3, 9, "").source_record(4)
        9
        """
        k = server_row - 2
        if not 0 <= k < self.rows:
            raise ValueError(f"chunk {self.label} has rows 2..{self.rows + 1}, not {server_row}")
        counts = self._cumulative()
        j = bisect.bisect_right(counts, k)
        before = counts[j - 1] if j else 0
        return self.record_ranges[j][0] + (k - before)

    def source_records(self, server_rows: Iterable[int]) -> list[int]:
        return [self.source_record(r) for r in server_rows]

    def _cumulative(self) -> list[int]:
        total, out = 0, []
        for a, b in self.record_ranges:
            total += b - a + 1
            out.append(total)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "part": self.part,
            "byte_ranges": self.byte_ranges,
            "record_ranges": self.record_ranges,
            "rows": self.rows,
            "size": self.size,
            "sha256": self.sha256,
            "digest": self.digest,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChunkSpec:
        return cls(
            index=int(d["index"]),
            part=d.get("part", ""),
            byte_ranges=[(int(a), int(b)) for a, b in d["byte_ranges"]],
            record_ranges=[(int(a), int(b)) for a, b in d["record_ranges"]],
            rows=int(d["rows"]),
            size=int(d["size"]),
            sha256=d["sha256"],
            digest=d.get("digest", ""),
        )


@dataclass
class ImportPlan:
    """Everything chunk steps and reports need about one drop; JSON-serialisable."""

    path: str
    source_sha256: str
    source_size: int
    encoding: EncodingDecision
    column_mapping: dict[str, str]
    mapping_source: str
    unmapped_columns: list[str]
    header_fields: list[str]
    header_line: str
    newline: str
    max_bytes: int
    max_rows: int
    scan_mode: str  # "fast" | "mixed" | "exact": buffers read by the csv-exact scanner
    data_records: int
    blank_records: int
    chunks: list[ChunkSpec]
    rejects: list[RejectedRecord]
    removed_duplicates: list[RejectedRecord]
    predicted_skips: dict[str, list[int]]
    already_imported: list[tuple[int, int]] = field(default_factory=list)
    record_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))

    @property
    def header_bytes(self) -> bytes:
        return self.header_line.encode("utf-8")

    @property
    def rows_planned(self) -> int:
        return sum(c.rows for c in self.chunks)

    @property
    def already_imported_count(self) -> int:
        return sum(b - a + 1 for a, b in self.already_imported)

    def removed_and_rejected(self) -> list[RejectedRecord]:
        """All records left out for a reason (not counting blank lines), in file order."""
        return sorted(self.rejects + self.removed_duplicates, key=lambda r: r.record)

    def summary(self) -> dict[str, Any]:
        """Counts for metadata: no field values."""
        reasons: dict[str, int] = {}
        for r in self.removed_and_rejected():
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
        return {
            "data_records": self.data_records,
            "blank_records": self.blank_records,
            "chunks": len(self.chunks),
            "rows_planned": self.rows_planned,
            "removed": reasons,
            "already_imported": self.already_imported_count,
            "predicted_skips": {k: len(v) for k, v in self.predicted_skips.items()},
            "encoding": self.encoding.name,
            "transcoded": self.encoding.transcoded,
            "mapping_source": self.mapping_source,
            "scan_mode": self.scan_mode,
        }

    def to_dict(self, include_record_hashes: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "path": self.path,
            "source_sha256": self.source_sha256,
            "source_size": self.source_size,
            "encoding": self.encoding.to_dict(),
            "column_mapping": self.column_mapping,
            "mapping_source": self.mapping_source,
            "unmapped_columns": self.unmapped_columns,
            "header_fields": self.header_fields,
            "header_line": self.header_line,
            "newline": self.newline,
            "max_bytes": self.max_bytes,
            "max_rows": self.max_rows,
            "scan_mode": self.scan_mode,
            "data_records": self.data_records,
            "blank_records": self.blank_records,
            "chunks": [c.to_dict() for c in self.chunks],
            "rejects": [r.to_dict() for r in self.rejects],
            "removed_duplicates": [r.to_dict() for r in self.removed_duplicates],
            "predicted_skips": self.predicted_skips,
            "already_imported": self.already_imported,
        }
        if include_record_hashes:
            d["record_hashes"] = base64.b64encode(
                self.record_hashes.astype("<u8").tobytes()
            ).decode("ascii")
        return d

    def to_json(self, include_record_hashes: bool = True) -> str:
        return json.dumps(self.to_dict(include_record_hashes))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ImportPlan:
        hashes = (
            np.frombuffer(base64.b64decode(d["record_hashes"]), dtype="<u8").astype(np.uint64)
            if d.get("record_hashes")
            else np.zeros(0, np.uint64)
        )
        return cls(
            path=d["path"],
            source_sha256=d["source_sha256"],
            source_size=int(d["source_size"]),
            encoding=EncodingDecision.from_dict(d["encoding"]),
            column_mapping=dict(d["column_mapping"]),
            mapping_source=d["mapping_source"],
            unmapped_columns=list(d["unmapped_columns"]),
            header_fields=list(d["header_fields"]),
            header_line=d["header_line"],
            newline=d["newline"],
            max_bytes=int(d["max_bytes"]),
            max_rows=int(d["max_rows"]),
            scan_mode=d["scan_mode"],
            data_records=int(d["data_records"]),
            blank_records=int(d["blank_records"]),
            chunks=[ChunkSpec.from_dict(c) for c in d["chunks"]],
            rejects=[RejectedRecord.from_dict(r) for r in d["rejects"]],
            removed_duplicates=[RejectedRecord.from_dict(r) for r in d["removed_duplicates"]],
            predicted_skips={k: list(v) for k, v in d["predicted_skips"].items()},
            already_imported=[(int(a), int(b)) for a, b in d["already_imported"]],
            record_hashes=hashes,
        )

    @classmethod
    def from_json(cls, text: str) -> ImportPlan:
        return cls.from_dict(json.loads(text))
