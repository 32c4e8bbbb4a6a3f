"""The repo is a `dg` project, and `dg scaffold defs` writes an instance that loads and runs.

`dg` runs as a user runs it: a subprocess in the project folder with this venv active.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from tests.components.conftest import BIN, REPO, DgProject, dg_env

DG = str(BIN / "dg")
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _dg(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_the_repo_passes_dg_check_defs_and_lists_the_sample_instance(tmp_path: Path) -> None:
    env = dg_env(DgProject(REPO, "cleanlist_pipeline"), DAGSTER_HOME=str(tmp_path))
    env.pop("PYTHONPATH")
    checked = _dg(["check", "defs"], REPO, env)
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-3000:]

    listed = _dg(["list", "defs", "--json"], REPO, env)
    assert listed.returncode == 0, listed.stderr[-3000:]
    text = listed.stdout[listed.stdout.index("{") :] if "{" in listed.stdout else listed.stdout
    sections = json.loads(text)
    asset_keys = {a["asset_key"] for a in sections["assets"]}
    assert {"cleanlist_csv_import", "leads_snapshot", "lead_lists"} <= asset_keys
    snapshot = next(a for a in sections["assets"] if a["asset_key"] == "leads_snapshot")
    assert set(snapshot["dependency_keys"]) == {"cleanlist_csv_import", "cleanlist_enrichment"}
    assert snapshot["source"] == "cleanlist_pipeline/defs/sample/defs.yaml:5"
    assert "cleanlist_import_job" in {j["name"] for j in sections["jobs"]}
    assert {"cleanlist_drop_sensor", "cleanlist_enrichment_sensor"} <= {
        s["name"] for s in sections["sensors"]
    }

    components = _dg(["list", "components", "--json"], REPO, env)
    assert components.returncode == 0, components.stderr[-3000:]
    assert "cleanlist_pipeline.CleanlistComponent" in components.stdout


@pytest.mark.slow
def test_a_scaffolded_instance_passes_dg_check_and_imports_a_drop(
    dg_project: DgProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = dg_env(dg_project, DAGSTER_HOME=str(home))
    scaffolded = _dg(
        ["scaffold", "defs", "cleanlist_pipeline.CleanlistComponent", "inbound"],
        dg_project.root,
        env,
    )
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr[-3000:]
    written = (dg_project.defs / "inbound" / "defs.yaml").read_text()
    assert written.startswith("type: cleanlist_pipeline.CleanlistComponent")

    checked = _dg(["check", "defs"], dg_project.root, env)
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-3000:]

    # As written (no key): the embedded sandbox, the sample drops, names prefixed by the folder
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("CLEANLIST_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    defs = dg.load_from_defs_folder(path_within_project=dg_project.root)
    job = defs.resolve_job_def("inbound__cleanlist_import_job")
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        key = "2025-01-acme-webinar.csv"
        instance.add_dynamic_partitions("inbound__csv_drops", [key])
        result = job.execute_in_process(instance=instance, partition_key=key, run_config=QUIET)
        assert result.success
        materialized = instance.get_latest_materialization_event(
            dg.AssetKey(["inbound", "cleanlist_csv_import"])
        )
        assert materialized is not None
        metadata = materialized.asset_materialization.metadata  # type: ignore[union-attr]
        assert metadata["cleanlist_mode"].value == "embedded-sandbox"
