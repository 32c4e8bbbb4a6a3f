"""Drops are immutable: a changed drop is refused; ``append`` imports only new records;
``force`` re-imports everything and warns that the list will hold duplicates."""

from __future__ import annotations

from .conftest import HEADER, Pipeline, failure_message, lead_rows


def test_changed_drop_is_refused_then_append_then_force(pipeline: Pipeline) -> None:
    p = pipeline
    drop = p.drops / "jan.csv"
    drop.write_text(HEADER + lead_rows(30))
    assert p.run("jan.csv").success
    assert p.lead_count() == 30

    drop.write_text(HEADER + lead_rows(30) + lead_rows(12, start=1000))
    executed = p.imports_executed()
    refused = p.run("jan.csv")
    assert not refused.success
    message = failure_message(refused)
    assert "changed since its last import" in message
    assert "mode: append" in message and "mode: force" in message
    assert p.imports_executed() == executed and p.lead_count() == 30

    appended = p.run("jan.csv", {"mode": "append"})
    assert appended.success, failure_message(appended)
    assert p.lead_count() == 42
    meta = p.materialization("jan.csv")
    assert meta["already_imported"] == 30 and meta["rows_imported"] == 12
    assert {e.check_name: e.passed for e in appended.get_asset_check_evaluations()} == {
        "every_record_accounted_for": True,
        "no_chunk_failed": True,
    }

    # A plain re-run of the appended content continues the append: nothing new.
    assert p.run("jan.csv").success
    assert p.lead_count() == 42

    forced = p.run("jan.csv", {"mode": "force"})
    assert forced.success, failure_message(forced)
    assert p.lead_count() == 84
    meta = p.materialization("jan.csv")
    assert "duplicates" in meta["report"] and "Warning" in meta["report"]
    salts = {e.salt for e in p.ledger("jan.csv") if e.mode == "force"}
    assert len(salts) == 1 and "" not in salts

    # Re-running after force imports nothing more (any salt counts in the default mode).
    assert p.run("jan.csv").success
    assert p.lead_count() == 84
