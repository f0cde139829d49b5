"""Reads behind the console's overview and cluster pages: what the cluster is doing now. They combine the
reads of jobs/cluster.py and jobs/selectors.py (as /metrics does) and add the few of their own: the slice
totals of the living executions, the executions waiting for slots and why, and the recent failures. Each
is a fixed number of queries, however many nodes, executions and slices there are. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.cluster import NodeState, cluster_state
from jobs.lifecycle import LIVING, ExecutionStatus
from jobs.models import Execution, ExecutionTransition
from jobs.selectors import ExecutionProgress, executions_by_status, living_progress, queue_depths
from jobs.services.placement import slots_by_node
from jobsite import actions
from tasks.models import Task

S = ExecutionStatus
# Bounds of what one page shows; each list says how many there are in all.
LIVING_SHOWN = 50
WAITS_SHOWN = 20
FAILURES_SHOWN = 20
FAILURE_WINDOW = timedelta(hours=24)
ENDED_BADLY = (S.FAILED, S.TERMINATED)
WAITING = (S.PENDING, S.SCHEDULING)
# A sample older than this gives no recent rate (the tab was hidden, the poll stopped): only the average.
RECENT_RATE_WINDOW = 60.0


# --- nodes -----------------------------------------------------------------------------------------------


@dataclass
class Nodes:
    """Every node on record (jobs.cluster.cluster_state) and the cluster's slots, summed."""

    states: list[NodeState]

    @property
    def connected(self) -> int:
        return sum(1 for state in self.states if state.connected)

    @property
    def disconnected(self) -> int:
        return len(self.states) - self.connected

    @property
    def slots(self) -> int:
        return sum(state.total for state in self.states if state.connected)

    @property
    def free(self) -> int:
        return sum(state.available for state in self.states if state.connected)

    @property
    def used(self) -> int:
        return sum(state.used for state in self.states)


def nodes() -> Nodes:
    return Nodes(cluster_state())


# --- living executions -----------------------------------------------------------------------------------


@dataclass
class Living:
    """A living execution's progress, its slice total once known (a `once` job whose slicing is done: the
    execution task's `slices.total`), its average rate since it started, and its rate since the previous
    sample the page took (None without one)."""

    progress: ExecutionProgress
    total: int | None
    rate: float
    recent_rate: float | None

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(100 * self.progress.processed / self.total))


def slice_totals(ex_ids) -> dict[str, int]:
    """The slice total of each execution whose controller knows it, from the running execution tasks'
    progress (`status.slices.total`, set once everything is sliced), in one query on the tasks' target."""
    tasks = Task.objects.running().filter(action=actions.JOBS_EXECUTION, target__in=list(ex_ids))
    totals = {}
    for ex_id, status in tasks.values_list("target", "status"):
        total = ((status or {}).get("slices") or {}).get("total")
        if isinstance(total, int):
            totals[ex_id] = total
    return totals


def living(previous: dict[str, int] | None = None, seconds_since: float | None = None) -> list[Living]:
    """The oldest living executions (LIVING_SHOWN of them) with their progress. `previous` is what each had
    processed `seconds_since` ago, as the page last showed it: the recent rate is the difference."""
    progress = living_progress(limit=LIVING_SHOWN)
    totals = slice_totals(each.ex_id for each in progress)
    recent = previous is not None and seconds_since is not None and 0 < seconds_since <= RECENT_RATE_WINDOW
    rows = []
    for each in progress:
        seconds = each.seconds
        before = (previous or {}).get(each.ex_id)
        rows.append(
            Living(
                progress=each,
                total=totals.get(each.ex_id),
                rate=each.processed / seconds if seconds else 0.0,
                recent_rate=max(each.processed - before, 0) / seconds_since if recent and before is not None else None,
            )
        )
    return rows


# --- counts ----------------------------------------------------------------------------------------------


@dataclass
class Failure:
    ex_id: str
    job_id: str
    name: str
    status: str
    reason: str
    ended: datetime


def recent_failures(*, now: datetime | None = None, limit: int = FAILURES_SHOWN) -> tuple[list[Failure], int]:
    """The executions that ended `failed` or `terminated` in the last 24 hours, newest first (at most
    `limit`), and how many there are. The candidates come from the (status, -updated) index: an execution
    that ended in the window was updated then or later. Each one's end is the time of its transition to
    that status (the `transition_ex_at` index); a later update (a deleted job) does not count as ending.
    An execution without that transition on record ended when it was last updated."""
    since = (now or timezone.now()) - FAILURE_WINDOW
    ended = (
        ExecutionTransition.objects.filter(execution=OuterRef("pk"), to_status=OuterRef("status"))
        .order_by("-at")
        .values("at")[:1]
    )
    failures = (
        Execution.objects.filter(status__in=ENDED_BADLY, updated__gte=since)
        .annotate(ended=Coalesce(Subquery(ended), F("updated")))
        .filter(ended__gte=since)
    )
    shown = failures.order_by("-ended", "ex_id").values_list(
        "ex_id", "job_id", "name", "status", "failure_reason", "ended"
    )[:limit]
    return [Failure(*row) for row in shown], failures.count()


def scheduling_waits(*, limit: int = WAITS_SHOWN) -> list[Execution]:
    """The executions waiting for slots (`pending` or `scheduling`), in order of arrival, with the reason the
    placement gave (`scheduling_reason`; empty until it looked at them)."""
    waiting = Execution.objects.filter(status__in=WAITING).order_by("created", "ex_id")
    return list(waiting.only("ex_id", "job_id", "name", "status", "scheduling_reason", "created")[:limit])


@dataclass
class Counts:
    by_status: dict[str, int]
    failures: list[Failure]
    failure_count: int
    waits: list[Execution]
    queues: dict[str, int]

    @property
    def living(self) -> int:
        return sum(self.by_status[status] for status in LIVING)

    @property
    def waiting(self) -> int:
        return sum(self.by_status[status] for status in WAITING)

    @property
    def queued_messages(self) -> int:
        return sum(self.queues.values())


def counts() -> Counts:
    failures, failure_count = recent_failures()
    return Counts(
        by_status=executions_by_status(),
        failures=failures,
        failure_count=failure_count,
        waits=scheduling_waits(),
        # the engine queue of each connected worker node and the control queue, as /metrics shows them
        queues=queue_depths(sorted(slots_by_node())),
    )
