"""Every sample drop imports; the list holds exactly what was imported; re-runs import nothing,
also after the API's 24 h replay window has passed."""

from __future__ import annotations

from pathlib import Path

from cleanlist_pipeline.dagster_layer.drops import scan_drops
from cleanlist_pipeline.dropstore import rejects_name

from .conftest import Pipeline, failure_message


def test_each_sample_drop_imports_and_reruns_import_nothing(sample_pipeline: Pipeline) -> None:
    p = sample_pipeline
    keys = [d.key for d in scan_drops(p.drops)]
    assert keys, "no sample drops"

    imported = 0
    for key in keys:
        result = p.run(key)
        assert result.success, f"{key}: {failure_message(result)}"
        meta = p.materialization(key)
        imported += meta["rows_imported"]
        assert "accounted for" in meta["report"]
        assert meta["target"] and meta["cleanlist_mode"]
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks == {"every_record_accounted_for": True, "no_chunk_failed": True}, checks
    assert imported > 0
    assert p.lead_count() == imported

    # Re-run every partition: nothing imported, nothing charged, no csv-import request at all.
    executed, requests = p.imports_executed(), p.csv_requests()
    credits = p.sandbox.ledger()["credits"]["charged_total"]
    for key in keys:
        assert p.run(key).success
        assert p.materialization(key)["chunks_from_ledger"] == p.materialization(key)["chunks"]
    assert (p.imports_executed(), p.csv_requests()) == (executed, requests)
    assert p.sandbox.ledger()["credits"]["charged_total"] == credits
    assert p.lead_count() == imported

    # Past the server's 24 h idempotency window a replay would not protect us: the ledger does.
    p.sandbox.advance_clock(25 * 3600)
    for key in keys:
        assert p.run(key).success
    assert (p.imports_executed(), p.csv_requests()) == (executed, requests)
    assert p.lead_count() == imported


def test_rejects_are_written_and_reported_by_record_number(pipeline: Pipeline) -> None:
    p = pipeline
    body = (
        "first_name,last_name,email,company_name,job_title\n"
        "Ann,Lee,ann@example.com,Acme,CEO\n"
        "Ann,Lee,ANN@example.com ,Acme,CEO\n"  # duplicate e-mail (record 3)
        "Bob,Ray,,,\n"  # nothing to identify a lead: predicted missing_required (record 4)
        "Cy,Ng,cy@example.com,Acme,CTO\n"
    )
    (p.drops / "small.csv").write_text(body)
    result = p.run("small.csv")
    assert result.success, failure_message(result)
    meta = p.materialization("small.csv")
    assert meta["data_records"] == 4
    report = meta["report"]
    assert "ann@example.com" not in report.lower()  # counts and record numbers, never contents
    assert (
        meta["rows_imported"] + meta["rows_skipped"] + meta["removed_duplicates"] + meta["rejected"]
        == 4
    )
    assert meta["removed_duplicates"] + meta["rows_skipped"] >= 2
    if meta["removed_duplicates"] or meta["rejected"]:
        rejects = Path(p.settings.data_dir) / "rejects" / rejects_name("small.csv")
        assert rejects.is_file()
        assert "3" in rejects.read_text()
