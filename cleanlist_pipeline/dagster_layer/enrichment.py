"""Enrichment: the sensor that watches workflows, and the enrich-later asset that starts them.

Where workflows come from (both live in Dagster's event log, never in a side file):

* the import ledger: chunk observations on ``cleanlist_csv_import`` with a ``workflow_id``
  (``ledger.iter_ledger``);
* ``cleanlist_enrichment`` observations with ``cleanlist/event = dispatched``, written by the
  enrich-later asset the moment the API answers.

The sensor polls ``GET /enrichment/status/{id}`` for workflows not yet terminal. Polls count
against the key's rate limit, so a tick spends at most ``max_polls_per_tick`` requests, each only
when ``client.try_acquire()`` grants a token, and stops after ``time_budget_s`` (Dagster kills a
sensor evaluation after 60 s). Each workflow's interval doubles from ``min_interval_s`` to
``max_interval_s`` while it runs, and due workflows are served least-recently-polled first, so a
large backlog is worked through without starving anyone.

Every poll that shows change becomes an ``AssetObservation`` on ``cleanlist_enrichment`` (partition
= list id). A terminal status becomes a final observation (``cleanlist/event = terminal``, with
``credits_charged``/``credits_refunded``) and an ``enrichment_succeeded`` check evaluation, failed
for ``failed``/``cancelled`` or ``refund_status = pending_review`` (``refund_message`` shown as
given). When every workflow seen for a list is terminal, the sensor requests one
``leads_snapshot`` run for that list; its run key names the workflows, so it is requested once.

State lives in the sensor cursor (JSON): event-log positions read so far and the workflows still
pending. Terminal observations are read back too, so a tick whose cursor was not saved (daemon
killed mid-tick) does not finish a workflow twice.
"""

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from cleanlist_pipeline.api.errors import (
    AuthenticationError,
    CleanlistError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from cleanlist_pipeline.dagster_layer.ledger import iter_ledger
from cleanlist_pipeline.dagster_layer.resources import CleanlistResource
from cleanlist_pipeline.dagster_layer.snapshots import LISTS_PARTITIONS

ENRICHMENT_KEY = dg.AssetKey("cleanlist_enrichment")
ENRICHMENT_CHECK = "enrichment_succeeded"
SENSOR_NAME = "cleanlist_enrichment_sensor"
EVENT = "cleanlist/event"  # metadata key: dispatched | progress | terminal
FAILED_STATUSES = frozenset({"failed", "cancelled"})
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
_PAGE = 1000

# ``POST /enrichment/bulk`` spells the scope with a hyphen; csv-import and the estimate's
# ``enrichment_type`` use an underscore (reference §8.12).
BULK_SCOPE = {"partial": "partial", "phone_only": "phone-only", "full": "full"}
DATA_POINTS = {"partial": ["Email"], "phone_only": ["Phone"], "full": ["Email", "Phone"]}
EnrichmentType = Literal["partial", "phone_only", "full"]


# ---------------------------------------------------------------------------------------------
# Sensor state
# ---------------------------------------------------------------------------------------------


@dataclass
class TrackedWorkflow:
    """A dispatched workflow the sensor has not yet seen terminal."""

    workflow_id: str
    list_id: str
    source: str
    seen_at: float
    next_poll_at: float
    interval_s: float
    last_polled_at: float = 0.0
    poll_seq: int = 0  # position in the global poll order; 0 = never polled
    status: str = "pending"
    processed: int | None = None
    errors: int = 0


@dataclass
class EnrichmentCursor:
    """The sensor's whole state, stored as JSON in the sensor cursor."""

    import_after: int = 0
    enrich_after: int = 0
    polls: int = 0  # polls ever made: orders workflows least-recently-polled first
    pending: dict[str, TrackedWorkflow] = field(default_factory=dict)
    # list_id -> workflow ids finished since that list's last snapshot request
    finished: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | None) -> "EnrichmentCursor":
        """Parse a cursor; ``None``/empty gives a fresh state.

        >>> EnrichmentCursor.from_json(None).pending
        {}
        """
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            import_after=int(data.get("import_after", 0)),
            enrich_after=int(data.get("enrich_after", 0)),
            polls=int(data.get("polls", 0)),
            pending={wid: TrackedWorkflow(**item) for wid, item in data.get("pending", {}).items()},
            finished={k: list(v) for k, v in data.get("finished", {}).items()},
        )

    def to_json(self) -> str:
        """Serialize (stable key order, so unchanged state gives an unchanged cursor)."""
        return json.dumps(
            {
                "v": 1,
                "import_after": self.import_after,
                "enrich_after": self.enrich_after,
                "polls": self.polls,
                "pending": {wid: asdict(w) for wid, w in sorted(self.pending.items())},
                "finished": {k: sorted(v) for k, v in sorted(self.finished.items())},
            },
            sort_keys=True,
        )

    def open_lists(self) -> set[str]:
        """Lists with at least one workflow still pending."""
        return {w.list_id for w in self.pending.values()}


