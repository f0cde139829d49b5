"""Crash safety (DESIGN.md rule 6): run by every engine node's housekeeping every few seconds.

All of it is idempotent and uses conditional updates, so any number of nodes may run it at once.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from jobs import dispatch, services
from jobs.lifecycle import ExecutionStatus
from jobs.models import Execution
from jobsite import actions, broker
from jobsite.conf import conf
from tasks import registry

log = logging.getLogger(__name__)
S = ExecutionStatus
# Where each loop's queued arguments carry its placement (its task's pk).
LOOP_PLACEMENT_ARG = {dispatch.RUN_CONTROLLER: 1, dispatch.RUN_WORKER: 2}
# django-q2's Redis broker keeps a queue as the list `django_q:<queue>:q`; each node's engine queue is
# `engine.<node id>` (jobs/dispatch.py).
REDIS_ENGINE_LISTS = f"django_q:{dispatch.engine_queue('*')}:q"


def reap(node_id: str) -> None:
    actor = services.engine_actor(node_id)
    released = services.release_expired_slices(lease_seconds=conf.slice_lease_seconds)
    if released:
        log.warning("%s slice(s) whose worker went silent went back to pending", released)
    end_silent_loops()
    end_orphaned_stops(conf.node_timeout_seconds, actor)
    failed = services.fail_abandoned_closes()
    if failed:
        log.warning("%s job(s) whose close nobody runs any more are now failed", failed)
    if purge_dead_queue_rows():
        log.info("removed queue rows of loops that are no longer wanted")


def end_silent_loops() -> None:
    """Loops that stopped reporting died with their process (and those placed but never started, with
    their node): their slots are free again, and the placement replaces them."""
    lost_workers = registry.end_silent(
        action=actions.JOBS_EXECUTION_WORKER,
        silence_seconds=conf.slice_lease_seconds,
        start_grace_seconds=conf.worker_start_grace_seconds,
        error={"type": "worker_lost", "reason": "the worker stopped heartbeating"},
    )
    lost_controllers = registry.end_silent(
        action=actions.JOBS_EXECUTION_CONTROLLER,
        silence_seconds=conf.node_timeout_seconds,
        start_grace_seconds=conf.worker_start_grace_seconds,
        error={"type": "controller_lost", "reason": "the controller stopped heartbeating"},
    )
    if lost_workers or lost_controllers:
        log.warning(
            "%s worker loop(s) and %s controller(s) went silent; they will be replaced", lost_workers, lost_controllers
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


def purge_dead_queue_rows(limit: int = 500) -> int:
    """Queued loops that can never be wanted again: their placement ended (the reaper took the loop for
    dead, the execution ended), or they come from before placements. Delivered, such a loop would only
    find out it is not wanted; they go now instead of lingering. With the ORM broker, a killed engine
    process leaves its row locked for the queue's retry time (days); with Redis, loops queued to a node
    that died before taking them stay in its list (`django_q:engine.<node id>:q`) for good."""
    if broker.orm_queues():  # the broker jobs/dispatch.py and the queue depths ask of too
        return _purge_orm_rows(limit)
    if "redis" in settings.Q_CLUSTER:
        return purge_redis_entries(get_broker().connection, limit)
    return 0


def _purge_orm_rows(limit: int) -> int:
    rows = OrmQ.objects.filter(key__startswith="engine.").values_list("pk", "payload")[:limit]
    dead = [pk for pk, payload in rows if _unwanted(payload)]
    deleted, _ = OrmQ.objects.filter(pk__in=dead).delete()
    return deleted


def purge_redis_entries(connection, limit: int = 500) -> int:
    """The Redis broker's side of `purge_dead_queue_rows`: every node's engine list is looked at (at most
    `limit` entries of each); an entry is removed by its value, so one a node takes meanwhile is left be."""
    removed = 0
    for key in connection.scan_iter(match=REDIS_ENGINE_LISTS, count=100):
        for payload in connection.lrange(key, 0, limit - 1):
            if _unwanted(payload):
                removed += connection.lrem(key, 1, payload)
    return removed


def _unwanted(payload) -> bool:
    """A queued loop whose placement (its task) no longer runs. Payloads not signed with this cluster's
    key, and other functions, are not ours to judge."""
    try:
        queued = SignedPackage.loads(payload)
    except Exception:
        return False
    placement_arg = LOOP_PLACEMENT_ARG.get(queued.get("func"))
    if placement_arg is None:
        return False
    args = queued.get("args") or ()
    task_pk = args[placement_arg] if len(args) > placement_arg else None
    return task_pk is None or not registry.still_wanted(task_pk)
