"""The execution controller: one per living execution, on any worker node (a django-q2 task).

It runs in the slot the placement gave it (jobs/services/placement.py, which also places its workers),
claims the execution, runs the slicers and writes their requests as pending slices with a bounded
look-ahead (slicing.py), keeps `_slicer_stats` current (stats.py), and ends the execution: completed or failed for `once` jobs by the accounting of spec
§3.3.4, stopped after a stop has drained. Every status change goes through jobs.services, each of the
engine's own steps named in jobs.lifecycle. If this controller dies, another node takes the execution
over from what is in the database (DESIGN.md rule 6).
"""

import logging
import time
import traceback
from datetime import timedelta

from django.db import close_old_connections
from django.utils import timezone

from jobs import services
from jobs.engine.slicing import Slicing
from jobs.engine.stats import analytics_summary, execution_stats, live_workers
from jobs.engine.worker import MAX_BATCH, Wakeups, fast_commits, release
from jobs.lifecycle import SLICING, TERMINAL, ExecutionStatus, Step
from jobs.models import Execution, SliceState
from jobsite.conf import conf
from jobsite.dates import iso
from jobsite.errors import Unprocessable
from jobsite.outage import DATABASE_ERRORS, Outage
from tasks import registry
from tasks.nodes import node_draining, this_node_id

log = logging.getLogger(__name__)
S = ExecutionStatus

LOOP_SECONDS = 0.02
BEAT_SECONDS = 0.1  # status and lease refresh: pause, stop and the end are noticed this fast
STATS_SECONDS = 0.5  # `_slicer_stats`, live workers and the controller task's heartbeat
# Pending slices per worker at the least: a full batch claim (refilled by halves, slicing.py); workers that
# claim fast get more, for LOOK_AHEAD_SECONDS of their pace.
MIN_LOOK_AHEAD_PER_WORKER = MAX_BATCH


def run_controller(ex_id: str, task_pk: int) -> str:
    """The controller placed as task `task_pk`; a start the placement no longer wants (given up,
    redelivered, a duplicate) does nothing."""
    close_old_connections()
    fast_commits()
    task = registry.take(task_pk)
    if task is None:
        return "not wanted"
    node_id = this_node_id()
    outcome = "nothing to claim"
    try:
        execution = services.claim_execution(ex_id, node_id=node_id)
        if execution is not None:
            outcome = Controller(execution, node_id, task_pk, task.parent_id).run_or_fail()
        return outcome
    except DATABASE_ERRORS as error:  # before its loop (which waits outages out): not the execution's fault
        log.warning("controller of %s lost the database (%s); the reaper will ask for a new one", ex_id, error)
        outcome = "database unavailable"
        return outcome
    finally:
        release(task, {"outcome": outcome})


