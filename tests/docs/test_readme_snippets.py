"""The README's python snippets run as written and give back what the pipeline wrote.

Reading snippets (``<!-- tested: reading expect=… -->``) run with the working directory holding a
``data/`` folder written by the pipeline's own storage and ingest code: two lists, one of them
snapshotted on two days (the older day before enrichment, so its rows differ), a catalog on two
days, and a rejects file. Each snippet's result must be exactly the rows its text promises — the
newest snapshot per list must not become "the newest day overall", and "every day" must keep
yesterday's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest

from cleanlist_pipeline.dagster_layer.csv_import.plan_step import rejects_path
from cleanlist_pipeline.dagster_layer.snapshots import (
    LeadsSnapshotIOManager,
)
from cleanlist_pipeline.ingest import plan_file, write_rejects
from cleanlist_pipeline.storage import write_leads_snapshot, write_lists_catalog

from . import readme

EXAMPLE_LIST = "8f14e45f-ceea-4e7a-9b1a-2c3d4e5f6a7b"  # the id the README's snippets use
OTHER_LIST = "c9f0f895-fb98-4b1b-9e6f-3a1d2c7b5e40"
DAY_1 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
DAY_2 = datetime(2025, 3, 2, 9, 30, tzinfo=UTC)
REJECTS_DROP = "2025-04-crm-export.csv"

Row = tuple[str, str | None]


def _lead(lead_id: str, email: str | None) -> dict[str, str | None]:
    return {"lead_id": lead_id, "full_name": f"Person {lead_id}", "email": email}


# The example list before enrichment (no e-mails) and after it (one lead still without).
EXAMPLE_DAY_1 = [_lead(f"ex-{i}", None) for i in range(3)]
EXAMPLE_DAY_2 = [_lead(f"ex-{i}", f"person{i}@example.com" if i != 4 else None) for i in range(5)]
# The other list was last snapshotted on day 1: its newest snapshot is older than the example's.
OTHER_DAY_1 = [_lead(f"ot-{i}", f"other{i}@example.org" if i != 3 else None) for i in range(4)]

CATALOG_DAY_1 = [
    {"list_id": EXAMPLE_LIST, "name": "Inbound 2025", "visibility": "private", "lead_count": 3},
]
CATALOG_DAY_2 = [
    {"list_id": EXAMPLE_LIST, "name": "Inbound 2025", "visibility": "private", "lead_count": 5},
    {"list_id": OTHER_LIST, "name": "Partners", "visibility": "organization", "lead_count": 4},
]

DROP_CSV = (
    "email,first_name\n"
    "ann@example.com,Ann\n"
    "bob@example.com,Bob\n"
    "ann@example.com,Annie\n"  # record 4: duplicate e-mail
    "cy@example.com,Cy,surplus\n"  # record 5: more fields than the header
    "dee@example.com,Dee\n"
)


def _rows(leads: list[dict[str, str | None]]) -> list[Row]:
    return [(str(lead["lead_id"]), lead["email"]) for lead in leads]


# What each `expect=` name promises, as (variable the snippet assigns, expected rows).
EXPECTED: dict[str, tuple[str, list[Any]]] = {
    "newest-of-every-list": ("leads", _rows(EXAMPLE_DAY_2) + _rows(OTHER_DAY_1)),
    "everything": (
        "leads",
        _rows(EXAMPLE_DAY_1) + _rows(EXAMPLE_DAY_2) + _rows(OTHER_DAY_1),
    ),
    "every-day-of-the-list": ("leads", _rows(EXAMPLE_DAY_1) + _rows(EXAMPLE_DAY_2)),
    "newest-of-the-list": ("leads", _rows(EXAMPLE_DAY_2)),
    "newest-catalog": (
        "lists",
        [(c["list_id"], c["name"], c["lead_count"]) for c in CATALOG_DAY_2],
    ),
    "rejects": (
        "rejects",
        [("duplicate_email", 4, "ann@example.com"), ("ragged_row", 5, "cy@example.com")],
    ),
}


@pytest.fixture
def data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory whose ``data/`` holds what the pipeline writes."""
    monkeypatch.chdir(tmp_path)
    root = "data"
    write_leads_snapshot([EXAMPLE_DAY_1], root, EXAMPLE_LIST, DAY_1)
    write_leads_snapshot([EXAMPLE_DAY_2[:2], EXAMPLE_DAY_2[2:]], root, EXAMPLE_LIST, DAY_2)
    write_leads_snapshot([OTHER_DAY_1], root, OTHER_LIST, DAY_1)
    write_lists_catalog(CATALOG_DAY_1, root, DAY_1)
    write_lists_catalog(CATALOG_DAY_2, root, DAY_2)

    drop = tmp_path / "drops" / REJECTS_DROP
    drop.parent.mkdir()
    drop.write_text(DROP_CSV, encoding="utf-8")
    out = Path(rejects_path(root, REJECTS_DROP))  # where the import asset puts the rejects
    out.parent.mkdir(parents=True, exist_ok=True)
    assert write_rejects(plan_file(drop), out) == 2
    yield tmp_path


