"""Reads behind the console's execution page: its counters and progress, the throughput over time, its
worker loops and their nodes, its error records and its status history. Each read is a fixed number of
queries, however many slices, errors, transitions and workers the execution has. Nothing here writes."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, DateTimeField, F, Func, Q, Value
from django.utils import timezone

from jobs.lifecycle import SliceState
from jobs.models import Execution, ExecutionTransition, Slice, SliceWork
from jobs.services.placement import LOOP_ACTIONS
from jobsite import actions
from jobsite.errors import NotFound
from tasks.models import Task

# The chart has at most this many points: the bucket is the smallest of BUCKET_SECONDS that fits.
MAX_POINTS = 120
BUCKET_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
ERRORS_PER_PAGE = 50
ERRORS_PAGED = 10_000  # as the errors API (`from + size` within 10,000): a filter narrows past that
HISTORY_SHOWN = 50  # the newest transitions; older ones are in `GET /v1/ex/<id>/history`
FINISHED = (SliceState.COMPLETED, SliceState.ERROR)
# A bucket that ended this long ago no longer changes: a slice is counted by the time it finished, which its
# worker stamps as it records the outcome (committed within a statement or two of it).
SEALED_AFTER = timedelta(seconds=30)
SEALED_KEPT = 64  # executions whose sealed buckets this process remembers (least recently drawn forgotten)


@dataclass
class Point:
    at: datetime  # the bucket's start
    offset: float  # seconds since the execution started
    slices: int  # slices finished (completed or error) in the bucket
    rate: float  # slices per second over the bucket (the part of it that has passed, for the last one)
    records_per_slice: float | None = None

    @property
    def records_rate(self) -> float | None:
        return self.rate * self.records_per_slice if self.records_per_slice is not None else None


@dataclass
class Throughput:
    start: datetime
    end: datetime
    step: int  # seconds per bucket
    points: list[Point]
    records_per_slice: float | None  # the readers' records over the slices they read; None: not reported

    @property
    def seconds(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.0)

    @property
    def peak(self) -> Point | None:
        return max(self.points, key=lambda point: point.rate, default=None)

    @property
    def mean_rate(self) -> float:
        return sum(point.slices for point in self.points) / self.seconds if self.seconds else 0.0


@dataclass
class Loop:
    """A running controller or worker loop of the execution, and the node it runs on."""

    task: Task
    role: str  # "controller" or "worker"

    @property
    def processed(self) -> int | None:
        return (self.task.status or {}).get("processed") if self.role == "worker" else None


@dataclass
class Overview:
    execution: Execution
    counts: dict[str, int]  # slices by state
    total: int | None  # all the slices of a `once` execution, once slicing is complete
    loops: list[Loop] = field(default_factory=list)
    throughput: Throughput | None = None

    @property
    def processed(self) -> int:
        return self.counts[SliceState.COMPLETED] + self.counts[SliceState.ERROR]

    @property
    def percent(self) -> int | None:
        return math.floor(100 * self.processed / self.total) if self.total else None


def execution_overview(ex_id: str) -> Overview:
    """The live part of the page, in five queries. Slice counts are the controller's counters
    (`_slicer_stats`, refreshed twice a second while it runs, final once it ends) rather than a count
    of slice rows, which retention prunes; only the slices in hand (a batch per worker loop at most)
    are counted from the rows."""
    execution = Execution.objects.select_related("job").filter(pk=ex_id).first()
    if execution is None:
        raise NotFound(f"Execution {ex_id} was not found")
    stats = execution.slicer_stats or {}
    failed = int(stats.get("failed", 0))
    counts = {
        SliceState.PENDING: int(stats.get("queued", 0)),
        SliceState.START: _in_hand(execution),
        SliceState.COMPLETED: max(int(stats.get("processed", 0)) - failed, 0),
        SliceState.ERROR: failed,
    }
    loops = list(
        Task.objects.running()
        .filter(target=ex_id, action__in=LOOP_ACTIONS)
        .select_related("node")
        .order_by("action", "number", "pk")  # the controller sorts before the workers
    )
    return Overview(
        execution=execution,
        counts=counts,
        total=sum(counts.values()) if _sliced_once(execution) else None,
        loops=[Loop(t, "controller" if t.action == actions.JOBS_EXECUTION_CONTROLLER else "worker") for t in loops],
        throughput=throughput(execution),
    )


class DateBin(Func):
    function = "date_bin"
    output_field = DateTimeField()


def bucket_seconds(duration: float) -> int:
    """The smallest bucket that draws `duration` seconds in at most MAX_POINTS points."""
    for step in BUCKET_SECONDS:
        if duration <= step * MAX_POINTS:
            return step
    return math.ceil(duration / MAX_POINTS)


def throughput(execution: Execution) -> Throughput:
    """Slices finished per bucket of time from the execution's start to its end (while it runs, to the
    last whole bucket), in one grouped query over its finished slices (the `slice_finished` index; only
    those since the buckets already sealed, see `_finished_by_bucket`), and the records per slice its
    readers reported (`analytics`), which turn slices/s into records/s."""
    start = execution.created
    end = execution.updated if execution.is_terminal else timezone.now()
    end = max(end, start + timedelta(seconds=1))
    step = bucket_seconds((end - start).total_seconds())
    seconds = (end - start).total_seconds()
    # While it runs, the bucket under way is left out: drawn, its few slices so far would read as a drop.
    buckets = math.ceil(seconds / step) if execution.is_terminal else max(math.floor(seconds / step), 1)
    end = min(end, start + timedelta(seconds=buckets * step))
    finished = _finished_by_bucket(execution, start, step)
    per_slice = _records_per_slice(execution)
    points = []
    for i in range(buckets):
        at = start + timedelta(seconds=i * step)
        passed = min(step, (end - at).total_seconds())
        slices = finished.get(at, 0)
        rate = slices / passed if passed > 0 else 0.0
        points.append(Point(at=at, offset=i * step, slices=slices, rate=rate, records_per_slice=per_slice))
    late = sum(n for at, n in finished.items() if at >= start + timedelta(seconds=buckets * step))
    if late and execution.is_terminal:  # finished after its last update (a stop racing the last slice)
        points[-1].slices += late
        points[-1].rate = points[-1].slices / step
    return Throughput(start=start, end=end, step=step, points=points, records_per_slice=per_slice)


class _Sealed:
    """Per execution and bucket size, the counts of the buckets that can no longer change and where they end:
    a chart polled every few seconds counts only the slices finished since (the `slice_finished` index),
    not the execution's whole history again. Per process, bounded, and only ever a shortcut: a process
    without it counts everything once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.kept: OrderedDict[tuple, tuple[datetime, dict]] = OrderedDict()

    def get(self, key) -> tuple[datetime | None, dict]:
        with self.lock:
            if key not in self.kept:
                return None, {}
            self.kept.move_to_end(key)
            until, counts = self.kept[key]
            return until, dict(counts)

    def put(self, key, until: datetime, counts: dict):
        with self.lock:
            self.kept[key] = (until, counts)
            self.kept.move_to_end(key)
            while len(self.kept) > SEALED_KEPT:
                self.kept.popitem(last=False)