class Controller:
    def __init__(self, execution: Execution, node_id: str, task_pk: int, execution_task_pk: int | None):
        self.execution = execution
        self.task_pk = task_pk
        self.execution_task_pk = execution_task_pk  # the execution's own task, which shows its progress
        self.ex_id = execution.ex_id
        self.token = execution.controller_token
        self.actor = services.engine_actor(node_id)
        self.config = execution.config
        self.once = self.config.get("lifecycle", "once") == "once"
        self.started = execution.checkpoint.get("started") or iso(timezone.now())
        self.checkpoint = dict(execution.checkpoint)
        self.alive = 0  # worker loops heartbeating now, refreshed with the stats
        self.slicing: Slicing | None = None
        self.slice_more = True
        self.failures_seen = 0
        self.completed = 0  # slices completed at the last full count (every STATS_SECONDS)
        self.failing_since_processed = None
        self.stopping_since = None  # when the stop was asked, read once
        self.outage = Outage(f"the controller of {self.ex_id}", reconnected=fast_commits)
        self.drained = Wakeups(services.drained_channel(self.ex_id))

    # --- lifecycle ---------------------------------------------------------------------------------------

    def run_or_fail(self) -> str:
        try:
            return self.run()
        except DATABASE_ERRORS:
            raise  # not the execution's fault: the reaper gives it a new controller
        except Exception:
            reason = f"execution controller failed: {traceback.format_exc()}"
            log.exception("controller of %s failed", self.ex_id)
            self.end(S.FAILED, reason=reason, failure_reason=reason)  # a no-op if the lease was lost
            return "failed"

    def run(self) -> str:
        # A first claim initializes as it claims; a takeover may find the execution still in `scheduling`.
        if self.execution.status == S.SCHEDULING:
            self.step(Step.INITIALIZE, "controller initializing")
        recovering = self.prepare()
        self.step(Step.RECOVER if recovering else Step.RUN, "workers launched")
        return self.outage.run(self.loop, resume=self.resume)

    def resume(self):
        """After a database error: slicing goes on from what the database holds, as a takeover does
        (slices cut but not written, because the error struck while writing them or a database crash lost
        their commit, made without waiting for the WAL flush, are cut again)."""
        saved = Execution.objects.get(pk=self.ex_id).checkpoint
        for key in ("slicers_done", "queuing_complete"):  # as saved with the slices they follow
            self.checkpoint.pop(key, None)
            if key in saved:
                self.checkpoint[key] = saved[key]
        self.slicing = Slicing(self.execution, self.checkpoint, slice_more=self.slice_more)

    def prepare(self) -> bool:
        """Copy the slices a recovery re-runs (once) and build the slicers where they left off. Returns
        whether this execution starts by recovering."""
        recovering = bool(self.execution.recovered_execution_id)
        if recovering and not self.checkpoint.get("recovery_copied"):
            services.copy_for_recovery(self.execution)
            self.checkpoint["recovery_copied"] = True
        self.checkpoint["started"] = self.started
        # A recovery only re-runs old slices, unless it is a start that carries on (autorecover, or the
        # resume after a close's snapshot).
        self.slice_more = (
            not recovering
            or not self.execution.recovered_slice_type
            or self.config.get("autorecover")
            or bool(self.checkpoint.get("resumes_snapshot"))
        )
        self.slicing = Slicing(self.execution, self.checkpoint, slice_more=self.slice_more)
        if self.slicing.slicers and not recovering:
            # The first slices are waiting when the workers arrive. A fresh start has none pending yet (no
            # slice of it exists): no count before the first write.
            self.fill(self.execution.workers, pending=0 if not self.slicing.orders else None)
        return recovering

    # --- the loop ----------------------------------------------------------------------------------------

    def loop(self) -> str:
        next_beat = next_stats = 0.0
        status, workers = self.execution.status, self.execution.workers
        while True:
            beaten = time.monotonic() >= next_beat
            if beaten:
                # Words from before these counts are answered by them (and never pile up while it slices).
                self.drained.drain()
                # Statistics and worker supervision cost several queries: twice a second is enough. So
                # does counting the completed slices, the one count that grows with the execution.
                full = time.monotonic() >= next_stats
                counts = services.slice_counts(self.ex_id, completed=full)
                if full:
                    self.completed = counts[SliceState.COMPLETED]
                else:
                    counts[SliceState.COMPLETED] = self.completed
                if full:
                    next_stats = time.monotonic() + STATS_SECONDS
                    self.alive = live_workers(self.ex_id)
                    registry.report(self.task_pk)
                beat = self.beat(counts, full)
                if beat is None:
                    log.warning("controller of %s lost its lease; another node took over", self.ex_id)
                    return "lease lost"
                status, workers = beat
                if full and self.execution_task_pk:
                    registry.report(self.execution_task_pk, self.progress(status, workers, counts))
                next_beat = time.monotonic() + BEAT_SECONDS
                if full and node_draining():
                    services.release_controller(self.ex_id, token=self.token)
                    log.info("node stopping: execution %s handed over to the next controller", self.ex_id)
                    return "handed over"
                outcome = self.react(status, workers, counts, full)
                if outcome:
                    return outcome
            if status in SLICING and not self.slicing.all_sliced:
                # Right after a beat its count of pending slices is fresh: no second count.
                if not self.fill(workers, pending=counts[SliceState.PENDING] if beaten else None):
                    time.sleep(LOOP_SECONDS)
            elif self.drained.wait(max(0.0, next_beat - time.monotonic())):
                # Nothing to slice: only the next beat has work, unless a worker ran out of slices first (the
                # end of a run, the last slices of a stop), which the beat then sees at once, not ~50 ms late.
                next_beat = 0.0

    def beat(self, counts, full: bool):
        """Renew the lease (with fresh stats when `full`); (status, wanted workers), or None once another
        controller holds it."""
        return services.heartbeat_controller(
            self.ex_id,
            token=self.token,
            slicer_stats=self.stats(counts) if full else None,
            checkpoint=self.checkpoint if full else None,
        )

    def react(self, status, workers, counts, full: bool) -> str | None:
        """Everything the controller does once per beat; returns an outcome when its work is over."""
        if status in TERMINAL:
            return status
        if status == S.STOPPING:
            return self.finish_stop(counts)
        self.watch_failures(status, counts)
        if status == S.RECOVERING and not in_flight(counts) and self.slice_more:
            self.step(Step.RECOVERED, "recovered slices done; slicing continues")
        # A once job ends when everything is sliced and done; so does a recovery that only re-runs old slices.
        if (self.once or not self.slice_more) and self.all_done(counts):
            return self.finish_once(counts)
        return None

    def all_done(self, counts) -> bool:
        """Everything is sliced, and no slice waits or runs."""
        return self.slicing.all_sliced and not in_flight(counts)

    def fill(self, workers: int, pending: int | None = None) -> int:
        return self.slicing.fill(workers, minimum_per_worker=MIN_LOOK_AHEAD_PER_WORKER, pending=pending)

    def watch_failures(self, status, counts):
        """Failed slices turn the execution `failing`; a persistent one recovers after a quiet probation."""
        failed = counts[SliceState.ERROR]
        processed = counts[SliceState.COMPLETED] + failed
        if failed > self.failures_seen and status in (S.RUNNING, S.RECOVERING):
            self.failures_seen = failed
            self.failing_since_processed = (processed, time.monotonic())
            self.step(Step.SLICES_FAILING, f"{failed} slice failure(s)", has_errors=True)
        elif status == S.FAILING and not self.once and self.failing_since_processed:
            since_processed, since = self.failing_since_processed
            window = int(self.config.get("probation_window", 300_000)) / 1000
            if failed == self.failures_seen and processed > since_processed and time.monotonic() - since >= window:
                self.step(Step.PROBATION_PASSED, "no new failures during the probation window")
        self.failures_seen = max(self.failures_seen, failed)

    def finish_once(self, counts) -> str:
        errors = counts[SliceState.ERROR]
        if errors:
            reason = f"execution: {self.ex_id} had {errors} slice failure(s) during processing"
            self.end(S.FAILED, reason=reason, failure_reason=reason, has_errors=True)
            return S.FAILED
        self.end(S.COMPLETED, reason="all slices processed")
        return S.COMPLETED

    def finish_stop(self, counts) -> str | None:
        """A graceful stop: wait for the slices in hand, then stopped (completed if the last one was the end)."""
        if counts[SliceState.START] and not self.stop_overdue():
            return None
        finished = self.once and self.all_done(counts)
        self.end(S.COMPLETED if finished else S.STOPPED, reason="stop drained")
        return S.STOPPED

    def stop_overdue(self) -> bool:
        """Workers get `JOBSITE_STOP_TIMEOUT_SECONDS` to finish their slices; after that the stop forces."""
        if self.stopping_since is None:
            # A stopping execution never leaves `stopping` but to end, so the time is read once.
            asked = self.execution.transitions.filter(to_status=S.STOPPING).order_by("-at").first()
            if asked is None:
                return False
            self.stopping_since = asked.at
        if timezone.now() - self.stopping_since > timedelta(seconds=conf.stop_timeout_seconds):
            services.requeue_slices_in_hand(self.ex_id)
            return True
        return False

    # --- writing state -----------------------------------------------------------------------------------

    def stats(self, counts) -> dict:
        """`_slicer_stats`; the live workers are refreshed by the loop just before."""
        return execution_stats(
            self.ex_id,
            counts,
            alive=self.alive,
            started=self.started,
            checkpoint=self.checkpoint,
            slicers=len(self.slicing.slicers if self.slicing else []) or int(self.config.get("slicers", 1)),
        )

    def progress(self, status: str, workers: int, counts) -> dict:
        """The execution task's `status` in the tasks API: its phase, slices and workers. The total is
        known once everything is sliced."""
        done = counts[SliceState.COMPLETED] + counts[SliceState.ERROR]
        all_sliced = self.slicing is not None and self.slicing.all_sliced
        total = done + counts[SliceState.PENDING] + counts[SliceState.START] if all_sliced else None
        return {
            "phase": status,
            "slices": {
                "processed": done,
                "failed": counts[SliceState.ERROR],
                "queued": counts[SliceState.PENDING],
                "in_flight": counts[SliceState.START],
                "total": total,
            },
            "workers": {"wanted": workers, "alive": self.alive},
        }

    def step(self, step: str, reason: str, **fields):
        self.execution = services.take_step(
            self.ex_id, step, actor=self.actor, reason=reason, controller_token=self.token, **fields
        )

    def end(self, status: str, *, reason: str, **fields):
        counts = services.slice_counts(self.ex_id)  # the loop's counts of completed slices may lag
        stats = self.stats(counts)
        stats["job_duration"] = max(1, round((timezone.now() - self.execution.created).total_seconds()))
        if self.config.get("analytics", True):
            fields["analytics"] = analytics_summary(self.ex_id, until_processed=stats["processed"])
        if self.execution_task_pk:  # its last progress, kept with the finished task
            registry.report(self.execution_task_pk, self.progress(status, self.execution.workers, counts))
        try:
            self.execution = services.set_execution_status(
                self.ex_id,
                status,
                actor=self.actor,
                reason=reason,
                controller_token=self.token,
                slicer_stats=stats,
                checkpoint=self.checkpoint,
                **fields,
            )
        except Unprocessable:
            log.info("execution %s already ended; %s not applied", self.ex_id, status)


def in_flight(counts) -> bool:
    """Slices wait to be claimed or are being processed."""
    return bool(counts[SliceState.PENDING] or counts[SliceState.START])
