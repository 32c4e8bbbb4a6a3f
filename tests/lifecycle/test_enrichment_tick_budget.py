"""The sensor's tick logic: request/time budgets, backoff, fairness, results, snapshot requests."""

from __future__ import annotations

import dagster as dg

from cleanlist_pipeline.api.errors import RateLimitedError, ServerError
from cleanlist_pipeline.dagster_layer.enrichment import (
    ENRICHMENT_CHECK,
    EVENT,
    Dispatch,
    EnrichmentCursor,
    PollPolicy,
    run_tick,
    snapshot_run_key,
)

from .fakes import Clock, FakeStatusAPI, finished, running

POLICY = PollPolicy(max_polls_per_tick=3, time_budget_s=20, min_interval_s=5, max_interval_s=60)


def dispatches(n: int, list_id: str = "L1") -> list[Dispatch]:
    return [Dispatch(f"wf-{i:02d}", list_id, "import:drop.csv") for i in range(n)]


def test_a_tick_spends_no_more_polls_than_its_request_budget() -> None:
    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    outcome = run_tick(state, dispatches(10), set(), api, POLICY, now=clock)
    assert outcome.polls == 3 and len(api.polls) == 3
    assert outcome.stopped_by == "request budget"
    assert len(state.pending) == 10  # nobody forgotten


def test_a_denied_rate_limit_token_ends_the_tick_without_a_request() -> None:
    api, clock, state = FakeStatusAPI(tokens=1), Clock(), EnrichmentCursor()
    outcome = run_tick(state, dispatches(5), set(), api, POLICY, now=clock)
    assert api.polls == ["wf-00"]
    assert outcome.stopped_by == "rate limit"


def test_a_429_from_the_api_ends_the_tick_and_keeps_the_workflow() -> None:
    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    api.statuses["wf-00"] = [RateLimitedError("slow down", status=429)]
    outcome = run_tick(state, dispatches(3), set(), api, POLICY, now=clock)
    assert api.polls == ["wf-00"] and outcome.stopped_by == "rate limited by the API"
    assert "wf-00" in state.pending


def test_the_time_budget_stops_a_slow_tick() -> None:
    clock = Clock()
    api = FakeStatusAPI()

    class SlowAPI(FakeStatusAPI):
        def enrichment_status(self, workflow_id: str):  # type: ignore[override]
            clock.advance(8)
            return api.enrichment_status(workflow_id)

    policy = PollPolicy(max_polls_per_tick=50, time_budget_s=20)
    outcome = run_tick(EnrichmentCursor(), dispatches(10), set(), SlowAPI(), policy, now=clock)
    assert outcome.polls == 3  # 0 s, 8 s, 16 s started; 24 s is over budget
    assert outcome.stopped_by == "time budget"


def test_the_poll_interval_backs_off_from_5_to_60_seconds_while_running() -> None:
    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    run_tick(state, dispatches(1), set(), api, POLICY, now=clock)
    gaps = []
    last = clock.t
    for _ in range(200):
        clock.advance(1)
        before = len(api.polls)
        run_tick(state, [], set(), api, POLICY, now=clock)
        if len(api.polls) > before:
            gaps.append(clock.t - last)
            last = clock.t
        if len(gaps) == 6:
            break
    assert gaps == [5, 10, 20, 40, 60, 60]


def test_a_backlog_is_served_least_recently_polled_first_without_starving_anyone() -> None:
    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    policy = PollPolicy(max_polls_per_tick=4, min_interval_s=0.0, max_interval_s=0.0)
    run_tick(state, dispatches(10), set(), api, policy, now=clock)
    for _ in range(4):
        clock.advance(1)
        run_tick(state, [], set(), api, policy, now=clock)
    # 20 polls over 10 workflows: everyone twice, in round-robin order
    assert sorted(api.polls[:10]) == [f"wf-{i:02d}" for i in range(10)]
    assert {api.polls.count(f"wf-{i:02d}") for i in range(10)} == {2}


def test_progress_is_observed_only_when_it_changes() -> None:
    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    api.statuses["wf-00"] = [running("wf-00", 2), running("wf-00", 2), running("wf-00", 6)]
    seen = []
    for _ in range(3):
        outcome = run_tick(state, dispatches(1), set(), api, POLICY, now=clock)
        seen += [e.metadata["processed/total"].value for e in outcome.asset_events]
        clock.advance(60)
    assert seen == ["2/10", "6/10"]


