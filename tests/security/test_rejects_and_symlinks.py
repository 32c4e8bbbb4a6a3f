"""Local attackers and data at rest: the rejects file, symlinks and swapped drops, the sidecar.

* The rejects file holds leads' personal data: it is ``0o600`` from the moment it exists, never
  written through a name someone else could plant, and a failure while writing it leaves no file
  behind — beside the target, or in the temporary folder used for object stores.
* A drop is read only as the regular file the scan found: swapped for a symlink or for another
  file after the scan, it is refused by name (``DropChangedError``) and nothing of the impostor
  is hashed, planned or sent. Chunk reads never follow a symlink either.
* The ``<drop>.mapping.json`` sidecar must be a regular file beside the drop (no symlink), is
  capped in size, and its errors never quote what it holds.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cleanlist_pipeline.dagster_layer.drops import scan_drops
from cleanlist_pipeline.dropstore import local_drop, publish_rejects
from cleanlist_pipeline.ingest import (
    DropChangedError,
    MappingError,
    plan_file,
    read_chunk,
    write_rejects,
)
from cleanlist_pipeline.ingest import plan as plan_module
from cleanlist_pipeline.ingest.mapping import SIDECAR_MAX_BYTES, sidecar_path

HEADER = "first_name,last_name,email,company_name\n"
# Record 4 repeats record 2's e-mail: a removed duplicate, so a rejects file is written, and
# its bytes are read from the drop only while that file is being written.
BODY = (
    HEADER
    + "Ann,Lee,ann@example.com,Acme\n"
    + "Bob,Ray,bob@example.com,Acme\n"
    + "Ann,Lee,ANN@example.com,Acme\n"
)
OTHER = HEADER + "Eve,Mallory,eve@evil.example,Evil\nEve,Mallory,EVE@evil.example,Evil\n"


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default umask: files created with default permissions are world-readable."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _drop(folder: Path, name: str = "leads.csv", body: str = BODY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


# --- case 4: the rejects file --------------------------------------------------------------


def test_rejects_file_is_private_from_its_creation(
    tmp_path: Path, umask_022: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop = _drop(tmp_path / "drops")
    plan = plan_file(drop)
    data = tmp_path / "data"
    seen: dict[str, int] = {}
    read_ranges = plan_module._read_ranges

    def watching(*args: object, **kwargs: object) -> object:
        # While rows are being copied, every file in the rejects folder is looked at on disk.
        for entry in (data / "rejects").iterdir():
            seen[entry.name] = stat.S_IMODE(entry.lstat().st_mode)
        return read_ranges(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(plan_module, "_read_ranges", watching)
    shown = publish_rejects(plan, str(data), "leads.csv", drop)
    assert seen, "the rejects folder held no file while rows were written"
    assert all(mode == 0o600 for mode in seen.values()), seen  # never world-readable
    assert stat.S_IMODE(os.stat(shown).st_mode) == 0o600
    assert [p.name for p in (data / "rejects").iterdir()] == [Path(shown).name]
    assert "ANN@example.com" in Path(shown).read_text()


def test_a_failed_rejects_write_leaves_nothing_in_the_temp_folder_for_object_stores(
    tmp_path: Path, umask_022: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # For an object store the file is produced in the temporary folder, then uploaded.
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    drop = _drop(tmp_path / "drops")
    plan = plan_file(drop)
    drop.write_text(HEADER + "Ann\n", encoding="utf-8")  # cut short: copying the rows fails
    with pytest.raises(DropChangedError, match="shorter than when it was planned"):
        publish_rejects(plan, "mock:///data", "leads.csv", drop)
    assert list(private_tmp.iterdir()) == []  # no half-written rejects file left behind


def test_a_failed_rejects_write_leaves_nothing_beside_a_local_target(
    tmp_path: Path, umask_022: None
) -> None:
    drop = _drop(tmp_path / "drops")
    plan = plan_file(drop)
    drop.write_text(HEADER + "Ann\n", encoding="utf-8")
    data = tmp_path / "data"
    with pytest.raises(DropChangedError):
        publish_rejects(plan, str(data), "leads.csv", drop)
    assert list((data / "rejects").glob("*")) == []


def test_a_planted_link_at_the_temporary_name_is_not_written_through(tmp_path: Path) -> None:
    drop = _drop(tmp_path / "drops")
    plan = plan_file(drop)
    out = tmp_path / "shared" / "rejects.csv"
    out.parent.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    # Someone who can write the folder guesses the temporary name a writer would use.
    (out.parent / "rejects.csv.tmp").symlink_to(victim)
    assert write_rejects(plan, out, drop) == 1
    assert victim.read_text() == "precious\n"
    assert "ANN@example.com" in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


# --- case 6: symlinks and swapped drops -----------------------------------------------------


def test_a_drop_swapped_for_a_symlink_after_the_scan_is_refused_by_name(tmp_path: Path) -> None:
    drops = tmp_path / "drops"
    path = _drop(drops)
    elsewhere = _drop(tmp_path / "elsewhere", "secret.csv", OTHER)
    (drop,) = scan_drops(drops)
    link = drops / ".swap"
    link.symlink_to(elsewhere)
    os.replace(link, path)  # atomically: leads.csv is now a link to a file outside the folder
    with (
        pytest.raises(DropChangedError) as err,
        local_drop(drop.path, identity=drop.identity) as local,
    ):
        local.plan()
    assert str(path) in str(err.value) and "symbolic link" in str(err.value)
    assert "eve@evil.example" not in str(err.value)
    with pytest.raises(DropChangedError, match="symbolic link"):
        drop.sha256()  # what the sensor hashes for the run key: not the link's target either
    with pytest.raises(DropChangedError, match="symbolic link"):
        plan_file(path)  # planning without a scan refuses a link as well


def test_a_drop_replaced_by_another_file_after_the_scan_is_refused(tmp_path: Path) -> None:
    drops = tmp_path / "drops"
    path = _drop(drops)
    (drop,) = scan_drops(drops)
    impostor = drops / ".impostor"
    impostor.write_text(OTHER, encoding="utf-8")
    os.replace(impostor, path)  # same name, another file
    with (
        pytest.raises(DropChangedError) as err,
        local_drop(drop.path, identity=drop.identity) as local,
    ):
        local.plan()
    assert str(path) in str(err.value)
    assert "no longer the file the drop folder scan found" in str(err.value)
    with pytest.raises(DropChangedError, match="no longer the file"):
        plan_file(path, identity=drop.identity)


def test_a_drop_rewritten_in_place_after_the_scan_is_refused(tmp_path: Path) -> None:
    drops = tmp_path / "drops"
    path = _drop(drops)
    (drop,) = scan_drops(drops)
    with open(path, "a", encoding="utf-8") as f:  # same inode, new content
        f.write("Eve,Mallory,eve@evil.example,Evil\n")
    with pytest.raises(DropChangedError, match="no longer the file"):
        plan_file(path, identity=drop.identity)


def test_chunk_reads_never_follow_a_symlink_even_to_identical_bytes(tmp_path: Path) -> None:
    drops = tmp_path / "drops"
    path = _drop(drops)
    plan = plan_file(path)
    # A copy with the very same bytes would pass the chunk's sha256: the link itself is refused.
    copy = _drop(tmp_path / "elsewhere", "copy.csv", BODY)
    link = drops / ".swap"
    link.symlink_to(copy)
    os.replace(link, path)
    with pytest.raises(DropChangedError, match="symbolic link") as err:
        read_chunk(path, plan, plan.chunks[0])
    assert str(path) in str(err.value)


def test_a_fifo_in_the_drop_folder_is_refused_not_read(tmp_path: Path) -> None:
    drops = tmp_path / "drops"
    _drop(drops)
    os.mkfifo(drops / "pipe.csv")  # reading it would block every scan forever
    scan = scan_drops(drops)
    assert [d.key for d in scan] == ["leads.csv"]
    assert any(r.startswith("pipe.csv:") and "regular file" in r for r in scan.refused)


# --- case 6: the mapping sidecar -----------------------------------------------------------

SIDE_BODY = "Who,Where,Mail\nAnn Lee,Acme,ann@example.com\nBob Ray,Acme,bob@example.com\n"


def test_a_symlinked_sidecar_is_refused(tmp_path: Path) -> None:
    path = _drop(tmp_path / "drops", body=SIDE_BODY)
    outside = tmp_path / "elsewhere" / "mapping.json"
    outside.parent.mkdir()
    outside.write_text(json.dumps({"full_name": "Who", "company_name": "Where"}))
    sidecar_path(path).symlink_to(outside)
    with pytest.raises(MappingError, match="symbolic link") as err:
        plan_file(path)
    assert err.value.path == str(path)


def test_an_oversized_sidecar_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = _drop(tmp_path / "drops", body=SIDE_BODY)
    mapping = json.dumps({"full_name": "Who", "company_name": "Where"})
    sidecar_path(path).write_text(mapping + " " * SIDECAR_MAX_BYTES)  # valid JSON, too big
    with pytest.raises(MappingError, match=f"larger than {SIDECAR_MAX_BYTES} bytes"):
        plan_file(path)


def test_sidecar_errors_never_quote_its_content(tmp_path: Path) -> None:
    path = _drop(tmp_path / "drops", body=SIDE_BODY)
    side = sidecar_path(path)
    side.write_text(
        json.dumps(
            {
                "full_name": "Who",
                "emial": "Mail",  # a typo: worth naming
                "ann.lee@example.com": "+1 555 0100",  # someone pasted a lead: never echoed
                "notes": "secret value 42",
            }
        )
    )
    with pytest.raises(MappingError) as err:
        plan_file(path)
    text = str(err.value)
    assert "3 unknown field(s)" in text and "'emial'" in text and "'notes'" in text
    for leaked in ("ann.lee@example.com", "+1 555 0100", "secret value 42", "Mail"):
        assert leaked not in text, text


def test_a_deeply_nested_sidecar_is_a_mapping_error(tmp_path: Path) -> None:
    path = _drop(tmp_path / "drops", body=SIDE_BODY)
    sidecar_path(path).write_text("[" * 60_000)  # under the cap; the JSON decoder recurses
    with pytest.raises(MappingError, match="not readable JSON"):
        plan_file(path)