def _frame(value: Any) -> pd.DataFrame:
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pa.Table):
        return value.to_pandas()
    if hasattr(value, "df"):  # a DuckDB relation
        return value.df()
    raise AssertionError(f"the snippet produced a {type(value).__name__}, not a table")


def _cell(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _result_rows(expect: str, value: Any) -> list[Any]:
    if expect == "rejects":
        # Rows of csv.DictReader: a ragged record keeps its surplus fields, so it is no table.
        assert isinstance(value, list), f"expected the rejects as a list of rows, not {value!r}"
        rows = [(r["reject_reason"], int(r["source_record"]), r["email"]) for r in value]
        return sorted(rows, key=repr)
    columns = (
        ["list_id", "name", "lead_count"] if expect == "newest-catalog" else ["lead_id", "email"]
    )
    frame = _frame(value)
    missing = [c for c in columns if c not in frame.columns]
    assert not missing, f"result lacks columns {missing}; it has {list(frame.columns)}"
    rows = [tuple(_cell(v) for v in row) for row in frame[columns].itertuples(index=False)]
    return sorted(rows, key=repr)


READING = readme.snippets("reading")


def test_the_readme_shows_duckdb_pandas_and_pyarrow_readers_and_every_one_is_checked() -> None:
    code = "\n".join(s.code for s in READING)
    for library in ("import duckdb", "import pandas", "import pyarrow"):
        assert library in code, f"no tested README snippet does `{library}`"
    names = [s.expect for s in READING]
    assert None not in names, "every reading snippet needs an expect= name"
    assert sorted(set(names)) == sorted(EXPECTED), (
        "README reading snippets and this test's expectations differ: "
        f"README {sorted(set(names))}, test {sorted(EXPECTED)}"
    )
    assert EXAMPLE_LIST in readme.text()


@pytest.mark.parametrize("snippet", READING, ids=[s.label for s in READING])
def test_reading_snippet_returns_the_rows_written(
    snippet: readme.Snippet, data_folder: Path
) -> None:
    variable, expected = EXPECTED[str(snippet.expect)]
    namespace: dict[str, Any] = {"__name__": "readme_snippet"}
    exec(compile(snippet.code, snippet.label, "exec"), namespace)
    assert variable in namespace, f"the snippet must assign `{variable}`"
    got = _result_rows(str(snippet.expect), namespace[variable])
    assert got == sorted(expected, key=repr)


def test_io_manager_snippet_hands_the_newest_snapshot_to_a_users_asset(
    data_folder: Path,
) -> None:
    (snippet,) = readme.snippets("io-manager")
    namespace: dict[str, Any] = {"__name__": "readme_snippet"}
    exec(compile(snippet.code, snippet.label, "exec"), namespace)
    user_asset: dg.AssetsDefinition = namespace["reachable_leads"]
    merged: dg.Definitions = namespace["defs"]
    names = namespace["names"]
    keys = merged.resolve_all_asset_keys()
    assert user_asset.key in keys and names.snapshot_asset in keys
    assert names.snapshot_asset == dg.AssetKey(["inbound", "leads_snapshot"])

    lists = dg.DynamicPartitionsDefinition(name=names.partitions_lists)
    snapshot = dg.AssetSpec(names.snapshot_asset, partitions_def=lists)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(names.partitions_lists, [EXAMPLE_LIST, OTHER_LIST])
        result = dg.materialize(
            [snapshot.with_io_manager_key(names.io_manager), user_asset],
            selection=[user_asset.key],
            partition_key=EXAMPLE_LIST,
            instance=instance,
            resources={names.io_manager: LeadsSnapshotIOManager(data_dir="data")},
        )
    assert result.success
    frame = result.output_for_node("reachable_leads")
    expected = [row for row in _rows(EXAMPLE_DAY_2) if row[1] is not None]
    assert sorted(zip(frame["lead_id"], frame["email"], strict=True)) == sorted(expected)


FIXTURE_SNIPPETS = readme.snippets("sandbox-fixture")


def _fixture_tests() -> list[tuple[readme.Snippet, str]]:
    found = []
    for snippet in FIXTURE_SNIPPETS:
        namespace: dict[str, Any] = {}
        exec(compile(snippet.code, snippet.label, "exec"), namespace)
        found += [(snippet, name) for name in namespace if name.startswith("test_")]
    return found


def test_the_readme_shows_a_test_using_the_sandbox_fixture() -> None:
    assert _fixture_tests(), "no README snippet defines a test_… function"


@pytest.mark.parametrize(
    ("snippet", "name"), _fixture_tests(), ids=[n for _, n in _fixture_tests()]
)
def test_sandbox_fixture_snippet_passes(
    snippet: readme.Snippet, name: str, cleanlist_sandbox: Any
) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(snippet.code, snippet.label, "exec"), namespace)
    test_function: Callable[[Any], None] = namespace[name]
    test_function(cleanlist_sandbox)
