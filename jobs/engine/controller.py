"""The execution controller: one per living execution, on any worker node (a django-q2 task).

It claims the execution, starts its worker loops, runs the slicers and writes their requests as pending
slices with a bounded look-ahead, keeps `_slicer_stats` current, and ends the execution: completed or
failed for `once` jobs by the accounting of spec §3.3.4, stopped after a stop has drained. Every status
change goes through jobs.services. If this controller dies, another node takes the execution over from
what is in the database (DESIGN.md rule 6).
"""

import logging
import time
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Count, Max, Q
from django.utils import timezone

from jobs import services
from jobs.api.records import iso
from jobs.engine.runtime import build_slicers
from jobs.engine.worker import MAX_BATCH, fast_commits, worker_tasks
from jobs.lifecycle import TERMINAL, ExecutionStatus
from jobs.models import Execution, RecoveryType, Slice, SliceState
from jobsite.errors import Unprocessable
from tasks.nodes import node_draining, this_node_id
from jobsite.conf import conf

log = logging.getLogger(__name__)
S = ExecutionStatus

LOOP_SECONDS = 0.02
BEAT_SECONDS = 0.1  # status and lease refresh: pause, stop and the end are noticed this fast
STATS_SECONDS = 0.5  # `_slicer_stats` and worker supervision
# Enough pending slices that workers claiming in batches (up to MAX_BATCH) never find the queue empty.
MIN_LOOK_AHEAD_PER_WORKER = 2 * MAX_BATCH


def run_controller(ex_id: str) -> str:
    close_old_connections()
    fast_commits()
    node_id = this_node_id()
    execution = services.claim_execution(ex_id, node_id=node_id)
    if execution is None:
        return "nothing to claim"
    controller = Controller(execution, node_id)
    try:
        return controller.run()
    except Exception:
        reason = f"execution controller failed: {traceback.format_exc()}"
        log.exception("controller of %s failed", ex_id)
        controller.end(S.FAILED, reason=reason, failure_reason=reason)  # a no-op if the lease was lost
        return "failed"


