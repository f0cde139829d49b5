"""Histograms that every process adds to and any process reads: cumulative rows in PostgreSQL
(jobsite.models.HistogramSeries).

Request latencies are observed in the web process that answered, kept in memory (a few counters per
route, method and status class, however many requests) and added to the rows by one upsert every
`JOBSITE_METRICS_FLUSH_SECONDS` and at exit, so a request never waits on the database for metrics.

Task runtimes: a trigger on `tasks_task` appends one TaskRuntimeObservation per task that ends (migration
jobsite 0002), whichever process ends it, and never touches a row another transaction may hold: a metric
can neither abort nor slow a state change. Every engine node's housekeeping folds the observations into
the rows (`fold_task_runtimes`), and a scrape adds the ones not folded yet (`read_series`), so what it
shows is current. This module alone knows the bucket bounds: the trigger stores seconds, not buckets.
"""

from __future__ import annotations

import atexit
import bisect
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from django.db import connections

from jobsite.conf import conf

log = logging.getLogger(__name__)

REQUEST_DURATION = "http_request_duration_seconds"
REQUEST_LABELS = ("route", "method", "status")
# Quick answers are milliseconds; waits (a blocking stop, `wait_for_completion`) last up to an hour.
REQUEST_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

TASK_RUNTIME = "task_runtime_seconds"
TASK_LABELS = ("action", "outcome")
# Control actions take seconds, execution loops hours or days (Flower #1076: default buckets stop at 10 s).
# The fold and the scrape bucket observations with these (as parameters of their SQL); nothing else has them.
TASK_RUNTIME_BOUNDS = (0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400)

# A process keeps at most this many series between flushes; the labels are bounded already (route names,
# a fixed set of methods, five status classes), so this is only a backstop: past it, new series are dropped.
MAX_SERIES = 2000

# New counts added to a stored series; counts of other bounds than the stored ones start the series over.
_ADD_COUNTS = """
ON CONFLICT (metric, labels) DO UPDATE SET
    buckets = CASE WHEN s.bounds = EXCLUDED.bounds THEN jobsite_add_counts(s.buckets, EXCLUDED.buckets)
              ELSE EXCLUDED.buckets END,
    sum = CASE WHEN s.bounds = EXCLUDED.bounds THEN s.sum + EXCLUDED.sum ELSE EXCLUDED.sum END,
    count = CASE WHEN s.bounds = EXCLUDED.bounds THEN s.count + EXCLUDED.count ELSE EXCLUDED.count END,
    bounds = EXCLUDED.bounds,
    updated = EXCLUDED.updated
"""

_UPSERT = (
    """
INSERT INTO jobsite_histogramseries AS s (metric, labels, bounds, buckets, sum, count, updated)
SELECT metric, labels, bounds, buckets, sum, count, now()
FROM jsonb_to_recordset(%s::jsonb)
    AS v(metric text, labels text[], bounds double precision[], buckets bigint[], sum double precision, count bigint)
"""
    + _ADD_COUNTS
)

# CTEs that turn the rows of `observed` (action, outcome, seconds) into task runtime series: `series` has
# labels, buckets (one count per bound and one for +Inf), sum and count. An observation is in the first
# bucket whose bound is >= it, as Buffer.observe (bisect_left) puts one. Parameters: bounds, slots.
_TASK_SERIES = """
slotted AS (
    SELECT action, outcome, seconds,
           1 + (SELECT count(*) FROM unnest(%(bounds)s::double precision[]) AS b(bound) WHERE bound < seconds)
               AS slot
    FROM observed
), per_slot AS (
    SELECT action, outcome, slot, count(*) AS n, sum(seconds) AS total FROM slotted GROUP BY action, outcome, slot
), grid AS (
    SELECT k.action, k.outcome, i, coalesce(p.n, 0) AS n, coalesce(p.total, 0) AS total
    FROM (SELECT DISTINCT action, outcome FROM per_slot) AS k
    CROSS JOIN generate_series(1, %(slots)s) AS i
    LEFT JOIN per_slot AS p ON (p.action, p.outcome, p.slot) = (k.action, k.outcome, i)
), series AS (
    SELECT ARRAY[action, outcome]::text[] AS labels, array_agg(n ORDER BY i)::bigint[] AS buckets,
           sum(total)::double precision AS sum, sum(n)::bigint AS count
    FROM grid GROUP BY action, outcome
)"""