def test_a_completed_workflow_reports_credits_and_a_passing_check() -> None:
    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    api.statuses["wf-00"] = [finished("wf-00", credits_charged=27, credits_refunded=83)]
    outcome = run_tick(state, dispatches(1), set(), api, POLICY, now=clock)
    observation, check = outcome.asset_events
    assert isinstance(observation, dg.AssetObservation)
    assert observation.metadata[EVENT].value == "terminal"
    assert observation.metadata["credits_charged"].value == 27
    assert observation.metadata["credits_refunded"].value == 83
    assert observation.metadata["emails_found"].value == 7
    assert observation.partition == "L1"
    assert isinstance(check, dg.AssetCheckEvaluation)
    assert check.check_name == ENRICHMENT_CHECK and check.passed
    assert state.pending == {}


def test_failed_cancelled_and_pending_review_become_failed_checks_with_the_refund_message() -> None:
    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    message = "Credits for this run are under review; contact support with workflow wf-02."
    api.statuses = {
        "wf-00": [finished("wf-00", "failed")],
        "wf-01": [finished("wf-01", "cancelled")],
        "wf-02": [
            finished("wf-02", "failed", refund_status="pending_review", refund_message=message)
        ],
    }
    outcome = run_tick(state, dispatches(3), set(), api, POLICY, now=clock)
    checks = [e for e in outcome.asset_events if isinstance(e, dg.AssetCheckEvaluation)]
    assert [c.passed for c in checks] == [False, False, False]
    review = checks[2]
    assert review.metadata["refund_message"].value == message
    assert review.description == message


def test_a_vanished_workflow_is_finished_as_failed_not_polled_forever() -> None:
    from cleanlist_pipeline.api.errors import NotFoundError

    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    api.statuses["wf-00"] = [NotFoundError("gone", status=404, code="not_found")]
    outcome = run_tick(state, dispatches(1), set(), api, POLICY, now=clock)
    check = outcome.asset_events[1]
    assert not check.passed and "404" in check.metadata["refund_message"].value
    assert state.pending == {}


def test_a_server_error_backs_the_workflow_off_and_keeps_it() -> None:
    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    api.statuses["wf-00"] = [ServerError("boom", status=503), running("wf-00")]
    outcome = run_tick(state, dispatches(1), set(), api, POLICY, now=clock)
    assert outcome.asset_events == [] and state.pending["wf-00"].errors == 1
    assert state.pending["wf-00"].next_poll_at == clock.t + 10


def test_the_snapshot_is_requested_once_when_every_workflow_of_the_list_is_terminal() -> None:
    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    api.statuses = {"wf-00": [finished("wf-00")], "wf-01": [running("wf-01"), finished("wf-01")]}
    first = run_tick(state, dispatches(2), set(), api, POLICY, now=clock)
    assert first.run_requests == []  # wf-01 still running
    clock.advance(5)
    second = run_tick(state, [], set(), api, POLICY, now=clock)
    (request,) = second.run_requests
    assert request.partition_key == "L1"
    assert request.run_key == snapshot_run_key("L1", ["wf-00", "wf-01"])
    clock.advance(60)
    assert run_tick(state, [], set(), api, POLICY, now=clock).run_requests == []


def test_lists_are_independent() -> None:
    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    api.statuses = {"a": [finished("a")], "b": [running("b")]}
    outcome = run_tick(
        state, [Dispatch("a", "LA", "x"), Dispatch("b", "LB", "x")], set(), api, POLICY, now=clock
    )
    assert [r.partition_key for r in outcome.run_requests] == ["LA"]


def test_new_lists_are_reported_for_partition_registration() -> None:
    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    outcome = run_tick(
        state,
        dispatches(2, "LNEW"),
        set(),
        api,
        POLICY,
        now=clock,
        known_lists=lambda list_id: list_id != "LNEW",
    )
    assert outcome.new_lists == ["LNEW"]


def test_a_workflow_another_evaluator_already_finished_is_not_reported_again() -> None:
    api, clock, state = FakeStatusAPI(), Clock(), EnrichmentCursor()
    api.statuses["wf-00"] = [running("wf-00"), finished("wf-00")]
    finished_elsewhere: set[str] = set()
    lookup = lambda d: d.workflow_id in finished_elsewhere  # noqa: E731
    run_tick(state, dispatches(1), set(), api, POLICY, now=clock, already_finished=lookup)
    finished_elsewhere.add("wf-00")  # e.g. a CLI run ticking beside the daemon
    clock.advance(5)
    outcome = run_tick(state, [], set(), api, POLICY, now=clock, already_finished=lookup)
    assert outcome.asset_events == []
    assert state.pending == {} and len(outcome.run_requests) == 1
