"""Crash safety (DESIGN.md rule 6): run by every engine node's housekeeping every few seconds.

All of it is idempotent and uses conditional updates, so any number of nodes may run it at once.
"""

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from jobs import services
from jobs.lifecycle import ExecutionStatus
from jobs.models import Execution
from jobsite import actions
from jobsite.conf import conf
from tasks import registry

log = logging.getLogger(__name__)
S = ExecutionStatus


def reap(node_id: str) -> None:
    actor = services.engine_actor(node_id)
    released = services.release_expired_slices(lease_seconds=conf.slice_lease_seconds)
    if released:
        log.warning("%s slice(s) whose worker went silent went back to pending", released)
    end_silent_worker_tasks(conf.slice_lease_seconds)
    end_orphaned_stops(conf.node_timeout_seconds, actor)
    restart_orphaned_controllers(conf.node_timeout_seconds)


def end_silent_worker_tasks(lease_seconds: float) -> None:
    """Worker loops that stopped reporting died with their process; their controller replaces them."""
    registry.end_silent(
        action=actions.JOBS_EXECUTION_WORKER,
        silence_seconds=lease_seconds,
        error={"type": "worker_lost", "reason": "the worker stopped heartbeating"},
    )


def end_orphaned_stops(silence_seconds: float, actor: str) -> None:
    """A stop whose controller is gone has nobody left to drain it: it ends `stopped` now, with the
    slices in hand back to pending."""
    cutoff = timezone.now() - timedelta(seconds=silence_seconds)
    stuck = Execution.objects.filter(status=S.STOPPING).filter(
        Q(controller_heartbeat__lt=cutoff) | Q(controller_heartbeat__isnull=True)
    )
    for ex_id in stuck.values_list("ex_id", flat=True)[:100]:
        log.warning("execution %s was stopping without a live controller; stopping it now", ex_id)
        services.stop_execution(ex_id, force=True, actor=actor)


def restart_orphaned_controllers(silence_seconds: float) -> None:
    """A living execution whose controller went silent (or that no controller claimed) gets a new
    controller on whichever node takes it from the queue; `claim_execution` lets one controller win."""
    cutoff = timezone.now() - timedelta(seconds=silence_seconds)
    orphaned = Execution.objects.living().filter(
        Q(controller_heartbeat__lt=cutoff) | Q(controller_heartbeat__isnull=True, created__lt=cutoff)
    )
    for ex_id, last_heartbeat in orphaned.values_list("ex_id", "controller_heartbeat")[:100]:
        if services.ask_for_new_controller(ex_id, last_heartbeat=last_heartbeat):
            log.warning("execution %s has no live controller; asked for a new one", ex_id)