# One fold: at most `limit` observations, taken by id with SKIP LOCKED (rows another node is folding are
# left to it), deleted and added to the series in this one statement, so each is counted exactly once: if
# the upsert fails, the delete is undone with it. Series are upserted in key order, so two nodes folding at
# once wait on each other at worst, never deadlock. It returns how many observations it folded. The ids are
# taken in an ARRAY, once: `id IN (...)` may be rescanned per row, and each rescan SKIP LOCKs past the last.
_FOLD = (
    """
WITH observed AS (
    DELETE FROM jobsite_taskruntimeobservation
    WHERE id = ANY(ARRAY(
        SELECT id FROM jobsite_taskruntimeobservation ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
    ))
    RETURNING action, outcome, seconds
),"""
    + _TASK_SERIES
    + """, upserted AS (
    INSERT INTO jobsite_histogramseries AS s (metric, labels, bounds, buckets, sum, count, updated)
    SELECT %(metric)s, labels, %(bounds)s::double precision[], buckets, sum, count, now()
    FROM series ORDER BY labels
"""
    + _ADD_COUNTS
    + """    RETURNING 1
)
SELECT count(*) FROM observed
"""
)

# The stored series and the task runtimes not folded yet, in one statement: one snapshot, so a fold that
# commits meanwhile is seen either folded or pending, never both or neither.
_READ = (
    """
WITH observed AS (SELECT action, outcome, seconds FROM jobsite_taskruntimeobservation),"""
    + _TASK_SERIES
    + """
SELECT metric, labels::text[], bounds, buckets, sum, count, false AS pending
FROM jobsite_histogramseries WHERE metric = ANY(%(metrics)s)
UNION ALL
SELECT %(metric)s, labels, %(bounds)s::double precision[], buckets, sum, count, true
FROM series WHERE %(metric)s = ANY(%(metrics)s)
ORDER BY 1, 2, 7
"""
)

FOLD_LIMIT = 1000  # observations per fold statement (one transaction)
FOLD_SECONDS = 2.0  # a housekeeping round folds for at most this long, then leaves the rest to the next


@dataclass
class Series:
    buckets: list[int]
    sum: float = 0.0
    count: int = 0

    def add(self, other: Series) -> None:
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets)]
        self.sum += other.sum
        self.count += other.count


@dataclass
class Buffer:
    """Observations of one histogram not yet added to its rows."""

    metric: str
    bounds: tuple[float, ...]
    series: dict[tuple[str, ...], Series] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    dropped: int = 0

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        slot = bisect.bisect_left(self.bounds, value)  # the first bucket whose bound is >= value
        with self.lock:
            series = self.series.get(labels)
            if series is None:
                if len(self.series) >= MAX_SERIES:
                    self.dropped += 1
                    return
                series = self.series[labels] = Series([0] * (len(self.bounds) + 1))
            series.buckets[slot] += 1
            series.sum += value
            series.count += 1

    def take(self) -> dict[tuple[str, ...], Series]:
        with self.lock:
            taken, self.series = self.series, {}
        return taken

    def put_back(self, taken: dict[tuple[str, ...], Series]) -> None:
        """A flush that failed: its counts wait for the next one (merged, so memory stays bounded)."""
        with self.lock:
            for labels, series in taken.items():
                if labels in self.series:
                    self.series[labels].add(series)
                elif len(self.series) < MAX_SERIES:
                    self.series[labels] = series


requests = Buffer(REQUEST_DURATION, REQUEST_BOUNDS)


def flush(buffer: Buffer = requests, using: str = "default") -> int:
    """Add the buffered observations to the rows in one statement; returns the series written. Rows are
    written in key order, so two processes flushing at once never deadlock."""
    taken = buffer.take()
    if not taken:
        return 0
    rows = [
        {
            "metric": buffer.metric,
            "labels": list(labels),
            "bounds": list(buffer.bounds),
            "buckets": series.buckets,
            "sum": series.sum,
            "count": series.count,
        }
        for labels, series in sorted(taken.items())
    ]
    try:
        with connections[using].cursor() as cursor:
            cursor.execute(_UPSERT, [json.dumps(rows)])
    except Exception:  # a database error, or no database to be had: the counts wait for the next flush
        buffer.put_back(taken)
        raise
    return len(rows)