class Controller:
    def __init__(self, execution: Execution, node_id: str):
        self.execution = execution
        self.ex_id = execution.ex_id
        self.node_id = node_id
        self.token = execution.controller_token
        self.actor = services.engine_actor(node_id)
        self.config = execution.config
        self.once = self.config.get("lifecycle", "once") == "once"
        self.started = execution.checkpoint.get("started") or iso(timezone.now())
        self.launched: set[int] = set()
        self.alive: set[int] = set()  # worker numbers heartbeating now, refreshed with the stats
        self.launch_times: dict[int, float] = {}
        self.checkpoint = dict(execution.checkpoint)
        self.slicers, self.done = [], set()
        self.failures_seen = 0
        self.failing_since_processed = None
        self.stopping_since = None  # when the stop was asked, read once

    # --- lifecycle ---------------------------------------------------------------------------------------

    def run(self) -> str:
        status = self.execution.status
        if status == S.SCHEDULING:
            self.set_status(S.INITIALIZING, "controller initializing", only_from={S.SCHEDULING})
        recovering = self.prepare()
        self.set_status(
            S.RECOVERING if recovering else S.RUNNING, "workers launched", only_from={S.INITIALIZING}
        )
        return self.loop()

    def prepare(self) -> bool:
        """Copy the slices a recovery re-runs (once), build the slicers where they left off, launch workers.
        Returns whether this execution starts by recovering."""
        recovering = bool(self.execution.recovered_execution_id)
        if recovering and not self.checkpoint.get("recovery_copied"):
            self.copy_recovered_slices()
            self.checkpoint["recovery_copied"] = True
        self.checkpoint["started"] = self.started
        self.slice_more = not recovering or not self.execution.recovered_slice_type or self.config.get("autorecover")
        self.slicers = build_slicers(self.execution, start_points=self.start_points()) if self.slice_more else []
        self.done = set(self.checkpoint.get("slicers_done", [])) if self.slice_more else set()
        self.orders = self.last_orders()
        if self.slicers and not recovering:
            self.fill(self.execution.workers)  # the first slices are waiting when the workers arrive
        self.alive = self.live_worker_numbers()  # a takeover finds loops of the last controller still running
        self.launch_workers(self.execution.workers)
        return recovering

    def copy_recovered_slices(self):
        source = self.execution.recovered_execution_id
        kind = self.execution.recovered_slice_type or RecoveryType.ALL
        old = Slice.objects.filter(execution_id=source)
        if kind == RecoveryType.ERRORS:
            old = old.filter(state=SliceState.ERROR)
        elif kind == RecoveryType.PENDING:
            old = old.filter(state=SliceState.PENDING)
        else:
            old = old.exclude(state=SliceState.COMPLETED)
        Slice.objects.bulk_create(
            (
                Slice(
                    execution_id=self.ex_id, slice_id=s.slice_id, slicer_id=s.slicer_id,
                    slicer_order=s.slicer_order, request=s.request, created=s.created,
                )
                for s in old.iterator()
            ),
            ignore_conflicts=True,  # copied already by a controller that died before saying so
        )

    def start_points(self) -> dict[int, object] | None:
        """Per slicer, the request after which slicing continues: the newest slice, by order, of this
        execution (a takeover) and of the execution it recovers (everything up to that one was done or
        is re-run; a recovery's own new slices come after it). None for a fresh start."""
        sources = [ex for ex in (self.ex_id, self.execution.recovered_execution_id) if ex]
        newest = (
            Slice.objects.filter(execution_id__in=sources)
            .order_by("slicer_id", "-slicer_order")
            .distinct("slicer_id")
        )
        points = {s.slicer_id: s.request for s in newest}
        if points or self.execution.recovered_execution_id:
            return points
        return None

    def last_orders(self) -> dict[int, int]:
        rows = Slice.objects.filter(execution_id=self.ex_id).values("slicer_id").annotate(top=Max("slicer_order"))
        orders = {row["slicer_id"]: row["top"] for row in rows}
        if self.execution.recovered_execution_id:
            source = Slice.objects.filter(execution_id=self.execution.recovered_execution_id)
            for row in source.values("slicer_id").annotate(top=Max("slicer_order")):
                orders[row["slicer_id"]] = max(orders.get(row["slicer_id"], 0), row["top"])
        return orders

    # --- the loop ----------------------------------------------------------------------------------------

    def loop(self) -> str:
        next_beat = next_stats = 0.0
        status, workers = self.execution.status, self.execution.workers
        while True:
            if time.monotonic() >= next_beat:
                counts = services.slice_counts(self.ex_id)
                # Statistics and worker supervision cost several queries: twice a second is enough.
                full = time.monotonic() >= next_stats
                if full:
                    next_stats = time.monotonic() + STATS_SECONDS
                    self.alive = self.live_worker_numbers()
                beat = self.beat(counts, full)
                if beat is None:
                    log.warning("controller of %s lost its lease; another node took over", self.ex_id)
                    return "lease lost"
                status, workers = beat
                next_beat = time.monotonic() + BEAT_SECONDS
                if full and node_draining():
                    services.release_controller(self.ex_id, token=self.token)
                    log.info("node stopping: execution %s handed over to the next controller", self.ex_id)
                    return "handed over"
                outcome = self.react(status, workers, counts, full)
                if outcome:
                    return outcome
            if status in (S.RUNNING, S.RECOVERING, S.FAILING):
                made = self.fill(workers)
                if not made:
                    time.sleep(LOOP_SECONDS)
            else:
                time.sleep(LOOP_SECONDS)

    def beat(self, counts, full: bool):
        """Renew the lease (with fresh stats when `full`); (status, wanted workers), or None once another
        controller holds it."""
        return services.heartbeat_controller(
            self.ex_id, token=self.token, slicer_stats=self.stats(counts) if full else None,
            checkpoint=self.checkpoint if full else None,
        )

    def react(self, status, workers, counts, full: bool) -> str | None:
        """Everything the controller does once per beat; returns an outcome when its work is over."""
        if status in TERMINAL:
            return status
        if status == S.STOPPING:
            return self.finish_stop(counts)
        if full:
            self.launch_workers(workers)
        self.watch_failures(status, counts)
        if status == S.RECOVERING and counts[SliceState.PENDING] == 0 and counts[SliceState.START] == 0:
            if self.slice_more:
                self.set_status(S.RUNNING, "recovered slices done; slicing continues", only_from={S.RECOVERING})
        # A once job ends when everything is sliced and done; so does a recovery that only re-runs old slices.
        ends = self.once or not self.slice_more
        if ends and len(self.done) == len(self.slicers) and not counts["pending"] and not counts["start"]:
            return self.finish_once(counts)
        return None

    def fill(self, workers: int) -> int:
        """Write new slices until the look-ahead is full; returns how many were written."""
        if len(self.done) == len(self.slicers):
            return 0
        look_ahead = max(
            max(slicer.max_queue_length(workers) for slicer in self.slicers), MIN_LOOK_AHEAD_PER_WORKER * workers
        )
        queued = Slice.objects.filter(execution_id=self.ex_id, state=SliceState.PENDING).count()
        wanted = look_ahead - queued
        batch = []
        while len(batch) < wanted and len(self.done) < len(self.slicers):
            before = len(batch)
            for slicer in self.slicers:
                if slicer.slicer_id in self.done:
                    continue
                produced = slicer.slice()
                if produced is None:
                    if self.once:
                        self.done.add(slicer.slicer_id)
                        self.checkpoint["slicers_done"] = sorted(self.done)
                        if len(self.done) == len(self.slicers):
                            self.checkpoint["queuing_complete"] = iso(timezone.now())
                    continue
                for request in produced if isinstance(produced, list) else [produced]:
                    order = self.orders.get(slicer.slicer_id, 0) + 1
                    self.orders[slicer.slicer_id] = order
                    batch.append((slicer.slicer_id, order, request))
            if not self.once and len(batch) == before:
                break  # persistent slicers with nothing to give right now
        if batch:
            services.add_slices(self.execution, batch)
        return len(batch)

    def launch_workers(self, wanted: int):
        """Keep `wanted` worker loops alive: start missing numbers, replace loops that went silent."""
        from jobs.q import enqueue_worker

        self.launched &= self.alive | self.recently_launched()
        for number in range(wanted):
            if number not in self.alive and number not in self.launched:
                enqueue_worker(self.ex_id, number)
                self.launched.add(number)
                self.launch_times[number] = time.monotonic()

    def recently_launched(self) -> set[int]:
        """Loops enqueued but maybe not started yet (the engine queue may be busy): not relaunched too soon."""
        grace = conf.worker_start_grace_seconds
        return {n for n, at in self.launch_times.items() if time.monotonic() - at < grace}

    def live_worker_numbers(self) -> set[int]:
        silence = timezone.now() - timedelta(seconds=conf.slice_lease_seconds)
        return set(worker_tasks(self.ex_id).running().filter(heartbeat_at__gte=silence).values_list("number", flat=True))

    def watch_failures(self, status, counts):
        """Failed slices turn the execution `failing`; a persistent one recovers after a quiet probation."""
        failed = counts[SliceState.ERROR]
        processed = counts[SliceState.COMPLETED] + failed
        if failed > self.failures_seen and status in (S.RUNNING, S.RECOVERING):
            self.failures_seen = failed
            self.failing_since_processed = (processed, time.monotonic())
            self.set_status(
                S.FAILING, f"{failed} slice failure(s)", only_from={S.RUNNING, S.RECOVERING}, has_errors=True
            )
        elif status == S.FAILING and not self.once and self.failing_since_processed:
            since_processed, since = self.failing_since_processed
            window = int(self.config.get("probation_window", 300_000)) / 1000
            if failed == self.failures_seen and processed > since_processed and time.monotonic() - since >= window:
                self.set_status(S.RUNNING, "no new failures during the probation window", only_from={S.FAILING})
        self.failures_seen = max(self.failures_seen, failed)

    def finish_once(self, counts) -> str:
        errors = counts[SliceState.ERROR]
        if errors:
            reason = f"execution: {self.ex_id} had {errors} slice failure(s) during processing"
            self.end(S.FAILED, reason=reason, failure_reason=reason, has_errors=True, counts=counts)
            return S.FAILED
        self.end(S.COMPLETED, reason="all slices processed", counts=counts)
        return S.COMPLETED

    def finish_stop(self, counts) -> str | None:
        """A graceful stop: wait for the slices in hand, then stopped (completed if the last one was the end)."""
        if counts[SliceState.START] and not self.stop_overdue():
            return None
        finished = self.once and len(self.done) == len(self.slicers) and not counts["pending"] and not counts["start"]
        self.end(S.COMPLETED if finished else S.STOPPED, reason="stop drained", counts=counts)
        return S.STOPPED

    def stop_overdue(self) -> bool:
        """Workers get `JOBSITE_STOP_TIMEOUT_SECONDS` to finish their slices; after that the stop forces."""
        if self.stopping_since is None:
            # A stopping execution never leaves `stopping` but to end, so the time is read once.
            asked = self.execution.transitions.filter(to_status=S.STOPPING).order_by("-at").first()
            if asked is None:
                return False
            self.stopping_since = asked.at
        limit = timedelta(seconds=conf.stop_timeout_seconds)
        if timezone.now() - self.stopping_since > limit:
            services.requeue_slices_in_hand(self.ex_id)
            return True
        return False

    # --- writing state -----------------------------------------------------------------------------------

    def stats(self, counts) -> dict:
        """`_slicer_stats` (spec §3.6); `self.alive` is refreshed by the loop just before."""
        workers = worker_tasks(self.ex_id).aggregate(
            joined=Count("id"), disconnected=Count("id", filter=Q(finished_at__isnull=False, error__isnull=False))
        )
        active = Slice.objects.filter(execution_id=self.ex_id, state=SliceState.START).values("holder").distinct().count()
        stats = {
            "workers_available": max(len(self.alive) - active, 0),
            "workers_active": active,
            "workers_joined": workers["joined"],
            "workers_reconnected": 0,
            "workers_disconnected": workers["disconnected"],
            "job_duration": 0,
            "failed": counts[SliceState.ERROR],
            "processed": counts[SliceState.COMPLETED] + counts[SliceState.ERROR],
            "subslices": 0,
            "queued": counts[SliceState.PENDING],
            "slice_range_expansion": 0,
            "slicers": len(self.slicers) or int(self.config.get("slicers", 1)),
            "subslice_by_key": 0,
            "started": self.started,
        }
        if self.checkpoint.get("queuing_complete"):
            stats["queuing_complete"] = self.checkpoint["queuing_complete"]
        return stats

    def analytics_summary(self, until_processed: int, timeout: float = 2.0) -> dict:
        """Per-operation counts and times, summed over this execution's worker loops. Workers report their
        totals when they run out of slices, so this waits (briefly) for the reports to cover every slice."""
        workers = worker_tasks(self.ex_id)
        deadline = time.monotonic() + timeout
        while True:
            reports = list(workers.values_list("status", flat=True))
            reported = sum((report or {}).get("processed", 0) for report in reports)
            if reported >= until_processed or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        summary: dict[str, dict] = {}
        for status in reports:
            for order, entry in (status or {}).get("analytics", {}).items():
                total = summary.setdefault(order, {"op": entry["op"], "slices": 0, "count": 0, "time_ms": 0.0})
                total["slices"] += entry["slices"]
                total["count"] += entry["count"]
                total["time_ms"] = round(total["time_ms"] + entry["time_ms"], 3)
        return summary

    def set_status(self, status: str, reason: str, **fields):
        self.execution = services.set_execution_status(
            self.ex_id, status, actor=self.actor, reason=reason, controller_token=self.token, **fields
        )

    def end(self, status: str, *, reason: str, counts=None, **fields):
        counts = counts or services.slice_counts(self.ex_id)
        stats = self.stats(counts)
        stats["job_duration"] = max(1, round((timezone.now() - self.execution.created).total_seconds()))
        if self.config.get("analytics", True):
            fields["analytics"] = self.analytics_summary(until_processed=stats["processed"])
        try:
            self.set_status(status, reason, slicer_stats=stats, checkpoint=self.checkpoint, **fields)
        except Unprocessable:
            log.info("execution %s already ended; %s not applied", self.ex_id, status)
