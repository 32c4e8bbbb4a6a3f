"""Every removed or rejected row lands in a rejects CSV a user can fix and drop again."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from cleanlist_pipeline.ingest import plan_file, write_rejects

Drop = Callable[..., Path]


def test_rejects_csv_lists_reason_record_line_and_the_original_row(
    drop: Drop, tmp_path: Path
) -> None:
    p = drop(
        "E-mail,Name,Notes\r\n"
        "ann@x.com,Ann,ok\r\n"
        'ANN@x.com,Ann again,"two\r\nlines"\r\n'
        "\r\n"
        "bob@x.com,Bob,one,too many\r\n"
        "José@x.com,José,fine\r\n"
    )
    plan = plan_file(p)
    out = tmp_path / "rejects" / "2025-01.csv"
    assert write_rejects(plan, out, p) == 2
    recs = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8"), newline="")))
    assert recs[0] == [
        "reject_reason",
        "reject_detail",
        "source_record",
        "source_line",
        "E-mail",
        "Name",
        "Notes",
        "extra_field_1",  # room for the ragged row's surplus field
    ]
    assert [r[0] for r in recs[1:]] == ["duplicate_email", "ragged_row"]
    assert [(r[2], r[3]) for r in recs[1:]] == [("3", "3"), ("5", "6")]
    assert recs[1][4:] == ["ANN@x.com", "Ann again", "two\r\nlines"]
    assert recs[2][4:] == ["bob@x.com", "Bob", "one", "too many"]
    assert "4 fields" in recs[2][1]


def test_rejects_of_a_windows_1252_drop_are_written_as_utf8(drop: Drop, tmp_path: Path) -> None:
    p = drop("Email,Name\nz@x.com,Zoë\nZ@x.com,Zoë Müller\n".encode("cp1252"))
    plan = plan_file(p)
    out = tmp_path / "r.csv"
    write_rejects(plan, out)
    assert out.read_text(encoding="utf-8").splitlines()[1].endswith("Z@x.com,Zoë Müller")


def test_a_fixed_rejects_file_can_be_dropped_again(drop: Drop, tmp_path: Path) -> None:
    p = drop("Email,Name\na@x.com,A\na@x.com,B\n")
    plan = plan_file(p)
    out = tmp_path / "again.csv"
    write_rejects(plan, out)
    again = plan_file(out)
    assert again.column_mapping == {"email": "Email", "full_name": "Name"}
    assert "reject_reason" in again.unmapped_columns and again.rows_planned == 1


def test_a_rejects_file_with_ragged_rows_reads_with_pandas(drop: Drop, tmp_path: Path) -> None:
    p = drop(
        "email,name\n"
        "a@x.com,A\n"
        "b@x.com,B,surplus\n"
        "c@x.com,C,one,two,three\n"
        "a@x.com,again\n"
        'd@x.com,"D, with comma",x,"y\nz"\n'
    )
    plan = plan_file(p)
    out = tmp_path / "rejects.csv"
    assert write_rejects(plan, out, p) == 4
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(df.columns)[4:] == [
        "email",
        "name",
        "extra_field_1",
        "extra_field_2",
        "extra_field_3",
    ]
    assert df["reject_reason"].tolist() == [
        "ragged_row",
        "ragged_row",
        "duplicate_email",
        "ragged_row",
    ]
    assert df["source_record"].tolist() == ["3", "4", "5", "6"]
    assert df.loc[1, ["extra_field_1", "extra_field_2", "extra_field_3"]].tolist() == [
        "one",
        "two",
        "three",
    ]
    assert df.loc[3, "name"] == "D, with comma" and df.loc[3, "extra_field_2"] == "y\nz"
    assert df.loc[2, "extra_field_1"] == ""  # rows without surplus leave the extra columns empty
