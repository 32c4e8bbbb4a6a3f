"""Header errors quote the header row without the personal data a missing header row exposes.

A drop without a header row has a lead in line 1; the header errors used to quote that row
verbatim, and a step failure's text reaches the event log, the compute logs and the UI. They now
give the column count and each header masked unless it looks like a column name: an e-mail
becomes ``j***@***.com``, anything else ``<value N: L chars>``. Real column names stay readable,
so the user can still fix the mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from reliability.harness import csv_bytes, find_list, lead_rows
from reliability.inprocess import InProcessDeployment

from cleanlist_pipeline.ingest import plan_file
from cleanlist_pipeline.ingest.errors import HeaderError
from cleanlist_pipeline.testing import SandboxHandle

Drop = Callable[..., Path]

# line 1 is a lead: the file has no header row
LEAD = ("jordan.quill@canary-mail.example", "+1 (415) 555-0199", "Jordan Quillfeather", "Acme")
PERSONAL = ("jordan", "quill", "canary-mail", "555-0199", "Quillfeather", "Acme")
NO_HEADER = ",".join(LEAD) + "\nsam@example.com,+1 415 555 0100,Sam Smith,Initech\n"


def _assert_no_personal_data(text: str) -> None:
    leaked = [p for p in PERSONAL if p.casefold() in text.casefold()]
    assert not leaked, f"{leaked} in {text!r}"


def test_no_header_row_is_reported_masked_when_inferring(drop: Drop) -> None:
    p = drop(NO_HEADER)
    with pytest.raises(HeaderError) as ei:
        plan_file(p)
    message = str(ei.value)
    _assert_no_personal_data(message)
    assert message.startswith(f"{p}: no header matches a known field")
    assert "4 columns: [<value 1: 32 chars>, <value 2: 17 chars>, <value 3: 19 chars>" in message
    assert "line 1 looks like data, not a header row" in message
    assert "add a header row" in message


def test_an_email_in_line_1_shows_only_its_shape(drop: Drop) -> None:
    p = drop("jane.doe@acme.com,Jane Doe\nx@y.com,X\n")
    with pytest.raises(HeaderError) as ei:
        plan_file(p)
    message = str(ei.value)
    assert "2 columns: [j***@***.com, <value 2: 8 chars>]" in message
    assert "jane" not in message.casefold() and "doe" not in message.casefold()


def test_no_header_row_is_reported_masked_with_an_explicit_mapping(drop: Drop) -> None:
    p = drop(NO_HEADER)
    with pytest.raises(HeaderError) as ei:
        plan_file(p, column_mapping={"email": "Email", "full_name": "Name"})
    message = str(ei.value)
    _assert_no_personal_data(message)
    # the mapping's own names are the user's configuration: shown, to say what is missing
    assert "mapped header(s) ['Email', 'Name'] not in the file's header row (4 columns:" in message
    assert "the file seems to lack a header row: add one" in message


def test_real_column_names_stay_readable(drop: Drop) -> None:
    p = drop("Lead Source,Notes,Revenue Q1 2024,E-mail\nweb,hi,10,a@x.com\n")
    with pytest.raises(HeaderError) as ei:
        plan_file(p, column_mapping={"email": "Email"})
    message = str(ei.value)
    assert "(4 columns: ['Lead Source', 'Notes', 'Revenue Q1 2024', 'E-mail'])" in message
    assert "looks like data" not in message


def test_a_wide_header_is_counted_not_listed(drop: Drop) -> None:
    p = drop(",".join(f"col{i}" for i in range(5_000)) + "\n" + "," * 4_999 + "\n")
    with pytest.raises(HeaderError) as ei:
        plan_file(p)
    message = str(ei.value)
    assert "5000 columns: ['col0', 'col1'," in message and "… 4980 more]" in message
    assert len(message) < 1_000


LIST = "Header privacy"


@pytest.fixture
def deployment(cleanlist_sandbox: SandboxHandle, tmp_path: Path) -> Iterator[InProcessDeployment]:
    dep = InProcessDeployment(tmp_path, cleanlist_sandbox.v2, cleanlist_sandbox.key, LIST)
    yield dep
    dep.close()


def test_a_run_of_a_drop_without_header_row_logs_no_personal_data(
    deployment: InProcessDeployment, cleanlist_sandbox: SandboxHandle
) -> None:
    """Through Dagster: the run fails before any call, the list keeps its rows, and neither the
    failure the UI shows nor any event of the run's log holds the lead's data."""
    deployment.write("good.csv", csv_bytes(lead_rows(5, tag="kept")))
    assert deployment.run("good.csv").success
    list_id, before = find_list(cleanlist_sandbox.ledger(), LIST)
    deployment.write("no_header.csv", NO_HEADER.encode())
    result = deployment.run("no_header.csv")
    assert not result.success
    assert "no_header.csv: no header matches a known field (header row: 4 columns:" in (
        result.message
    )
    _assert_no_personal_data(result.message)
    logs = deployment.instance.all_logs(result.run_id)
    assert logs
    _assert_no_personal_data("\n".join(str(entry) for entry in logs))
    assert cleanlist_sandbox.ledger()["lists"][list_id]["lead_count"] == before["lead_count"]
