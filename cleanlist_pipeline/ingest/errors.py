"""Errors raised while reading and planning a CSV drop.

Every message names the file, says what is wrong, and says what to do about it::

    IngestError                 base; ``.path`` and ``.hint`` (what to do)
     ├── EmptyFileError          no bytes, or a header and no data rows
     ├── NotCSVError             gzip/zip/binary content (NUL bytes), CR-only line endings
     ├── EncodingError           bytes that decode in no accepted encoding (byte offset + line)
     ├── HeaderError             header missing, duplicated, or does not match the mapping
     │    └── MappingError       mapping names an unknown canonical field
     ├── MalformedCSVError       structural damage that cannot be confined to one row
     │                           (an unterminated quote): names the record and line
     └── DropChangedError        the file changed after it was planned (sha256 mismatch)

A row that alone is bad (ragged, oversized) is never an error: it becomes a ``RejectedRecord``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _rebuild(cls: type[IngestError], state: dict[str, Any], args: tuple[Any, ...]) -> IngestError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class IngestError(Exception):
    """A drop that cannot be imported as it is; the message says which file and what to do."""

    def __init__(self, path: str | Path, problem: str, hint: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.hint = hint
        super().__init__(f"{self.path}: {problem} — {hint}")

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only constructor arguments: pickle (worker processes) needs the state as is
        return (_rebuild, (type(self), dict(self.__dict__), self.args))


class EmptyFileError(IngestError):
    """The file holds no header, or a header without any data rows."""


class NotCSVError(IngestError):
    """The file is compressed, binary, or uses line endings no CSV reader agrees on."""


class EncodingError(IngestError):
    """Bytes that no accepted encoding decodes; ``offset`` and ``line`` locate the first one."""

    def __init__(
        self, path: str | Path, problem: str, hint: str, *, offset: int, line: int
    ) -> None:
        self.offset = offset
        self.line = line
        super().__init__(path, problem, hint)


class HeaderError(IngestError):
    """The header row does not fit the column mapping (missing, ambiguous or duplicated)."""


class MappingError(HeaderError):
    """The mapping itself is invalid (an unknown canonical field, an unreadable sidecar)."""


class MalformedCSVError(IngestError):
    """Damage that spreads past one row, e.g. a quote that is never closed."""

    def __init__(
        self, path: str | Path, problem: str, hint: str, *, record: int, line: int
    ) -> None:
        self.record = record
        self.line = line
        super().__init__(path, problem, hint)


class DropChangedError(IngestError):
    """The bytes on disk no longer match the plan (the drop was edited or replaced)."""
