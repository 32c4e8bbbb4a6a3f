"""Drop file names that try to escape or confuse: ``../``, commas, newlines, symlinks.

Names that are merely awkward (commas, newlines) become safe partition keys and import; names
that point outside the drop folder (``../``, symlinks) are refused with a reason and their target
is never read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cleanlist_pipeline.dagster_layer.drop_sensor import evaluate_drops
from cleanlist_pipeline.dagster_layer.partitions import partition_key_for
from cleanlist_pipeline.testing import SandboxHandle

from .harness import csv_bytes, lead_rows
from .inprocess import InProcessDeployment

LIST = "Drop name proofs"


@pytest.fixture
def deployment(cleanlist_sandbox: SandboxHandle, tmp_path: Path) -> Iterator[InProcessDeployment]:
    dep = InProcessDeployment(tmp_path, cleanlist_sandbox.v2, cleanlist_sandbox.key, LIST)
    yield dep
    dep.close()


def _executed(sandbox: SandboxHandle) -> int:
    return int(sandbox.ledger()["csv_imports"]["executed"])


def test_awkward_names_become_safe_keys_and_import(
    deployment: InProcessDeployment, cleanlist_sandbox: SandboxHandle
) -> None:
    deployment.write("march, leads.csv", csv_bytes(lead_rows(5, tag="comma")))
    deployment.write("new\nline.csv", csv_bytes(lead_rows(5, tag="newline")))
    requests, new_keys, messages, _ = evaluate_drops(
        deployment.instance, deployment.settings(), None
    )
    assert sorted(new_keys) == ["march_ leads.csv", "new_line.csv"], (new_keys, messages)
    assert all("," not in k and "\n" not in k for k in new_keys)
    assert len(requests) == 2
    for key in new_keys:
        result = deployment.run(key)
        assert result.success, result.message
    lists = [v for v in cleanlist_sandbox.ledger()["lists"].values() if v["name"] == LIST]
    assert lists and lists[0]["lead_count"] == 10


def test_names_climbing_out_of_the_folder_are_refused(
    deployment: InProcessDeployment, cleanlist_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_bytes(csv_bytes(lead_rows(5, tag="outside")))
    with pytest.raises(ValueError, match="inside the drop folder"):
        partition_key_for("../outside.csv")
    # Someone registers such a partition by hand (UI, API): the run refuses to read it.
    result = deployment.run("../outside.csv")
    assert not result.success
    assert "outside.csv" in result.message and "drop folder" in result.message
    assert _executed(cleanlist_sandbox) == 0


def test_symlinked_files_and_folders_are_refused_with_a_reason(
    deployment: InProcessDeployment, cleanlist_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    secret_dir = tmp_path / "elsewhere"
    secret_dir.mkdir()
    target = secret_dir / "private.csv"
    target.write_bytes(csv_bytes(lead_rows(5, tag="private")))
    os.symlink(target, deployment.drops / "link.csv")
    os.symlink(secret_dir, deployment.drops / "linked_folder")
    requests, new_keys, messages, _ = evaluate_drops(
        deployment.instance, deployment.settings(), None
    )
    assert requests == [] and new_keys == []
    text = "\n".join(messages)
    assert "link.csv" in text and "symlink" in text
    assert "linked_folder" in text
    result = deployment.run("link.csv")
    assert not result.success
    assert "link.csv" in result.message and "symlink" in result.message.lower()
    assert _executed(cleanlist_sandbox) == 0


def test_two_names_mapping_to_one_key_are_both_refused(
    deployment: InProcessDeployment,
) -> None:
    deployment.write("a,b.csv", csv_bytes(lead_rows(3, tag="ab1")))
    deployment.write("a_b.csv", csv_bytes(lead_rows(3, tag="ab2")))
    requests, new_keys, messages, _ = evaluate_drops(
        deployment.instance, deployment.settings(), None
    )
    assert requests == [] and new_keys == []
    assert any("rename one" in m for m in messages), messages
