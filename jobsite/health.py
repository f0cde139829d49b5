"""What `/healthz` answers: whether the database answers and worker nodes heartbeat.

A probe is answered by many monitors and load balancers at once, without credentials; its one statement is
read at most once per `JOBSITE_HEALTH_CACHE_SECONDS` per web process and shared by every probe in that
time, so however often they probe, the database sees a bounded load from it. What it costs: an outage or
a lost worker node shows that much later.
"""

from __future__ import annotations

import threading
import time

from jobsite.conf import conf
from tasks.selectors import connected_node_counts


class _LastReading:
    def __init__(self):
        self.lock = threading.Lock()
        self.read_at = float("-inf")
        self.body: dict = {}

    def fresh(self) -> bool:
        return time.monotonic() - self.read_at < conf.health_cache_seconds

    def get(self) -> dict:
        if self.fresh():
            return self.body
        with self.lock:  # one probe reads; those arriving meanwhile take its answer rather than send their own
            if not self.fresh():
                self.body = _read()
                self.read_at = time.monotonic()
            return self.body

    def forget(self) -> None:
        self.read_at = float("-inf")


def _read() -> dict:
    try:
        # One statement: its answer is the proof that the database answers, and both counts.
        workers, webs = connected_node_counts()
        database = "ok"
    except Exception:  # any database failure is what the probe exists to report
        workers = webs = 0
        database = "unreachable"
    return {
        "status": "ok" if database == "ok" and workers > 0 else "unavailable",
        "database": database,
        "worker_nodes": workers,
        "web_nodes": webs,
    }


_last = _LastReading()
health = _last.get
forget = _last.forget
