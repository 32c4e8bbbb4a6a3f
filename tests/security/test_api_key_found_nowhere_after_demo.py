"""After a full demo-style run with a canary key, the key is in no byte the deployment keeps.

Searched: all of DAGSTER_HOME (run storage, event log, schedules/sensor state, compute logs,
step outputs, the client's rate-limiter database, the sandbox database), the data folder
(Parquet snapshots, rejects, reports), and the stdout/stderr of every process (runs, sensor
ticks, the sandbox). Forms: plain, base64 at every alignment, URL-safe base64, UTF-16, hex, and
the bare ``LEAKCANARY`` marker (catches truncated keys such as ``clapi_LEAKCANARY…``).
"""

from __future__ import annotations

import pytest

from .conftest import DemoRun
from .scan import forms_of, scan_files

# They share one demo-style deployment run (about half a minute).
pytestmark = pytest.mark.slow


def test_the_key_is_in_no_file_log_or_database(finished_demo: DemoRun) -> None:
    demo = finished_demo
    assert demo.cli is not None and demo.cli.returncode == 0, (
        demo.deployment.logs / "cli-run.stderr"
    ).read_text(errors="replace")[-3000:]
    assert demo.outcomes[0].success, demo.outcomes[0].failure_text
    assert not demo.outcomes[1].success, "the import into a foreign list id must fail"
    assert any(t["launched"] for t in demo.ticks), f"no snapshot run was launched: {demo.ticks}"

    needles = forms_of(demo.api_key, "api key")
    needles["canary marker"] = b"LEAKCANARY"
    files = list(demo.deployment.files())
    hits, scanned, total = scan_files(files, needles)
    assert not hits, "the API key leaked:\n" + "\n".join(map(str, hits))

    # The scan looked where it matters (not a vacuous pass).
    names = [str(p) for p in files]
    assert any(n.endswith("cleanlist-sandbox.sqlite") for n in names)
    assert any(n.endswith("cleanlist-ratelimit.sqlite") for n in names)
    assert any(n.endswith(".parquet") for n in names), "no Parquet snapshot was written"
    assert any("/compute_logs/" in n or n.endswith((".out", ".err")) for n in names)
    assert any("runs" in n and n.endswith(".db") for n in names), "no run/event-log database"
    assert any(n.endswith(".stderr") for n in names)
    assert scanned >= 10 and total > 100_000


def test_the_failed_run_reports_its_cause_without_the_key(finished_demo: DemoRun) -> None:
    failed = finished_demo.outcomes[1]
    text = failed.failure_text
    assert "lst_not_ours_0000" in text, text
    assert finished_demo.api_key not in text and "LEAKCANARY" not in text