_sealed = _Sealed()


def _finished_by_bucket(execution: Execution, start: datetime, step: int) -> dict[datetime, int]:
    """Slices finished (completed or error) per bucket of `step` seconds from `start`: the sealed buckets as
    counted before, and the rest in one grouped query over the `slice_finished` index (index only)."""
    key = (execution.ex_id, start, step)
    since, counts = _sealed.get(key)
    finished = Slice.objects.filter(execution=execution, state__in=FINISHED, updated__gte=since or start)
    counts.update(
        finished.annotate(bucket=DateBin(Value(timedelta(seconds=step)), F("updated"), Value(start)))
        .order_by()
        .values_list("bucket")
        .annotate(n=Count("*"))
    )
    horizon = timezone.now() - SEALED_AFTER
    sealed_until = start + timedelta(seconds=step * max(math.floor((horizon - start).total_seconds() / step), 0))
    if sealed_until > (since or start):
        _sealed.put(key, sealed_until, {at: n for at, n in counts.items() if at < sealed_until})
    return counts


def _records_per_slice(execution: Execution) -> float | None:
    """The reader's (operation 0's) records over the slices it read: from the execution's final
    analytics once it ended, else summed over its worker loops' reports (one query)."""
    reader = (execution.analytics or {}).get("0")
    if reader is None:
        reports = Task.objects.filter(action=actions.JOBS_EXECUTION_WORKER, target=execution.ex_id)
        reader = {"slices": 0, "count": 0}
        for status in reports.order_by().values_list("status", flat=True):
            entry = ((status or {}).get("analytics") or {}).get("0") or {}
            reader["slices"] += int(entry.get("slices", 0))
            reader["count"] += int(entry.get("count", 0))
    slices = int(reader.get("slices", 0))
    return int(reader.get("count", 0)) / slices if slices else None


# --- errors and history ----------------------------------------------------------------------------------


def execution_errors(execution: Execution, text: str = ""):
    """The execution's error records, newest first, those whose error text or slice id contains `text`
    when given, at most the first ERRORS_PAGED (a queryset: the caller pages it)."""
    errors = Slice.objects.errors().filter(execution=execution)
    if text:
        errors = errors.filter(Q(error__icontains=text) | Q(slice_id=text))
    return errors.order_by("-updated", "-id")[:ERRORS_PAGED]


def execution_history(execution: Execution) -> tuple[list[ExecutionTransition], bool]:
    """The newest HISTORY_SHOWN status changes, oldest first, and whether older ones were left out."""
    newest = list(execution.transitions.order_by("-at", "-id")[: HISTORY_SHOWN + 1])
    return newest[:HISTORY_SHOWN][::-1], len(newest) > HISTORY_SHOWN


def living_execution_of(job_id: str) -> Execution | None:
    """The job's living execution, if it has one (a job has at most one at a time)."""
    return Execution.objects.living().filter(job_id=job_id).only("ex_id", "status").first()


def execution_progress(execution: Execution) -> tuple[int, int | None]:
    """(slices processed, all its slices) of a `once` execution once slicing is complete, else (processed,
    None): the total as execution_overview counts it, in one query while it lives and none once it has
    ended."""
    processed = int((execution.slicer_stats or {}).get("processed", 0))
    if not _sliced_once(execution):
        return processed, None
    return processed, processed + int(execution.slicer_stats.get("queued", 0)) + _in_hand(execution)


def _sliced_once(execution: Execution) -> bool:
    """A `once` execution whose slicers are done: its slices in all are known."""
    stats = execution.slicer_stats or {}
    return bool(stats.get("queuing_complete")) and execution.config.get("lifecycle", "once") == "once"


def _in_hand(execution: Execution) -> int:
    """Slices claimed and not yet finished, counted from the rows (a batch per worker loop at most); none
    once the execution has ended."""
    return 0 if execution.is_terminal else SliceWork.objects.in_hand().filter(execution=execution).count()
