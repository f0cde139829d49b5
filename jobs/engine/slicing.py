"""The controller's slicers: built where the last controller (or the recovered execution) left off, and
run until the look-ahead of pending slices is full."""

from __future__ import annotations

import time

from django.utils import timezone

from jobs import services
from jobs.engine.runtime import build_slicers
from jobs.models import Execution, Slice
from jobsite.dates import iso

# Pending slices one execution keeps at most, whatever its workers and slicers ask: memory and the slice
# table stay bounded.
MAX_LOOK_AHEAD = 10_000
# Fast workers get enough pending slices for this long at their measured pace (within MAX_LOOK_AHEAD): the
# controller refills by halves and sleeps between its checks, and a look-ahead that one-record slices drain
# in 30 ms left the workers finding the queue empty while it did.
LOOK_AHEAD_SECONDS = 0.25
# The longest the controller goes without counting the pending slices while it still slices: its beat counts
# them this often anyway.
MAX_COUNT_SECONDS = 0.1


class Slicing:
    """The slicers of one execution, with what they have cut so far (`orders`) and which are done."""

    def __init__(self, execution: Execution, checkpoint: dict, *, slice_more: bool):
        self.execution = execution
        self.ex_id = execution.ex_id
        self.checkpoint = checkpoint  # shared with the controller, which saves it with its stats
        self.once = execution.config.get("lifecycle", "once") == "once"
        newest = self.newest_slices()
        self.slicers = build_slicers(execution, start_points=self.start_points(newest)) if slice_more else []
        self.done: set[int] = set(checkpoint.get("slicers_done", [])) if slice_more else set()
        # Per slicer, the highest order already cut, here or in the recovered execution.
        self.orders: dict[int, int] = {slicer_id: each.slicer_order for slicer_id, each in newest.items()}
        # The pending slices as last known (after the last count or write) and when, and the workers' pace
        # measured between two counts: it sizes the look-ahead, and the count is skipped while it cannot have
        # brought the look-ahead down to half (plan_next_count()).
        self.known: tuple[float, int] | None = None
        self.claims_per_s = 0.0
        self.burst = 0  # the most slices claimed between two counts
        self.next_count = 0.0

    @property
    def all_sliced(self) -> bool:
        return len(self.done) == len(self.slicers)

    def newest_slices(self) -> dict[int, Slice]:
        """Per slicer, the newest slice, by order, of this execution (a takeover) and of the execution it
        recovers (one query: the slicers' start points and the orders to go on from)."""
        sources = [ex for ex in (self.ex_id, self.execution.recovered_execution_id) if ex]
        newest = Slice.objects.filter(execution_id__in=sources).order_by("slicer_id", "-slicer_order")
        return {each.slicer_id: each for each in newest.distinct("slicer_id")}

    def start_points(self, newest: dict[int, Slice]) -> dict[int, object] | None:
        """Per slicer, the request after which slicing continues: that of its newest slice (everything up
        to that one was done or is re-run; a recovery's own new slices come after it). None for a fresh
        start."""
        points = {slicer_id: each.request for slicer_id, each in newest.items()}
        if points or self.execution.recovered_execution_id:
            return points
        return None

    def fill(self, workers: int, *, minimum_per_worker: int, pending: int | None = None) -> int:
        """Once the look-ahead is down to half, write new slices until it is full again; returns how many
        were written. Refilling by halves writes big batches: each write has a fixed cost (a count and an
        insert, a round trip each), which refilling after every claim paid per worker batch. `pending`: the
        pending slices, counted by the caller just now; else they are counted here, unless the workers'
        pace says the look-ahead cannot be down to half yet (slow slices: a count every 0.1 s, not on
        every call). The look-ahead is what the slicers ask for, at least `minimum_per_worker` per worker and
        LOOK_AHEAD_SECONDS of the workers' pace, at most MAX_LOOK_AHEAD."""
        if self.all_sliced:
            return 0
        now = time.monotonic()
        if pending is None:
            if now < self.next_count:
                return 0
            pending = services.pending_slice_count(self.ex_id)
        self.learn_pace(now, pending)
        workers = max(workers, 1)
        look_ahead = max(
            max(slicer.max_queue_length(workers) for slicer in self.slicers),
            minimum_per_worker * workers,
            int(self.claims_per_s * LOOK_AHEAD_SECONDS),
        )
        look_ahead = min(look_ahead, MAX_LOOK_AHEAD)
        self.plan_next_count(now, pending, look_ahead)
        if pending > look_ahead // 2:
            return 0
        wanted = look_ahead - pending
        batch = []
        while len(batch) < wanted and not self.all_sliced:
            before = len(batch)
            for slicer in self.slicers:
                if slicer.slicer_id in self.done:
                    continue
                produced = slicer.slice()
                if produced is None:
                    if self.once:
                        self.finished(slicer.slicer_id)
                    continue
                for request in produced if isinstance(produced, list) else [produced]:
                    order = self.orders.get(slicer.slicer_id, 0) + 1
                    self.orders[slicer.slicer_id] = order
                    batch.append((slicer.slicer_id, order, request))
            if not self.once and len(batch) == before:
                break  # persistent slicers with nothing to give right now
        if batch:
            services.add_slices(self.execution, batch)
            self.known = (time.monotonic(), pending + len(batch))
            self.next_count = 0.0  # the pace is measured again from the next count
        return len(batch)

    def learn_pace(self, now: float, pending: int) -> None:
        """Learn the workers' pace from the pending slices counted now against the last known count (kept
        until some were claimed: claims come in batches), and the biggest drop seen between two counts (a
        round of batch claims)."""
        then, before = self.known if self.known is not None else (now, pending)
        if before > pending and now > then:
            self.claims_per_s = (before - pending) / (now - then)
            self.burst = max(self.burst, before - pending)
        if before != pending or self.known is None:
            self.known = (now, pending)

    def plan_next_count(self, now: float, pending: int, look_ahead: int) -> None:
        """The next count is skipped only while more than two of the biggest drops separate the pending
        slices from half the look-ahead, for a quarter of the time the pace takes to close that gap (so
        workers that speed up fourfold still find slices), at most MAX_COUNT_SECONDS; a count on every call
        otherwise, as while the pace is unknown."""
        gap = pending - look_ahead // 2 - 2 * self.burst
        if self.claims_per_s > 0 and gap > 0:
            self.next_count = now + min(gap / self.claims_per_s / 4, MAX_COUNT_SECONDS)
        else:
            self.next_count = now

    def finished(self, slicer_id: int) -> None:
        self.done.add(slicer_id)
        self.checkpoint["slicers_done"] = sorted(self.done)
        if self.all_sliced:
            self.checkpoint["queuing_complete"] = iso(timezone.now())
