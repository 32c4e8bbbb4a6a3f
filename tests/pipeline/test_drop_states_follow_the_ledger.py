"""``drop_states`` — what ``cleanlist-pipeline status`` prints and the drop sensor decides by —
follows the ledger: not imported, imported (with its rows), changed, failed chunks."""

from __future__ import annotations

from cleanlist_pipeline.dagster_layer.drop_state import State, drop_states
from cleanlist_pipeline.dagster_layer.drops import scan_drops

from .conftest import HEADER, Pipeline, lead_rows
from .test_failed_run_keeps_its_ledger import CALLS, FailingResource


def _states(p: Pipeline) -> dict[str, object]:
    return {s.key: s for s in drop_states(p.instance, p.settings, scan_drops(p.drops))}


def test_states_follow_imports_changes_and_failures(pipeline: Pipeline) -> None:
    p = pipeline
    (p.drops / "new.csv").write_text(HEADER + lead_rows(5))
    (p.drops / "done.csv").write_text(HEADER + lead_rows(7, start=100))
    (p.drops / "big.csv").write_text(HEADER + lead_rows(1800, start=1000))  # 3 chunks
    assert p.run("done.csv").success
    CALLS["csv_import"] = 0
    flaky = FailingResource(**p.resource_kwargs, ok_imports=1)
    assert not p.run("big.csv", {"step_retry_seconds": 0}, resource=flaky).success

    states = _states(p)
    assert states["new.csv"].state is State.NOT_IMPORTED and states["new.csv"].needs_import
    done = states["done.csv"]
    assert done.state is State.IMPORTED and not done.needs_import
    assert (done.rows_imported, done.chunks_imported) == (7, 1)
    assert done.describe() == "imported: 7 rows in 1 chunk(s)"
    big = states["big.csv"]
    assert big.state is State.FAILED
    assert (big.chunks_imported, big.failed_chunks) == (1, 2)
    assert "2 chunk(s) failed" in big.describe()

    # Re-running clears the failures; changing a drop after import marks it changed.
    assert p.run("big.csv").success
    (p.drops / "done.csv").write_text(HEADER + lead_rows(8, start=100))
    states = _states(p)
    assert states["big.csv"].state is State.IMPORTED
    assert states["big.csv"].rows_imported == 1800
    changed = states["done.csv"]
    assert changed.state is State.CHANGED and not changed.needs_import
    assert "mode: append" in changed.describe()