@dataclass(frozen=True)
class PollPolicy:
    """How hard one tick may poll."""

    max_polls_per_tick: int = 10
    time_budget_s: float = 20.0
    min_interval_s: float = 5.0
    max_interval_s: float = 60.0


def snapshot_run_key(list_id: str, workflow_ids: Iterable[str]) -> str:
    """Run key of the snapshot requested once the given workflows of a list are all terminal.

    >>> snapshot_run_key("L1", ["b", "a"]) == snapshot_run_key("L1", ["a", "b"])
    True
    """
    digest = hashlib.sha256("\n".join(sorted(set(workflow_ids))).encode()).hexdigest()[:16]
    return f"leads_snapshot:{list_id}:{digest}"


# ---------------------------------------------------------------------------------------------
# Reading the event log
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dispatch:
    """A workflow found in the event log."""

    workflow_id: str
    list_id: str
    source: str


def _meta(metadata: dict[str, Any], name: str, default: Any = None) -> Any:
    value = getattr(metadata.get(name), "value", metadata.get(name))
    return default if value is None else value


def _iter_observations(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, after: int
) -> Iterator[dg.EventLogRecord]:
    records_filter = dg.AssetRecordsFilter(asset_key=asset_key, after_storage_id=after or None)
    cursor: str | None = None
    while True:
        result = instance.fetch_observations(
            records_filter, limit=_PAGE, cursor=cursor, ascending=True
        )
        yield from result.records
        if not result.has_more:
            return
        cursor = result.cursor


def read_new_events(
    instance: dg.DagsterInstance, state: EnrichmentCursor
) -> tuple[list[Dispatch], set[str]]:
    """Dispatches and terminal workflow ids recorded since the cursor; advances the cursor."""
    dispatches: list[Dispatch] = []
    terminal: set[str] = set()
    for entry in iter_ledger(instance, after_storage_id=state.import_after or None):
        state.import_after = max(state.import_after, entry.storage_id)
        if entry.imported and entry.workflow_id and entry.list_id:
            dispatches.append(
                Dispatch(entry.workflow_id, entry.list_id, f"import:{entry.partition_key}")
            )
    for record in _iter_observations(instance, ENRICHMENT_KEY, state.enrich_after):
        state.enrich_after = max(state.enrich_after, record.storage_id)
        observation = record.asset_observation
        if observation is None:
            continue
        meta = dict(observation.metadata)
        workflow_id = _meta(meta, "workflow_id")
        if not workflow_id:
            continue
        kind = _meta(meta, EVENT)
        if kind == "dispatched":
            list_id = _meta(meta, "list_id") or record.partition_key
            dispatches.append(Dispatch(str(workflow_id), str(list_id), "enrich-later"))
        elif kind == "terminal":
            terminal.add(str(workflow_id))
    return dispatches, terminal


