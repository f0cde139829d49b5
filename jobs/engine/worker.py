"""A slice worker loop: claims pending slices of one execution, runs the pipeline, records the outcome.

One loop per worker of an execution, each a django-q2 task on the engine queue. It stops claiming when
the execution is paused, stopping or finished, or when `_workers` lowered the count below its number;
slices in hand are always finished first (graceful). Retries happen in place (spec §4.4).
"""

import logging
import os
import secrets
import threading
import time
import traceback

import psycopg
from django.db import close_old_connections, connection
from psycopg import sql

from jobs import services
from jobs.engine.runtime import build_pipeline
from jobs.lifecycle import TERMINAL, ExecutionStatus
from jobs.models import Execution
from jobs.ops.api import SliceFailed
from jobs.stats import add_analytics
from jobsite import actions
from jobsite.conf import conf
from jobsite.outage import DATABASE_ERRORS, Outage
from tasks import registry
from tasks.models import Task
from tasks.nodes import node_draining, this_node_id

log = logging.getLogger(__name__)
S = ExecutionStatus

CHECK_SECONDS = 0.25  # how often the loop re-reads the execution (pause/stop/workers reach it this fast)
IDLE_SLEEP_MAX = 0.2
BATCH_SECONDS = 0.1  # a claimed batch is about this much work at most
# One round trip records a batch and claims the next: its fixed cost (parsing and planning the statement,
# ~11% of a worker's PostgreSQL CPU at 64) is shared by more slices when they are quick. 256 against 64,
# 20,000-slice runs on interleaved stacks: median 17.0k against 14.6k slices/s (9 runs each, noisy host).
MAX_BATCH = 256


def worker_tasks(ex_id: str):
    """The task rows of an execution's worker loops (each names its loop's number)."""
    return Task.objects.filter(action=actions.JOBS_EXECUTION_WORKER, target=ex_id)


def fast_commits():
    """Slice bookkeeping commits without waiting for the WAL flush: a database crash can lose the last
    few milliseconds of outcomes, and those slices simply run again (at-least-once), while no slice
    waits on a disk flush."""
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")


class SliceHeartbeat(threading.Thread):
    """Keeps this worker's slice leases (under the loop's current holder name) and task alive (with its
    progress) while slices run."""

    def __init__(self, loop: "WorkerLoop"):
        super().__init__(name="slice-heartbeat", daemon=True)
        self.loop = loop
        self.stopping = threading.Event()

    def run(self):
        interval = conf.slice_heartbeat_seconds
        while not self.stopping.wait(interval):
            try:
                services.heartbeat_slices(self.loop.ex_id, holder=self.loop.holder)
                self.loop.report()
            except DATABASE_ERRORS as error:
                self.loop.outage.wait(error, stop=self.stopping.is_set)
            except Exception as error:  # the next beat tries again
                log.warning("slice heartbeat failed: %s", error)
                connection.close()
        connection.close()


class Wakeups:
    """Waits for a word on a channel instead of sleeping: an idle worker loop for its controller's word that it
    wrote slices (services.add_slices notifies the execution's slices_channel; workers that found the queue
    empty for a moment lost up to IDLE_SLEEP_MAX each time), a controller at the end of a run for a worker's
    word that the queue ran dry (drained_channel). The loop listens on its own connection; psycopg keeps
    the notifications that arrive while the loop runs other queries, so none is missed, and `drain()` drops
    them while the loop is busy, so they never pile up. The sleep stays the fallback: a reconnect, a slice
    the reaper handed back, a word sent before the listening began."""

    def __init__(self, channel: str):
        self.channel = channel
        self.listening_on: psycopg.Connection | None = None

    def _listener(self) -> psycopg.Connection:
        connection.ensure_connection()
        raw = connection.connection
        if raw is not self.listening_on:  # a new connection (the first, or after an outage) listens anew
            raw.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self.listening_on = raw
        return raw

    def wait(self, seconds: float) -> bool:
        """Until a word came since the last wait or drain (True), or `seconds` passed."""
        began = time.monotonic()
        try:
            for _notification in self._listener().notifies(timeout=seconds, stop_after=1):
                return True
        except psycopg.Error:  # the connection's trouble: the next query meets it and waits the outage out
            self.listening_on = None
            time.sleep(max(0.0, seconds - (time.monotonic() - began)))
        return False

    def drain(self) -> None:
        if self.listening_on is not None and not self.listening_on.closed:
            try:
                for _notification in self.listening_on.notifies(timeout=0):
                    pass
            except psycopg.Error:
                self.listening_on = None


