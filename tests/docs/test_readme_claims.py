"""What the README tells a user exists does exist: commands, variables, knobs, names, links.

The README is the user guide, so it drifts the moment code changes. These tests compare its
claims with the code: the quickstart is exactly ``make demo`` and ``make test``; every variable
in the configuration table is read by ``cleanlist_pipeline`` and every ``CLEANLIST_*`` variable the
code reads is in the table; every resource field and run-config option is listed with the default
the code has; every ``cleanlist-pipeline`` command and option exists; every Dagster name it quotes
is in the definitions; every relative link leads to a file.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner

from cleanlist_pipeline.cli import main
from cleanlist_pipeline.dagster_layer.csv_import import ImportConfig, build_import_definitions
from cleanlist_pipeline.dagster_layer.enrichment import EnrichConfig
from cleanlist_pipeline.dagster_layer.lifecycle import build_lifecycle_definitions
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.dagster_layer.snapshots import SnapshotConfig
from cleanlist_pipeline.settings import EMBEDDED_LIST_NAME
from cleanlist_pipeline.settings import settings_from_env as load_settings

from . import readme

PACKAGE = readme.REPO / "cleanlist_pipeline"
ENV_NAME = re.compile(r"^(CLEANLIST|DAGSTER)_[A-Z0-9_]+$")
RUN_CONFIG_CLASSES = (ImportConfig, EnrichConfig, SnapshotConfig)
#: Run config that is not an asset's option: the executor choice (top-level ``execution``).
EXECUTOR_KEY = "execution"


# --------------------------------------------------------------------------- quickstart


def test_quickstart_is_exactly_make_demo_and_make_test() -> None:
    quickstart = readme.section("Quickstart")
    blocks = readme.code_blocks(quickstart)
    assert len(blocks) == 1, "the quickstart shows one code block"
    commands = [
        line.split("#", 1)[0].strip()
        for line in blocks[0].splitlines()
        if line.split("#", 1)[0].strip()
    ]
    assert commands == ["make demo", "make test"]


@pytest.mark.parametrize("target", ["demo", "test"])
def test_quickstart_targets_exist_in_the_makefile(target: str) -> None:
    makefile = (readme.REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^{target}:", makefile, re.MULTILINE)


def test_every_make_target_the_readme_names_exists() -> None:
    makefile = (readme.REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    named = set(re.findall(r"`make ([\w-]+)", readme.text()))
    assert named, "the README names no make target"
    assert named <= targets, f"not in the Makefile: {sorted(named - targets)}"


# --------------------------------------------------------------------------- configuration table


@cache
def _config_rows() -> list[tuple[str | None, str, list[str], list[str], str]]:
    """(env var, field cell, resource fields, run-config keys, default cell) per table row."""
    rows = []
    for cells in readme.table_rows(readme.section("Configuration")):
        assert len(cells) == 4, f"configuration row with {len(cells)} cells: {cells}"
        env_cell, field_cell, default_cell, _what = cells
        names = readme.backticked(env_cell)
        env = names[0] if names else None
        fields = readme.backticked(field_cell)
        if field_cell.startswith("run config"):
            rows.append((env, field_cell, [], fields, default_cell))
        else:
            rows.append((env, field_cell, fields, [], default_cell))
    assert rows, "the Configuration section has no table"
    return rows


@cache
def _source_env_names() -> dict[str, list[str]]:
    """Environment variable names used as exact string constants in the package's code."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and ENV_NAME.match(node.value):
                found.setdefault(node.value, []).append(str(path.relative_to(readme.REPO)))
    return found


def test_every_variable_in_the_table_is_read_by_the_code() -> None:
    table_env = [env for env, *_ in _config_rows() if env]
    assert "CLEANLIST_API_KEY" in table_env
    unread = [env for env in table_env if env not in _source_env_names()]
    assert not unread, f"the README documents variables nothing reads: {unread}"


def test_every_cleanlist_variable_the_code_reads_is_in_the_table() -> None:
    table_env = {env for env, *_ in _config_rows() if env}
    code_env = {name for name in _source_env_names() if name.startswith("CLEANLIST_")}
    missing = sorted(code_env - table_env)
    assert not missing, (
        f"variables read in cleanlist_pipeline/ but missing from the README table: "
        f"{ {m: _source_env_names()[m] for m in missing} }"
    )