class FinishedLookup:
    """Is there a terminal observation for a workflow? One event-log read per list and tick."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self._instance = instance
        self._by_list: dict[str, set[str]] = {}

    def __call__(self, dispatch: Dispatch) -> bool:
        if dispatch.list_id not in self._by_list:
            finished: set[str] = set()
            records_filter = dg.AssetRecordsFilter(
                asset_key=ENRICHMENT_KEY, asset_partitions=[dispatch.list_id]
            )
            cursor: str | None = None
            while True:
                result = self._instance.fetch_observations(
                    records_filter, limit=_PAGE, cursor=cursor
                )
                for record in result.records:
                    observation = record.asset_observation
                    meta = dict(observation.metadata) if observation is not None else {}
                    if _meta(meta, EVENT) == "terminal" and _meta(meta, "workflow_id"):
                        finished.add(str(_meta(meta, "workflow_id")))
                if not result.has_more:
                    break
                cursor = result.cursor
            self._by_list[dispatch.list_id] = finished
        return dispatch.workflow_id in self._by_list[dispatch.list_id]


# ---------------------------------------------------------------------------------------------
# One tick
# ---------------------------------------------------------------------------------------------


@dataclass
class TickOutcome:
    """What one evaluation produced (turned into a ``SensorResult`` by the sensor)."""

    asset_events: list[dg.AssetObservation | dg.AssetCheckEvaluation] = field(default_factory=list)
    run_requests: list[dg.RunRequest] = field(default_factory=list)
    new_lists: list[str] = field(default_factory=list)
    polls: int = 0
    stopped_by: str | None = None


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _progress_metadata(tracked: TrackedWorkflow, status: Any) -> dict[str, Any]:
    summary = dict(status.summary or {})
    total = _int(status.total)
    processed = _int(status.processed)
    meta: dict[str, Any] = {
        "workflow_id": tracked.workflow_id,
        "list_id": tracked.list_id,
        "source": tracked.source,
        "status": status.status,
        "processed/total": f"{processed if processed is not None else '?'}/"
        f"{total if total is not None else '?'}",
        "completed": _int(status.completed) or 0,
        "failed": _int(status.failed) or 0,
        "emails_found": _int(summary.get("emails_found")) or 0,
        "phones_found": _int(summary.get("phones_found")) or 0,
    }
    if status.progress is not None:
        meta["progress_pct"] = float(status.progress)
    return meta


def _terminal_events(
    tracked: TrackedWorkflow, status: Any
) -> list[dg.AssetObservation | dg.AssetCheckEvaluation]:
    meta = _progress_metadata(tracked, status)
    meta[EVENT] = "terminal"
    meta["credits_charged"] = _int(status.credits_charged) or 0
    meta["credits_refunded"] = _int(status.credits_refunded) or 0
    meta["refund_status"] = status.refund_status or "not_applicable"
    passed = status.status not in FAILED_STATUSES and status.refund_status != "pending_review"
    check_meta: dict[str, Any] = {
        "list_id": tracked.list_id,
        "workflow_id": tracked.workflow_id,
        "status": status.status,
        "credits_charged": meta["credits_charged"],
        "credits_refunded": meta["credits_refunded"],
        "refund_status": meta["refund_status"],
    }
    if status.refund_message:
        check_meta["refund_message"] = dg.MetadataValue.text(status.refund_message)
    description = None
    if not passed:
        description = status.refund_message or (
            f"enrichment workflow {tracked.workflow_id} ended {status.status}"
        )
    return [
        dg.AssetObservation(asset_key=ENRICHMENT_KEY, partition=tracked.list_id, metadata=meta),
        dg.AssetCheckEvaluation(
            asset_key=ENRICHMENT_KEY,
            check_name=ENRICHMENT_CHECK,
            passed=passed,
            metadata=check_meta,
            description=description,
        ),
    ]


@dataclass(frozen=True)
class _LostStatus:
    """Stands in for a status the API no longer knows (404 on an old handle)."""

    workflow_id: str
    status: str = "failed"
    progress: float | None = None
    total: int | None = None
    processed: int | None = None
    completed: int | None = None
    failed: int | None = None
    summary: dict[str, Any] | None = None
    credits_charged: int | None = None
    credits_refunded: int | None = None
    refund_status: str | None = None
    refund_message: str | None = (
        "The API answered 404 for this workflow handle: its status can no longer be read. "
        "Check the list's leads and your credit history in Cleanlist."
    )


@contextmanager
def _prepaid(client: Any) -> Iterator[None]:
    """Let the slot ``try_acquire()`` just took pay for the next request.

    The client's own limiter would otherwise take a second slot, blocking (up to minutes) when
    the window is full — too long for a sensor tick, and twice the budget for one request.
    """
    limiter = getattr(client, "limiter", None)
    if limiter is None:
        yield
        return
    try:
        client.limiter = None
    except AttributeError:  # a wrapper that forbids it: the client's acquire stays in place
        yield
        return
    try:
        yield
    finally:
        client.limiter = limiter


def run_tick(
    state: EnrichmentCursor,
    dispatches: list[Dispatch],
    terminal_seen: set[str],
    client: Any,
    policy: PollPolicy,
    *,
    now: Callable[[], float] = time.time,
    known_lists: Callable[[str], bool] = lambda _list_id: True,
    already_finished: Callable[[Dispatch], bool] = lambda _dispatch: False,
) -> TickOutcome:
    """Advance ``state`` by one tick: adopt new workflows, poll due ones, request snapshots.

    ``client`` needs ``try_acquire()`` and ``enrichment_status(workflow_id)``; ``now`` is a clock
    in seconds; ``already_finished`` says whether the event log already holds a terminal record
    of a workflow (a replayed import repeats an old workflow id). Pure apart from those, so it is
    testable without Dagster.
    """
    outcome = TickOutcome()
    started = now()
    for workflow_id in terminal_seen:
        # A terminal observation we emitted whose tick's cursor was lost: already finished.
        tracked = state.pending.pop(workflow_id, None)
        if tracked is not None:
            state.finished.setdefault(tracked.list_id, []).append(workflow_id)
    finished_ids = {wid for ids in state.finished.values() for wid in ids}
    for dispatch in dispatches:
        wid = dispatch.workflow_id
        if wid in state.pending or wid in terminal_seen or wid in finished_ids:
            continue
        if already_finished(dispatch):
            finished_ids.add(wid)
            continue
        state.pending[wid] = TrackedWorkflow(
            workflow_id=wid,
            list_id=dispatch.list_id,
            source=dispatch.source,
            seen_at=started,
            next_poll_at=started,
            interval_s=policy.min_interval_s,
        )
        if dispatch.list_id not in outcome.new_lists and not known_lists(dispatch.list_id):
            outcome.new_lists.append(dispatch.list_id)

    due = sorted(
        (w for w in state.pending.values() if w.next_poll_at <= started),
        key=lambda w: (w.poll_seq, w.seen_at, w.workflow_id),
    )
    for tracked in due:
        if outcome.polls >= policy.max_polls_per_tick:
            outcome.stopped_by = "request budget"
            break
        if now() - started >= policy.time_budget_s:
            outcome.stopped_by = "time budget"
            break
        if not client.try_acquire():
            outcome.stopped_by = "rate limit"
            break
        outcome.polls += 1
        state.polls += 1
        polled_at = now()
        tracked.last_polled_at = polled_at
        tracked.poll_seq = state.polls
        try:
            with _prepaid(client):
                status: Any = client.enrichment_status(tracked.workflow_id)
        except RateLimitedError:
            tracked.next_poll_at = polled_at + tracked.interval_s
            outcome.stopped_by = "rate limited by the API"
            break
        except NotFoundError:
            status = _LostStatus(tracked.workflow_id)
        except (AuthenticationError, PermissionDeniedError):
            # A key problem (revoked, missing enrich:read) fails the tick visibly; the cursor of
            # a failed tick is not saved, so nothing is lost.
            raise
        except CleanlistError:
            # Transient (5xx, transport) or unexpected: keep the workflow, back off.
            tracked.errors += 1
            tracked.interval_s = min(tracked.interval_s * 2, policy.max_interval_s)
            tracked.next_poll_at = polled_at + tracked.interval_s
            continue
        tracked.errors = 0
        if status.status in TERMINAL_STATUSES:
            # Another evaluator (a CLI run beside the daemon) may have recorded it already.
            if not already_finished(Dispatch(tracked.workflow_id, tracked.list_id, "")):
                outcome.asset_events.extend(_terminal_events(tracked, status))
            del state.pending[tracked.workflow_id]
            state.finished.setdefault(tracked.list_id, []).append(tracked.workflow_id)
            continue
        processed = _int(status.processed)
        if status.status != tracked.status or processed != tracked.processed:
            meta = _progress_metadata(tracked, status)
            meta[EVENT] = "progress"
            outcome.asset_events.append(
                dg.AssetObservation(
                    asset_key=ENRICHMENT_KEY, partition=tracked.list_id, metadata=meta
                )
            )
        tracked.status = status.status
        tracked.processed = processed
        tracked.next_poll_at = polled_at + tracked.interval_s
        tracked.interval_s = min(tracked.interval_s * 2, policy.max_interval_s)

    open_lists = state.open_lists()
    for list_id in sorted(state.finished):
        if list_id in open_lists:
            continue
        workflow_ids = state.finished.pop(list_id)
        outcome.run_requests.append(
            dg.RunRequest(
                run_key=snapshot_run_key(list_id, workflow_ids),
                partition_key=list_id,
                tags={"cleanlist/list_id": list_id, "cleanlist/trigger": "enrichment"},
            )
        )
        if list_id not in outcome.new_lists and not known_lists(list_id):
            outcome.new_lists.append(list_id)
    return outcome


def build_enrichment_sensor(
    job: UnresolvedAssetJobDefinition | dg.JobDefinition,
    *,
    embedded: bool,
    policy: PollPolicy | None = None,
    minimum_interval_seconds: int | None = None,
) -> dg.SensorDefinition:
    """The enrichment sensor; it requests ``job`` (the snapshot job) per finished list."""
    policy = policy or PollPolicy()
    interval = minimum_interval_seconds or (5 if embedded else 30)

    @dg.sensor(
        name=SENSOR_NAME,
        job=job,
        minimum_interval_seconds=interval,
        default_status=(
            dg.DefaultSensorStatus.RUNNING if embedded else dg.DefaultSensorStatus.STOPPED
        ),
        description=(
            "Polls Cleanlist enrichment workflows found in the import ledger and enrich-later "
            "runs; records progress and results; requests a leads snapshot per finished list."
        ),
    )
    def cleanlist_enrichment_sensor(
        context: dg.SensorEvaluationContext, cleanlist: CleanlistResource
    ) -> dg.SensorResult:
        state = EnrichmentCursor.from_json(context.cursor)
        dispatches, terminal = read_new_events(context.instance, state)
        if not state.pending and not dispatches and not state.finished:
            return dg.SensorResult(
                skip_reason="no enrichment workflows pending", cursor=state.to_json()
            )
        known = set(context.instance.get_dynamic_partitions(LISTS_PARTITIONS.name))
        finished_lookup = FinishedLookup(context.instance)
        with cleanlist.get_client() as client:
            outcome = run_tick(
                state,
                dispatches,
                terminal,
                client,
                policy,
                known_lists=known.__contains__,
                already_finished=finished_lookup,
            )
        if outcome.stopped_by:
            context.log.info(
                f"polled {outcome.polls} workflows; stopped by the {outcome.stopped_by}; "
                f"{len(state.pending)} still pending"
            )
        partition_requests = (
            [LISTS_PARTITIONS.build_add_request(outcome.new_lists)] if outcome.new_lists else []
        )
        skip = None
        if not outcome.run_requests:
            skip = f"{len(state.pending)} workflows pending, {outcome.polls} polled"
        return dg.SensorResult(
            run_requests=outcome.run_requests,
            skip_reason=skip,
            cursor=state.to_json(),
            asset_events=outcome.asset_events,
            dynamic_partitions_requests=partition_requests,
        )

    return cleanlist_enrichment_sensor


# ---------------------------------------------------------------------------------------------
# Enrich later: leads already imported
# ---------------------------------------------------------------------------------------------

# Tools priced by ``POST /credits/estimate``: ``enrich_list`` for the bulk call; cohort
# enrichment (``POST /enrichment/by-task``) is priced as ``add_person_enrichments``.
BULK_TOOL = "enrich_list"
# The estimate tool for ``POST /enrichment/by-task`` is not documented; the SDK's examples name
# ``add_person_enrichments``, the sandbox (reference §9) ``enrich_by_task``. Try one, then the
# other when the server calls the tool unknown (400).
BY_TASK_TOOLS = ("enrich_by_task", "add_person_enrichments")
# Worst-case credits per lead (the reservation); what is charged is pay-for-results.
UNIT_COST = {"partial": 1, "phone_only": 10, "full": 11}


class SpendGuardError(dg.Failure):
    """A quote exceeded ``max_credits`` or the balance: nothing (more) was dispatched."""


class EnrichConfig(dg.Config):
    """Run config of ``cleanlist_enrichment`` (the partition is the list to enrich)."""

    enrichment_type: EnrichmentType = "partial"
    """partial = email (1 credit/lead), phone_only = phone (10), full = both (11)."""
    max_credits: int | None = None
    """Refuse to dispatch when the quoted cost exceeds this many credits."""
    only_missing: bool = False
    """Only leads still missing what ``enrichment_type`` finds, via each page's cohort task_id
    and ``POST /enrichment/by-task``; otherwise the whole list via ``POST /enrichment/bulk``."""


def needs_enrichment(lead: Any, enrichment_type: str) -> bool:
    """Is ``lead`` still missing what ``enrichment_type`` would find?

    >>> needs_enrichment({"email": "a@b.c", "phone": None}, "partial")
    False
    >>> needs_enrichment({"email": "a@b.c", "phone": None}, "full")
    True
    """
    email = lead.get("email") if isinstance(lead, dict) else getattr(lead, "email", None)
    phone = lead.get("phone") if isinstance(lead, dict) else getattr(lead, "phone", None)
    if enrichment_type == "partial":
        return not email
    if enrichment_type == "phone_only":
        return not phone
    return not email or not phone


def guard_quote(quote: Any, max_credits: int | None, committed: float = 0.0) -> None:
    """Raise ``SpendGuardError`` unless the quote fits the balance and ``max_credits``."""
    cost = float(quote.estimated_cost)
    if not quote.sufficient:
        raise SpendGuardError(
            f"insufficient credits: the quote is {cost:g} credits, "
            f"{float(quote.available_credits):g} available; nothing more was dispatched"
        )
    if max_credits is not None and committed + cost > max_credits:
        raise SpendGuardError(
            f"spend guard: dispatching would commit {committed + cost:g} credits, over "
            f"--max-credits {max_credits}; nothing more was dispatched"
        )


@dataclass(frozen=True)
class EnrichDispatch:
    """One workflow started by enrich-later."""

    workflow_id: str
    leads: int
    estimated_cost: float
    credits_reserved: float


def enrich_whole_list(
    client: Any, list_id: str, enrichment_type: str, max_credits: int | None
) -> list[EnrichDispatch]:
    """Quote and start ``POST /enrichment/bulk`` for every lead of the list."""
    scope = BULK_SCOPE[enrichment_type]
    quote = client.estimate_cost(BULK_TOOL, list_id=list_id, scope=scope)
    guard_quote(quote, max_credits)
    result = client.enrich_list(list_id, scope, quote.quote_id)
    return [
        EnrichDispatch(
            result.workflow_id,
            int(result.total_leads),
            float(result.estimated_cost),
            float(result.credits_reserved),
        )
    ]


def _by_task_quote(
    client: Any,
    tools: tuple[str, ...],
    task_id: str,
    data_points: list[str],
    entity_ids: list[str],
) -> tuple[Any, tuple[str, ...]]:
    """A quote for one cohort; also returns the tool names to try next time (working first)."""
    for number, tool in enumerate(tools):
        try:
            quote = client.estimate_cost(
                tool, task_id=task_id, data_points=data_points, entity_ids=entity_ids
            )
        except ValidationError:
            if number == len(tools) - 1:
                raise
            continue
        return quote, (tool,)
    raise AssertionError("unreachable: the last tool either answers or raises")


def enrich_missing(
    client: Any,
    list_id: str,
    enrichment_type: str,
    max_credits: int | None,
    on_dispatch: Callable[[EnrichDispatch], None],
) -> list[EnrichDispatch]:
    """Enrich only the leads still missing an email/phone, one cohort (page) at a time.

    A first pass counts them and refuses early when even the worst case (every lead found)
    could exceed ``max_credits`` with no quote to say otherwise; the second pass quotes each
    page's cohort just before dispatching it, so cohort handles and quotes are fresh.
    """
    data_points = DATA_POINTS[enrichment_type]
    missing_total = sum(
        sum(1 for lead in page.leads if needs_enrichment(lead, enrichment_type))
        for page in client.iter_lead_pages(list_id, page_size=500)
    )
    worst_case = missing_total * UNIT_COST[enrichment_type]
    if max_credits is not None and worst_case > max_credits:
        raise SpendGuardError(
            f"spend guard: {missing_total} leads miss what {enrichment_type} finds; at up to "
            f"{UNIT_COST[enrichment_type]} credits each that is {worst_case} credits, over "
            f"--max-credits {max_credits}; nothing was dispatched"
        )
    dispatched: list[EnrichDispatch] = []
    committed = 0.0
    tools = BY_TASK_TOOLS
    for page in client.iter_lead_pages(list_id, page_size=500):
        entity_ids = [
            lead.lead_id for lead in page.leads if needs_enrichment(lead, enrichment_type)
        ]
        if not entity_ids:
            continue
        if not page.task_id:
            raise dg.Failure(
                f"the API returned a leads page of list {list_id} without a cohort task_id; "
                "enrich the whole list instead (only_missing=false)"
            )
        quote, tools = _by_task_quote(client, tools, page.task_id, data_points, entity_ids)
        guard_quote(quote, max_credits, committed)
        result = client.enrich_by_task(
            page.task_id,
            data_points,
            entity_ids=entity_ids,
            lead_list_id=list_id,
            quote_id=quote.quote_id,
        )
        committed += float(quote.estimated_cost)
        if result.workflow_id:
            item = EnrichDispatch(
                result.workflow_id,
                int(result.total_entities),
                float(quote.estimated_cost),
                float(result.credits_reserved),
            )
            dispatched.append(item)
            on_dispatch(item)
    return dispatched


def _dispatch_observation(
    list_id: str, config: EnrichConfig, item: EnrichDispatch
) -> dg.AssetObservation:
    return dg.AssetObservation(
        asset_key=ENRICHMENT_KEY,
        partition=list_id,
        metadata={
            EVENT: "dispatched",
            "workflow_id": item.workflow_id,
            "list_id": list_id,
            "enrichment_type": config.enrichment_type,
            "mode": "missing-only" if config.only_missing else "whole-list",
            "leads": item.leads,
            "estimated_cost": item.estimated_cost,
            "credits_reserved": item.credits_reserved,
        },
    )


@dg.asset(
    key=ENRICHMENT_KEY,
    partitions_def=LISTS_PARTITIONS,
    group_name="cleanlist",
    kinds={"cleanlist"},
    description=(
        "Enrich leads already in a list (partition = list_id): the whole list through "
        "POST /enrichment/bulk, or only leads missing an email/phone through each page's "
        "cohort and POST /enrichment/by-task. Quoted first; max_credits guards the spend. "
        "The enrichment sensor watches the workflows and records their progress here."
    ),
)
def cleanlist_enrichment(
    context: dg.AssetExecutionContext, config: EnrichConfig, cleanlist: CleanlistResource
) -> dg.MaterializeResult:
    """Dispatch enrichment for one list; each workflow is recorded as soon as it starts."""
    list_id = context.partition_key

    def record(item: EnrichDispatch) -> None:
        # Logged at once (not only in the final metadata) so a run that fails later still
        # leaves the workflow for the sensor to watch.
        context.log_event(_dispatch_observation(list_id, config, item))

    with cleanlist.get_client() as client:
        if config.only_missing:
            dispatched = enrich_missing(
                client, list_id, config.enrichment_type, config.max_credits, record
            )
        else:
            dispatched = enrich_whole_list(
                client, list_id, config.enrichment_type, config.max_credits
            )
            for item in dispatched:
                record(item)
    context.log.info(
        f"list {list_id}: {len(dispatched)} enrichment workflows dispatched "
        f"({sum(d.leads for d in dispatched)} leads, {config.enrichment_type})"
    )
    return dg.MaterializeResult(
        metadata={
            "workflow_ids": dg.MetadataValue.json([d.workflow_id for d in dispatched]),
            "leads_submitted": sum(d.leads for d in dispatched),
            "estimated_cost": sum(d.estimated_cost for d in dispatched),
            "credits_reserved": sum(d.credits_reserved for d in dispatched),
            "enrichment_type": config.enrichment_type,
            "mode": "missing-only" if config.only_missing else "whole-list",
        }
    )


def _enrichment_succeeded(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """Fail when the latest finished workflow of any list failed or awaits a refund review."""
    latest: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        result = context.instance.fetch_observations(ENRICHMENT_KEY, limit=_PAGE, cursor=cursor)
        for record in result.records:  # newest first
            observation = record.asset_observation
            meta = dict(observation.metadata) if observation is not None else {}
            list_id = _meta(meta, "list_id") or record.partition_key
            if _meta(meta, EVENT) == "terminal" and list_id and list_id not in latest:
                latest[str(list_id)] = {
                    k: _meta(meta, k) for k in ("workflow_id", "status", "refund_status")
                }
        if not result.has_more:
            break
        cursor = result.cursor
    bad = {
        list_id: item
        for list_id, item in latest.items()
        if item["status"] in FAILED_STATUSES or item["refund_status"] == "pending_review"
    }
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={"lists": len(latest), "unsuccessful": dg.MetadataValue.json(bad)},
    )


# Not partitioned: Dagster stores one run-less evaluation per (check, partition), so per-list
# evaluations from the sensor could not accumulate; each carries its list_id in metadata.
enrichment_succeeded = dg.asset_check(
    asset=ENRICHMENT_KEY,
    name=ENRICHMENT_CHECK,
    description=(
        "The enrichment sensor records one evaluation per finished workflow (list_id and "
        "workflow_id in metadata): failed for failed/cancelled workflows or a refund pending "
        "review, showing refund_message. Running the check re-reads the latest result per "
        "list from the event log."
    ),
)(_enrichment_succeeded)
