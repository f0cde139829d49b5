"""Histograms that every process adds to and any process reads: cumulative rows in PostgreSQL
(jobsite.models.HistogramSeries).

Request latencies are observed in the web process that answered, kept in memory (a few counters per
route, method and status class, however many requests) and added to the rows by one upsert every
`JOBSITE_METRICS_FLUSH_SECONDS` and at exit, so a request never waits on the database for metrics. Task
runtimes are added by a trigger on `tasks_task` when a task ends (migration jobsite 0002), whichever
process ends it.
"""

from __future__ import annotations

import atexit
import bisect
import json
import logging
import os
import threading
from dataclasses import dataclass, field

from django.db import connections

from jobsite.conf import conf
from jobsite.models import HistogramSeries

log = logging.getLogger(__name__)

REQUEST_DURATION = "http_request_duration_seconds"
REQUEST_LABELS = ("route", "method", "status")
# Quick answers are milliseconds; waits (a blocking stop, `wait_for_completion`) last up to an hour.
REQUEST_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

TASK_RUNTIME = "task_runtime_seconds"
TASK_LABELS = ("action", "outcome")
# Control actions take seconds, execution loops hours or days (Flower #1076: default buckets stop at 10 s).
# The trigger of migration jobsite 0002 has these bounds written in.
TASK_RUNTIME_BOUNDS = (0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400)

# A process keeps at most this many series between flushes; the labels are bounded already (route names,
# a fixed set of methods, five status classes), so this is only a backstop: past it, new series are dropped.
MAX_SERIES = 2000

_UPSERT = """
INSERT INTO jobsite_histogramseries AS s (metric, labels, bounds, buckets, sum, count, updated)
SELECT metric, labels, bounds, buckets, sum, count, now()
FROM jsonb_to_recordset(%s::jsonb)
    AS v(metric text, labels text[], bounds double precision[], buckets bigint[], sum double precision, count bigint)
ON CONFLICT (metric, labels) DO UPDATE SET
    buckets = CASE WHEN s.bounds = EXCLUDED.bounds THEN jobsite_add_counts(s.buckets, EXCLUDED.buckets)
              ELSE EXCLUDED.buckets END,
    sum = CASE WHEN s.bounds = EXCLUDED.bounds THEN s.sum + EXCLUDED.sum ELSE EXCLUDED.sum END,
    count = CASE WHEN s.bounds = EXCLUDED.bounds THEN s.count + EXCLUDED.count ELSE EXCLUDED.count END,
    bounds = EXCLUDED.bounds,
    updated = EXCLUDED.updated
"""


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


def read_series(metrics: tuple[str, ...]) -> list[HistogramSeries]:
    """Every stored series of these histograms (one query)."""
    return list(HistogramSeries.objects.filter(metric__in=metrics).order_by("metric", "labels"))


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
    """One answered request; the first one of a process starts its flusher."""
    requests.observe((route, method, status), seconds)
    if _flusher_pid != os.getpid():
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
