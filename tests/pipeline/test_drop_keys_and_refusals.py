"""Drop discovery: partition keys are safe for Dagster; symlinks and escapes are refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cleanlist_pipeline.dagster_layer.drops import scan_drops
from cleanlist_pipeline.dagster_layer.partitions import partition_key_for


def test_keys_never_hold_range_separator_or_commas() -> None:
    key = partition_key_for("2024/march, leads...final.csv")
    assert "..." not in key and "," not in key
    assert key == "2024/march_ leads_final.csv"


@pytest.mark.parametrize("bad", ["../x.csv", "/etc/passwd.csv", "a/../../b.csv", ""])
def test_paths_outside_the_folder_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        partition_key_for(bad)


def test_scan_lists_csvs_and_refuses_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "drops"
    (root / "2024").mkdir(parents=True)
    (root / "a.csv").write_text("email\nx@example.com\n")
    (root / "2024" / "b.CSV").write_text("email\ny@example.com\n")
    (root / "notes.txt").write_text("not a drop")
    (root / ".partial.csv").write_text("email\n")
    outside = tmp_path / "outside.csv"
    outside.write_text("email\nz@example.com\n")
    os.symlink(outside, root / "link.csv")
    os.symlink(tmp_path, root / "linked_dir")

    scan = scan_drops(root)

    assert sorted(scan.drops) == ["2024/b.CSV", "a.csv"]
    assert any("link.csv" in r and "symlink" in r for r in scan.refused)
    assert any("linked_dir" in r for r in scan.refused)


def test_colliding_keys_are_reported_not_guessed(tmp_path: Path) -> None:
    (tmp_path / "a,b.csv").write_text("email\nx@example.com\n")
    (tmp_path / "a_b.csv").write_text("email\ny@example.com\n")
    scan = scan_drops(tmp_path)
    assert "a_b.csv" not in scan.drops
    assert any("both map to partition key" in r for r in scan.refused)


def test_missing_folder_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="CLEANLIST_DROPS_DIR"):
        scan_drops(tmp_path / "nope")
