"""Snapshots hold personal data: files 0o600, folders the writer creates 0o700."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path

from cleanlist_pipeline.storage import write_leads_snapshot, write_lists_catalog

from .conftest import lead_pages


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_snapshot_file_and_created_folders_are_private(root: str, snapshot_at: datetime) -> None:
    old_umask = os.umask(0o022)  # a typical umask would make files world-readable
    try:
        result = write_leads_snapshot(lead_pages(5), root, "lst_1", snapshot_at)
    finally:
        os.umask(old_umask)
    assert _mode(result.path) == 0o600
    folder = os.path.dirname(result.path)
    while folder != os.path.dirname(root):
        assert _mode(folder) == 0o700, folder
        folder = os.path.dirname(folder)


def test_existing_root_keeps_its_mode(tmp_path: Path, snapshot_at: datetime) -> None:
    root = tmp_path / "shared"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    write_leads_snapshot(lead_pages(5), str(root), "lst_1", snapshot_at)
    assert _mode(str(root)) == 0o755
    assert _mode(str(root / "leads")) == 0o700


def test_replacing_a_snapshot_keeps_it_private(root: str, snapshot_at: datetime) -> None:
    write_leads_snapshot(lead_pages(5), root, "lst_1", snapshot_at)
    result = write_leads_snapshot(lead_pages(6), root, "lst_1", snapshot_at)
    assert _mode(result.path) == 0o600


def test_catalog_file_is_private(root: str, snapshot_at: datetime) -> None:
    result = write_lists_catalog([{"list_id": "lst_1", "lead_count": 3}], root, snapshot_at)
    assert _mode(result.path) == 0o600
    assert _mode(os.path.dirname(result.path)) == 0o700