def _task_runtime_parameters() -> dict:
    return {
        "metric": TASK_RUNTIME,
        "bounds": [float(bound) for bound in TASK_RUNTIME_BOUNDS],
        "slots": len(TASK_RUNTIME_BOUNDS) + 1,
    }


def fold_task_runtimes(*, limit: int = FOLD_LIMIT, seconds: float = FOLD_SECONDS, using: str = "default") -> int:
    """Fold the task runtimes observed into their series, `limit` at a time, until none is left or
    `seconds` have passed; returns how many were folded. Any number of nodes may run it at once.

    Every engine node runs it each housekeeping round (jobsite/housekeeping.py), so while any node runs the
    table holds about a round's worth of ended tasks: a round folds up to FOLD_LIMIT rows per statement for
    FOLD_SECONDS, thousands a second, far more than a cluster ends tasks (each is a loop or a control
    action). With no engine node up the rows wait for one; a scrape still counts them."""
    parameters = {**_task_runtime_parameters(), "limit": limit}
    deadline = time.monotonic() + seconds
    folded = 0
    with connections[using].cursor() as cursor:
        while True:
            cursor.execute(_FOLD, parameters)
            taken = cursor.fetchone()[0]
            folded += taken
            if taken < limit or time.monotonic() >= deadline:
                return folded


@dataclass
class StoredSeries:
    metric: str
    labels: list[str]
    bounds: list[float]
    buckets: list[int]
    sum: float
    count: int


def read_series(metrics: tuple[str, ...], using: str = "default") -> list[StoredSeries]:
    """Every series of these histograms as of now, in one query: the stored rows, and the task runtimes
    not folded yet added to theirs as the fold will add them (a series of other bounds starts over)."""
    with connections[using].cursor() as cursor:
        cursor.execute(_READ, {**_task_runtime_parameters(), "metrics": list(metrics)})
        rows = cursor.fetchall()
    series: dict[tuple[str, tuple[str, ...]], StoredSeries] = {}
    for metric, labels, bounds, buckets, total, count, pending in rows:  # a series' stored row comes first
        key = (metric, tuple(labels))
        stored = series.get(key)
        if pending and stored is not None and stored.bounds == bounds:
            stored.buckets = [a + b for a, b in zip(stored.buckets, buckets)]
            stored.sum += total
            stored.count += count
        else:
            series[key] = StoredSeries(metric, list(labels), list(bounds), list(buckets), total, count)
    return list(series.values())


class Flusher(threading.Thread):
    """The web process's background flush: every `JOBSITE_METRICS_FLUSH_SECONDS`, if anything was observed.
    Its database connection is closed after each flush (back to the pool, in a served web process)."""

    def __init__(self):
        super().__init__(name="metrics-flush", daemon=True)
        self.stopping = threading.Event()
        self.failing = False

    def run(self):
        while not self.stopping.wait(conf.metrics_flush_seconds):
            self.flush_once()

    def flush_once(self):
        try:
            flush()
            if self.failing:
                log.info("request metrics are flushed again")
            self.failing = False
        # Whatever the failure, the thread lives on: the counts are kept for the next round; said once per outage.
        except Exception as error:
            if not self.failing:
                log.warning("could not flush request metrics (kept for the next try): %s", error)
            self.failing = True
        finally:
            connections["default"].close()


_flusher: Flusher | None = None
_flusher_pid: int | None = None
_flusher_lock = threading.Lock()


def observe_request(route: str, method: str, status: str, seconds: float) -> None:
    """One answered request; the first one of a web server process starts its flusher. Other processes
    that run requests in-process (the test run, `manage.py`) only buffer them (bounded): their database may
    be gone by the time they exit, and their requests are no server's latency."""
    requests.observe((route, method, status), seconds)
    if _flusher_pid != os.getpid() and os.environ.get("JOBSITE_SERVING_WEB") == "1":
        _start_flusher()


def _start_flusher() -> None:
    global _flusher, _flusher_pid
    with _flusher_lock:
        if _flusher_pid == os.getpid():
            return
        if _flusher_pid is not None:  # a forked child: the parent's counts are the parent's to flush
            requests.take()
        _flusher = Flusher()
        _flusher.start()
        _flusher_pid = os.getpid()


@atexit.register
def _flush_at_exit() -> None:
    if _flusher is not None and _flusher_pid == os.getpid():
        _flusher.stopping.set()
        _flusher.flush_once()