def run_worker(ex_id: str, number: int, task_pk: int) -> dict:
    """Worker loop `number`, placed as task `task_pk`; a start the placement no longer wants (given up,
    redelivered, a duplicate) touches no slice."""
    close_old_connections()
    fast_commits()
    task = registry.take(task_pk)
    if task is None:
        return {"processed": 0, "wanted": False}
    loop = None
    try:
        execution = Execution.objects.get(pk=ex_id)
        if execution.status in TERMINAL:
            return {"processed": 0}
        loop = WorkerLoop(execution, number, new_holder(number), task.pk)
        heartbeat = SliceHeartbeat(loop)
        heartbeat.start()
        try:
            loop.outage.run(loop.run)
        finally:
            heartbeat.stopping.set()
            heartbeat.join(timeout=5)
            loop.report()
            loop.pipeline.shutdown()
        return {"processed": loop.processed, "failed": loop.failed}
    finally:
        release(task, {"processed": loop.processed, "failed": loop.failed} if loop else {"processed": 0})


def release(task, result: dict) -> None:
    """A loop that ends gives its slot back and lets the placement use it. With the database gone that
    waits: the reaper frees the slot once the task is silent."""
    try:
        registry.finish(task, result=result)
        services.place()
    except DATABASE_ERRORS as error:
        log.warning("could not release the slot of task %s (%s); the reaper will", task.pk, error)


def new_holder(number: int) -> str:
    return f"{this_node_id()}:{os.getpid()}:{number}:{secrets.token_hex(3)}"


