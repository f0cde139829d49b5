"""What the controller reports: `_slicer_stats` counted from the slice and worker rows (so nothing is
counted twice, whichever controller counts), and the per-operation analytics of the worker loops."""

from __future__ import annotations

import time
from datetime import timedelta

from django.db.models import Count, F, Q
from django.utils import timezone

from jobs.engine.worker import worker_tasks
from jobs.models import SliceState, SliceWork
from jobs.stats import add_analytics, slicer_stats
from jobsite.conf import conf


def live_workers(ex_id: str) -> int:
    """Worker loops of the execution that heartbeated within a lease."""
    silence = timezone.now() - timedelta(seconds=conf.slice_lease_seconds)
    return worker_tasks(ex_id).running().filter(heartbeat_at__gte=silence).exclude(heartbeat_at=F("started_at")).count()


def execution_stats(ex_id: str, counts: dict, *, alive: int, slicers: int, started: str, checkpoint: dict) -> dict:
    """`_slicer_stats` (spec §3.6) from the slice `counts` and `alive` worker loops."""
    # Loops placed but never started (their node died first) never joined.
    workers = (
        worker_tasks(ex_id)
        .exclude(heartbeat_at=F("started_at"))
        .aggregate(
            joined=Count("id"), disconnected=Count("id", filter=Q(finished_at__isnull=False, error__isnull=False))
        )
    )
    active = SliceWork.objects.in_hand().filter(execution_id=ex_id).values("holder").distinct().count()
    stats = slicer_stats(
        slicers=slicers,
        started=started,
        workers_available=max(alive - active, 0),
        workers_active=active,
        workers_joined=workers["joined"],
        workers_disconnected=workers["disconnected"],
        failed=counts[SliceState.ERROR],
        processed=counts[SliceState.COMPLETED] + counts[SliceState.ERROR],
        queued=counts[SliceState.PENDING],
    )
    if checkpoint.get("queuing_complete"):
        stats["queuing_complete"] = checkpoint["queuing_complete"]
    return stats


def analytics_summary(ex_id: str, *, until_processed: int, timeout: float = 2.0) -> dict:
    """Per-operation counts and times, summed over the execution's worker loops. Workers report their
    totals when they run out of slices, so this waits (briefly) for the reports to cover every slice."""
    workers = worker_tasks(ex_id)
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
            add_analytics(summary, order, entry, slices=entry["slices"])
    return summary
