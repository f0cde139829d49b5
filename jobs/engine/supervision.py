"""The controller keeps its execution's worker loops alive: it starts the numbers that are missing and
replaces loops that went silent, never enqueueing one again before its start grace has passed."""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from jobs import dispatch
from jobs.engine.worker import worker_tasks
from jobsite.conf import conf


class Supervision:
    def __init__(self, ex_id: str):
        self.ex_id = ex_id
        self.alive: set[int] = set()  # worker numbers heartbeating now, refreshed with the stats
        self.launched: set[int] = set()
        self.launch_times: dict[int, float] = {}

    def refresh(self) -> None:
        """Which worker loops heartbeated within a lease (a takeover finds the last controller's loops)."""
        silence = timezone.now() - timedelta(seconds=conf.slice_lease_seconds)
        alive = worker_tasks(self.ex_id).running().filter(heartbeat_at__gte=silence)
        self.alive = set(alive.values_list("number", flat=True))

    def launch(self, wanted: int) -> None:
        """Keep `wanted` worker loops alive: start missing numbers, replace loops that went silent."""
        self.launched &= self.alive | self.recently_launched()
        for number in range(wanted):
            if number not in self.alive and number not in self.launched:
                dispatch.worker(self.ex_id, number)
                self.launched.add(number)
                self.launch_times[number] = time.monotonic()

    def recently_launched(self) -> set[int]:
        """Loops enqueued but maybe not started yet (the engine queue may be busy): not relaunched too soon."""
        grace = conf.worker_start_grace_seconds
        return {n for n, at in self.launch_times.items() if time.monotonic() - at < grace}