class WorkerLoop:
    def __init__(self, execution: Execution, number: int, holder: str, task_id: int):
        self.ex_id, self.number, self.holder, self.task_id = execution.ex_id, number, holder, task_id
        self.max_retries = int(execution.config.get("max_retries", 3))
        self.pipeline = build_pipeline(execution, worker_id=holder)
        self.processed = self.failed = 0
        self.done: list[int] = []  # slices processed at their first attempt, recorded with the next claim
        self.batch = 1
        self.checks = 0
        self.analytics_enabled = bool(execution.config.get("analytics", True))
        self.analytics: dict[str, dict] = {}
        # Through a database outage the loop waits and starts over; the outcomes of slices in hand are
        # recorded once it is back (call), or those slices would stay claimed by a living holder forever.
        self.outage = Outage(f"worker loop {holder}", reconnected=fast_commits)
        self.wakeups = Wakeups(services.slices_channel(self.ex_id))
        self.errors_seen = 0  # the outage's database errors, as of the last holder name

    def progress(self) -> dict:
        return {"processed": self.processed, "failed": self.failed, "analytics": dict(self.analytics)}

    def report(self):
        registry.report(self.task_id, self.progress())

    def should_stop(self) -> tuple[bool, bool]:
        """(stop for good, pause for now), from the execution's status and the workers it may have now
        (wanted, within the scheduler's allotment), and (every second) whether this node is shutting down
        or this loop's task was ended or cancelled (the reaper took it for dead, say)."""
        status, workers, allotted = Execution.objects.values_list("status", "workers", "allotted_workers").get(
            pk=self.ex_id
        )
        self.checks += 1
        gone = self.checks % 4 == 0 and (node_draining() or not registry.still_wanted(self.task_id))
        if allotted is not None:
            workers = min(workers, allotted)
        if status in TERMINAL or status == S.STOPPING or self.number >= workers or gone:
            return True, False
        return False, status == S.PAUSED

    def run(self):
        next_check, idle = 0.0, 0
        paused = False
        while True:
            if time.monotonic() >= next_check:
                stop, paused = self.should_stop()
                self.wakeups.drain()
                if stop or paused:
                    self.record_done()
                if stop:
                    return
                next_check = time.monotonic() + CHECK_SECONDS
            if paused:
                time.sleep(CHECK_SECONDS)
                continue
            claimed = self.claim()
            if not claimed:
                if idle == 0:
                    # Out of work: the controller may be about to sum up the execution, and hears it at once.
                    self.report()
                    services.say_drained(self.ex_id)
                idle += 1
                self.wakeups.wait(min(0.005 * 2**idle, IDLE_SLEEP_MAX))
                continue
            idle = 0
            began = time.monotonic()
            self.process(claimed)
            self.adapt_batch((time.monotonic() - began) / len(claimed))

    def claim(self) -> list[tuple]:
        """The slices done so far recorded and a new batch claimed, in one statement. After a database
        error the done ones are recorded first, under the holder that claimed them (waiting the outage out),
        and the claim is made under a new holder name: slices the database still gives the old one (a claim
        whose answer never came) are then kept alive by no heartbeat, and the reaper returns them after
        their lease (at-least-once)."""
        if self.outage.errors != self.errors_seen:
            self.errors_seen = self.outage.errors
            self.record_done()
            self.holder = new_holder(self.number)
        completed, claimed = services.complete_and_claim(self.ex_id, self.done, holder=self.holder, limit=self.batch)
        self.processed += completed
        self.done = []
        return claimed

    def record_done(self):
        """Record the done slices now (before the loop stops or pauses), through an outage if need be."""
        if self.done:
            completed, _none = self.outage.call(
                services.complete_and_claim, self.ex_id, self.done, holder=self.holder, limit=0
            )
            self.processed += completed
            self.done = []

    def adapt_batch(self, seconds_per_slice: float):
        """Claim several slices at a time only while slices are quick, so a batch never keeps work from
        idle workers for long (about BATCH_SECONDS at most)."""
        if seconds_per_slice * self.batch * 2 <= BATCH_SECONDS:
            self.batch = min(self.batch * 2, MAX_BATCH)
        elif seconds_per_slice * self.batch > BATCH_SECONDS:
            self.batch = max(1, int(BATCH_SECONDS / max(seconds_per_slice, 1e-6)))

    def process(self, claimed: list[tuple]):
        """Run each claimed slice; first-attempt successes are recorded together with the next claim, the
        rest one by one."""
        clean, analytics = [], []
        for pk, slice_id, _slicer_id, _order, request, retry_count in claimed:
            try:
                result = self.pipeline.run_with_retries(request, slice_id, self.max_retries)
                analytics.append(result.analytics)
                if result.retries == 0:
                    clean.append(pk)
                    continue
                error, retries = "", result.retries
            except SliceFailed as failure:
                error = "".join(traceback.format_exception(failure.error))
                retries = failure.retries
            if self.outage.call(
                services.finish_slice, pk, holder=self.holder, error=error, retry_count=retry_count + retries
            ):
                self.failed += bool(error)
                self.processed += 1
        self.done.extend(clean)
        self.add_analytics(analytics)

    def add_analytics(self, slices: list[list[dict]]):
        """Per-operation totals, kept on this worker's task row; the controller sums them per execution. Added
        once a batch (`slices`: the analytics of each slice that succeeded, one entry per operation): once a
        slice, adding them was a fifth of a worker's own time per one-record slice."""
        if not self.analytics_enabled or not slices:
            return
        for entries in zip(*slices, strict=True):  # one operation's entries, a slice each
            total = {
                "op": entries[0]["op"],
                "count": sum(entry["count"] for entry in entries),
                "time_ms": sum(entry["time_ms"] for entry in entries),
            }
            add_analytics(self.analytics, str(entries[0]["order"]), total, slices=len(entries))
