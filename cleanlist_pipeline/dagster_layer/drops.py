"""Drop discovery (re-exported): the code lives in ``cleanlist_pipeline.drop_scan``, which both
orchestrators use; this name stays for the Dagster layer, the CLI and existing imports."""

from __future__ import annotations

from cleanlist_pipeline.drop_scan import (
    DropFile,
    DropScan,
    file_sha256,
    resolve_drop,
    scan_drops,
)

__all__ = [
    "DropFile",
    "DropScan",
    "file_sha256",
    "resolve_drop",
    "scan_drops",
]