def test_every_resource_field_is_in_the_table_and_nothing_else() -> None:
    listed = [f for _, _, fields, _, _ in _config_rows() for f in fields]
    actual = set(CleanlistResource.model_fields)
    assert sorted(set(listed) - actual) == [], "the README lists resource fields that do not exist"
    assert sorted(actual - set(listed)) == [], "resource fields missing from the README table"


def test_every_run_config_option_is_in_the_table_and_nothing_else() -> None:
    listed = {k for _, _, _, keys, _ in _config_rows() for k in keys}
    actual = {name for cls in RUN_CONFIG_CLASSES for name in cls.model_fields}
    assert sorted(listed - actual - {EXECUTOR_KEY}) == [], "unknown run config in the README"
    assert sorted(actual - listed) == [], "run config options missing from the README table"
    assert EXECUTOR_KEY in listed


def _literal(cell: str) -> Any:
    """The default a cell states as one code literal (`30`, `sqlite`, `false`), else a marker."""
    match = re.fullmatch(r"`([^`]+)`", cell)
    if match is None:
        return ...
    text = match.group(1)
    if "$" in text:  # a path under an environment variable: described, not a literal
        return ...
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text)
    except ValueError:
        return text


def _same(stated: Any, actual: Any) -> bool:
    if isinstance(stated, float) and isinstance(actual, int | float):
        return float(actual) == stated
    return bool(stated == actual)


def test_stated_defaults_match_the_code() -> None:
    compared = 0
    for _, _, fields, keys, default_cell in _config_rows():
        stated = _literal(default_cell)
        for name in fields:
            default = CleanlistResource.model_fields[name].default
            if name == "base_url":
                from cleanlist_pipeline.api.client import DEFAULT_BASE_URL

                default = DEFAULT_BASE_URL  # the field is empty; the client's default applies
            if default_cell.lower().startswith("none"):
                assert default is None, f"{name}: README says none, code says {default!r}"
                compared += 1
            elif stated is not ...:
                assert _same(stated, default), f"{name}: README {stated!r}, code {default!r}"
                compared += 1
        for key in keys:
            for cls in RUN_CONFIG_CLASSES:
                if key in cls.model_fields and stated is not ...:
                    default = cls.model_fields[key].default
                    assert _same(stated, default), f"{key}: README {stated!r}, code {default!r}"
                    compared += 1
    assert compared >= 15, f"only {compared} defaults were comparable; is the table parsed?"


def test_defaults_that_depend_on_the_api_key_are_as_documented() -> None:
    text = readme.text()
    embedded = load_settings({})
    assert embedded.data_dir == "data" and embedded.namespace == "default"
    assert embedded.list_name == EMBEDDED_LIST_NAME and EMBEDDED_LIST_NAME in text
    assert embedded.drops_dir is not None and embedded.drops_dir.endswith("sample_data/drops")
    assert embedded.enrichment_type is None

    real = load_settings({"CLEANLIST_API_KEY": "clapi_docs_test"})
    assert real.drops_dir is None and real.list_name is None and real.list_id is None
    assert real.data_dir == "data"

    from cleanlist_pipeline.dagster_layer.resources import cleanlist_resource_from_env

    defs = dg.Definitions.merge(
        build_import_definitions(real),
        build_lifecycle_definitions(real),
        dg.Definitions(resources={"cleanlist": cleanlist_resource_from_env({})}),
    )
    stopped = dg.DefaultSensorStatus.STOPPED
    for name in ("cleanlist_drop_sensor", "cleanlist_enrichment_sensor"):
        assert defs.resolve_sensor_def(name).default_status == stopped, name
        assert name in text
    schedule = defs.resolve_schedule_def("cleanlist_daily_refresh")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


# --------------------------------------------------------------------------- command line


@cache
def _top_level_help() -> str:
    script = Path(sys.executable).parent / "cleanlist-pipeline"
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout


def _help_commands() -> set[str]:
    after = _top_level_help().split("Commands:", 1)[1]
    return set(re.findall(r"^\s{2}([a-z][\w-]*)\s", after, re.MULTILINE))


def _readme_cli_lines() -> list[tuple[str, str]]:
    """(command, rest of the line) for every `cleanlist-pipeline <command>` in the README."""
    found = []
    for line in readme.text().splitlines():
        for match in re.finditer(r"cleanlist-pipeline ([a-z][\w-]*)([^`|]*)", line):
            found.append((match.group(1), match.group(2)))
    return found


def test_every_command_the_readme_names_is_in_the_help() -> None:
    named = {command for command, _ in _readme_cli_lines()}
    assert {"demo", "backfill", "enrich"} <= named
    unknown = sorted(named - _help_commands())
    assert not unknown, f"commands in the README but not in `cleanlist-pipeline --help`: {unknown}"


def test_every_option_the_readme_passes_exists_on_its_command() -> None:
    checked = 0
    for command, rest in _readme_cli_lines():
        options = re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest)
        if not options:
            continue
        help_text = CliRunner().invoke(main, [command, "--help"]).output
        for option in options:
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text), (
                f"`cleanlist-pipeline {command}` has no option {option}"
            )
            checked += 1
    assert checked >= 8, f"only {checked} options were checked"


# --------------------------------------------------------------------------- Dagster names


@cache
def _definitions() -> dg.Definitions:
    # what `dg dev` and `dagster dev` load: the sample defs.yaml instance of the component
    from cleanlist_pipeline.definitions import load_project_defs

    return load_project_defs()


def test_every_asset_check_is_explained() -> None:
    graph = _definitions().resolve_asset_graph()
    checks = {key.name for key in graph.asset_check_keys}
    table = readme.section("Asset checks")
    explained = {readme.backticked(cells[0])[0] for cells in readme.table_rows(table)}
    assert checks == explained


def test_every_dagster_name_in_the_overview_exists() -> None:
    defs = _definitions()
    assets = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    jobs = {job.name for job in defs.resolve_all_job_defs()}
    sensors = {sensor.name for sensor in defs.sensors or []}
    schedules = {schedule.name for schedule in defs.schedules or []}
    partitions = {"csv_drops", "cleanlist_lists"}
    known = assets | jobs | sensors | schedules | partitions
    table = readme.section("The Dagster UI")
    for cells in readme.table_rows(table):
        for name in readme.backticked(cells[0]):
            assert name in known, f"the README names {name!r}, the definitions do not"
    named = {n for cells in readme.table_rows(table) for n in readme.backticked(cells[0])}
    assert (assets | sensors | schedules) <= named, "an asset, sensor or schedule is not listed"


# --------------------------------------------------------------------------- links


def test_every_relative_link_leads_to_a_file() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme.text())
    relative = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert relative, "the README links nothing in the repository"
    missing = [link for link in relative if not (readme.REPO / link).exists()]
    assert not missing, f"links to files that do not exist: {missing}"


# --------------------------------------------------------------------------- run config examples


def test_every_yaml_run_config_in_the_readme_is_valid_for_its_job() -> None:
    import yaml

    blocks = re.findall(r"```yaml\n(.*?)\n```", readme.text(), re.DOTALL)
    assert len(blocks) >= 2, "the README shows run config for an import and for the executor"
    jobs = {
        "cleanlist_csv_import": "cleanlist_import_job",
        "cleanlist_enrichment": "cleanlist_enrich_job",
        "leads_snapshot": "cleanlist_snapshot_job",
    }
    for block in blocks:
        config = yaml.safe_load(block)
        if "type" in config:  # a defs.yaml: its attributes must fit the component's schema
            from cleanlist_pipeline.dagster_layer.component import CleanlistComponent

            assert config["type"] == "cleanlist_pipeline.CleanlistComponent", block
            model = CleanlistComponent.get_model_cls()
            assert model is not None
            model.model_validate(config["attributes"])
            continue
        (asset,) = config.get("ops", {"cleanlist_csv_import": None})
        job = _definitions().resolve_job_def(jobs[asset])
        assert dg.validate_run_config(job, config), block
