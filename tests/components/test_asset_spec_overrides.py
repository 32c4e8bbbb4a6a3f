"""A subclass of the component changes what users may change (metadata, tags, owners) and is
refused, with the reason, when it renames a key the ledger is read by."""

from __future__ import annotations

import textwrap

import dagster as dg
import pytest

from tests.components.conftest import DgProject

CUSTOM = """
import dagster as dg

from cleanlist_pipeline import CleanlistComponent


class TaggedCleanlist(CleanlistComponent):
    def get_asset_spec(self, spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.merge_attributes(metadata={"team": "growth"}, tags={"tier": "gold"})


class RenamingCleanlist(CleanlistComponent):
    def get_asset_spec(self, spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(key=spec.key.with_prefix("renamed"))
"""


def _project(project: DgProject, type_name: str) -> None:
    (project.root / project.package / "custom.py").write_text(textwrap.dedent(CUSTOM))
    folder = project.defs / "inbound"
    folder.mkdir(parents=True)
    (folder / "defs.yaml").write_text(
        f"type: {project.package}.custom.{type_name}\n"
        "attributes:\n"
        "  api: {api_key: clapi_x, base_url: 'https://api.example.com/api/v1/public'}\n"
        "  drops: drops\n"
        "  list_name: Inbound\n"
    )


def test_get_asset_spec_adds_metadata_and_tags_to_every_asset(dg_project: DgProject) -> None:
    _project(dg_project, "TaggedCleanlist")
    defs = dg.load_from_defs_folder(path_within_project=dg_project.root)
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    snapshot = specs[dg.AssetKey(["inbound", "leads_snapshot"])]
    assert snapshot.metadata["team"] == "growth" and snapshot.tags["tier"] == "gold"
    imported = specs[dg.AssetKey(["inbound", "cleanlist_csv_import"])]
    assert imported.tags["tier"] == "gold"


def test_renaming_a_key_is_refused_with_the_reason(dg_project: DgProject) -> None:
    _project(dg_project, "RenamingCleanlist")
    with pytest.raises(Exception) as raised:
        dg.load_from_defs_folder(path_within_project=dg_project.root)
    text = str(raised.value) + str(raised.value.__cause__)
    assert "changed the key inbound/cleanlist_csv_import" in text
    assert "import every drop again" in text and "key_prefix" in text
