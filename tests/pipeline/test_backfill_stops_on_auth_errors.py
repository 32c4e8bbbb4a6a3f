"""A 401/403 or an exhausted budget in one run of a backfill stops its remaining partitions."""

from __future__ import annotations

import time

from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

from cleanlist_pipeline.dagster_layer.ledger import IMPORT_ASSET_KEY

from .conftest import HEADER, Pipeline, failure_message, lead_rows, make_resource


def test_insufficient_scope_stops_the_rest_of_the_backfill(pipeline: Pipeline) -> None:
    p = pipeline
    for i in range(3):
        (p.drops / f"d{i}.csv").write_text(HEADER + lead_rows(5, start=i * 10))
    read_only = make_resource(p.sandbox, p.sandbox.add_key(scopes=["lists:read"]))
    tags = {"dagster/backfill": "bf-scope"}

    first = p.run("d0.csv", tags=tags, resource=read_only)
    assert not first.success
    assert "403" in failure_message(first)

    requests = sum(p.sandbox.ledger()["requests"].values())
    # Later runs of the same backfill end at once, even with a good key, without calling the API.
    for key in ("d1.csv", "d2.csv"):
        later = p.run(key, tags=tags)
        assert not later.success
        message = failure_message(later)
        assert "bf-scope was stopped" in message and "403" in message
    assert sum(p.sandbox.ledger()["requests"].values()) == requests
    assert p.imports_executed() == 0

    # Runs outside that backfill are unaffected.
    assert p.run("d1.csv").success


def test_401_stops_the_backfill_and_cancels_it(pipeline: Pipeline) -> None:
    p = pipeline
    (p.drops / "a.csv").write_text(HEADER + lead_rows(5))
    (p.drops / "b.csv").write_text(HEADER + lead_rows(5, start=10))
    p.register("a.csv", "b.csv")
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id="bf-401",
        asset_graph=p.definitions().resolve_asset_graph(),
        partition_names=["a.csv", "b.csv"],
        asset_selection=[IMPORT_ASSET_KEY],
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=p.instance,
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )
    p.instance.add_backfill(backfill)
    revoked = make_resource(p.sandbox, "clapi_" + "x" * 64)
    tags = {"dagster/backfill": "bf-401"}

    assert "401" in failure_message(p.run("a.csv", tags=tags, resource=revoked))

    # The backfill daemon launches no further partitions of a cancelling backfill...
    stored = p.instance.get_backfill("bf-401")
    assert stored is not None and stored.status == BulkActionStatus.CANCELING
    # ...and a run it had already launched ends at once.
    assert "bf-401 was stopped" in failure_message(p.run("b.csv", tags=tags))


def test_backfill_wide_budget_stops_when_exhausted(pipeline: Pipeline) -> None:
    p = pipeline
    for i in range(3):
        (p.drops / f"p{i}.csv").write_text(HEADER + lead_rows(30, start=i * 100))
    config = {"dispatch_enrichment": True, "enrichment_type": "partial", "max_credits": 70}
    tags = {"dagster/backfill": "bf-budget"}
    assert p.run("p0.csv", config, tags=tags).success  # 30 of 70
    assert p.run("p1.csv", config, tags=tags).success  # 60 of 70
    third = p.run("p2.csv", config, tags=tags)  # 90 > 70
    assert not third.success
    assert "budget max_credits=70" in failure_message(third)
    assert p.lead_count() == 60


def test_budget_can_come_from_a_backfill_tag(pipeline: Pipeline) -> None:
    """The UI's backfill dialog takes tags, not run config: ``cleanlist/max_credits`` works too."""
    p = pipeline
    for i in range(2):
        (p.drops / f"t{i}.csv").write_text(HEADER + lead_rows(30, start=i * 100))
    config = {"dispatch_enrichment": True, "enrichment_type": "partial"}
    tags = {"dagster/backfill": "bf-tag", "cleanlist/max_credits": "40"}
    assert p.run("t0.csv", config, tags=tags).success  # 30 of 40
    second = p.run("t1.csv", config, tags=tags)  # 60 > 40
    assert not second.success
    assert "budget max_credits=40" in failure_message(second)
