"""A chunk the server refuses with 413 is split and retried; every record lands once."""

from __future__ import annotations

from .conftest import HEADER, Pipeline, failure_message, lead_rows


def test_413_splits_the_chunk_and_imports_every_record(pipeline: Pipeline) -> None:
    p = pipeline
    # ~300-byte rows: 600 of them make a ~180 KB chunk, above the sandbox's 153,600-byte cap.
    (p.drops / "wide.csv").write_text(HEADER + lead_rows(600, pad=240))
    # A negative margin lets the planner pack chunks above the API's cap (a misconfiguration
    # the connector must survive).
    result = p.run("wide.csv", {"size_margin_bytes": -40_000})
    assert result.success, failure_message(result)
    assert p.lead_count() == 600
    meta = p.materialization("wide.csv")
    pieces = [piece for c in meta["chunk_results"] for piece in c["pieces"]]
    assert len(pieces) >= 2 and all(x["piece"] not in ("0", "1") for x in pieces)
    assert sum(x["records"] for x in pieces) == 600
    assert p.sandbox.ledger()["requests"]["POST /lead-lists/{list_id}/csv-import"] == 1 + len(
        pieces
    )

    # The ledger knows the pieces: a re-run sends nothing (not even the oversized chunk).
    requests = p.csv_requests()
    assert p.run("wide.csv", {"size_margin_bytes": -40_000}).success
    assert p.csv_requests() == requests and p.lead_count() == 600
