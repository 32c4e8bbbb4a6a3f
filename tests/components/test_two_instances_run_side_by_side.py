"""Two `CleanlistComponent` instances in one code location: two drop folders → two lists.

Both folders hold a drop with the same file name, so both instances have a partition of the same
key: if their partitions definitions, ledgers or resources were shared, the second import would
find the first one's ledger and send nothing, or land in the first one's list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from tests.components.conftest import DgProject, copy_drops

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
SHARED = "2025-01-acme-webinar.csv"


def _instance(project: DgProject, sandbox: Any, tmp: Path, name: str, extra: str) -> dict[str, Any]:
    drops = copy_drops(tmp / f"drops-{name}", [SHARED, extra])
    return {
        "drops": str(drops),
        "list_name": f"Leads {name}",
        "data_dir": str(tmp / f"data-{name}"),
        "api": {"api_key": sandbox.key, "base_url": sandbox.v1, "rate_limit_per_key": 0},
        "owners": [f"team:{name}"],
    }


def _lists(sandbox: Any) -> dict[str, dict[str, Any]]:
    return {
        lst["name"]: {**lst, "id": list_id} for list_id, lst in sandbox.ledger()["lists"].items()
    }


def test_two_instances_import_and_snapshot_into_their_own_lists(
    dg_project: DgProject, cleanlist_sandbox: Any, tmp_path: Path
) -> None:
    dg_project.add_instance(
        "emea",
        _instance(dg_project, cleanlist_sandbox, tmp_path, "emea", "2025-03-partner-referrals.csv"),
    )
    dg_project.add_instance(
        "amer", _instance(dg_project, cleanlist_sandbox, tmp_path, "amer", "2025-04-crm-export.csv")
    )
    defs = dg.load_from_defs_folder(path_within_project=dg_project.root)

    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert {"emea__cleanlist_import_job", "amer__cleanlist_import_job"} <= jobs
    keys = {spec.key for spec in defs.resolve_all_asset_specs()}
    assert dg.AssetKey(["emea", "cleanlist_csv_import"]) in keys
    assert dg.AssetKey(["amer", "leads_snapshot"]) in keys
    owners = {
        spec.key: spec.owners
        for spec in defs.resolve_all_asset_specs()
        if spec.key.path[0] == "amer"
    }
    assert owners and all(o == ["team:amer"] for o in owners.values())

    with dg.instance_for_test() as instance:
        for name in ("emea", "amer"):
            instance.add_dynamic_partitions(f"{name}__csv_drops", [SHARED])
            result = defs.resolve_job_def(f"{name}__cleanlist_import_job").execute_in_process(
                instance=instance, partition_key=SHARED, run_config=QUIET
            )
            assert result.success
        # the partitions of one instance are not the other's
        assert instance.get_dynamic_partitions("emea__csv_drops") == [SHARED]
        assert instance.get_dynamic_partitions("csv_drops") == []

        lists = _lists(cleanlist_sandbox)
        emea, amer = lists["Leads emea"], lists["Leads amer"]
        assert emea["rows_imported"] > 0 and emea["rows_imported"] == amer["rows_imported"]
        sent = cleanlist_sandbox.ledger()["csv_imports"]["executed"]

        # each instance's ledger remembers its own import: re-running sends nothing
        for name in ("emea", "amer"):
            again = defs.resolve_job_def(f"{name}__cleanlist_import_job").execute_in_process(
                instance=instance, partition_key=SHARED, run_config=QUIET
            )
            assert again.success
        assert cleanlist_sandbox.ledger()["csv_imports"]["executed"] == sent

        for name, target in (("emea", emea), ("amer", amer)):
            instance.add_dynamic_partitions(f"{name}__cleanlist_lists", [target["id"]])
            snap = defs.resolve_job_def(f"{name}__cleanlist_snapshot_job").execute_in_process(
                instance=instance, partition_key=target["id"], run_config=QUIET
            )
            assert snap.success
            (path,) = (tmp_path / f"data-{name}" / "leads").rglob("*.parquet")
            assert f"list_id={target['id']}" in str(path)
            table = pq.read_table(path)
            assert table.num_rows == target["lead_count"] > 0
        assert not list((tmp_path / "data-emea" / "leads").rglob(f"list_id={amer['id']}"))
