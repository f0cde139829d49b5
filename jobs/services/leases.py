"""The controller's lease on an execution: one controller at a time holds it (claimed, taken over,
heartbeated, released), so a stale controller that wakes up finds it gone and does nothing."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from jobs.lifecycle import LIVING, ExecutionStatus
from jobs.models import Execution, ExecutionTransition
from jobs.services.executions import transition
from jobs.services.lookups import controller_alive, engine_actor

S = ExecutionStatus
INITIALIZING_REASON = "controller initializing"


def claim_execution(ex_id: str, *, node_id: str) -> Execution | None:
    """Make this node the execution's controller. A pending execution (or one the scheduler kept waiting
    in `scheduling`) is claimed once; a living one whose controller went silent is taken over. Returns
    None when there is nothing to claim."""
    with transaction.atomic():
        try:
            execution = Execution.objects.select_for_update().get(pk=ex_id)
        except Execution.DoesNotExist:
            return None
        # Placed while it waited in `scheduling`: a first claim, like one from `pending`.
        first = execution.status == S.PENDING or (execution.status == S.SCHEDULING and not execution.controller_token)
        # Not alive also when the reaper cleared controller_node to ask for a new controller.
        takeover = not first and execution.status in LIVING and not controller_alive(execution)
        if not first and not takeover:
            return None
        now = timezone.now()
        token = secrets.token_hex(8)
        execution.controller_node_id, execution.controller_heartbeat, execution.controller_token = node_id, now, token
        if takeover or execution.status == S.SCHEDULING:  # scheduling: the scheduler kept it waiting for slots
            reason = (
                "controller taken over after the previous one went silent"
                if takeover
                else "controller claimed the execution"
            )
            execution.save(update_fields=["controller_node", "controller_heartbeat", "controller_token"])
            ExecutionTransition.objects.create(
                execution=execution,
                from_status=execution.status,
                to_status=execution.status,
                actor=engine_actor(node_id),
                reason=reason,
            )
            return execution if takeover else _initializing(execution, node_id)
        claimed = transition(
            execution,
            S.SCHEDULING,
            actor=engine_actor(node_id),
            reason="controller claimed the execution",
            controller_node_id=node_id,
            controller_heartbeat=now,
            controller_token=token,
        )
        return _initializing(claimed, node_id)


def _initializing(execution: Execution, node_id: str) -> Execution:
    """A first claim starts initializing in the same transaction (the controller's INITIALIZE step, which
    took a transaction of its own: ~15 ms before the first slice on a busy machine)."""
    return transition(execution, S.INITIALIZING, actor=engine_actor(node_id), reason=INITIALIZING_REASON)


HEARTBEAT_SQL = """
UPDATE jobs_execution
   SET controller_heartbeat = %(now)s,
       slicer_stats = coalesce(%(slicer_stats)s::jsonb, slicer_stats),
       checkpoint = coalesce(%(checkpoint)s::jsonb, checkpoint)
 WHERE ex_id = %(ex_id)s AND controller_token = %(token)s
RETURNING status, workers, allotted_workers
"""


def heartbeat_controller(ex_id: str, *, token: str, slicer_stats: dict | None = None, checkpoint=None):
    """Refresh the controller's lease (and stats); returns (status, workers it has now: those wanted, within
    the scheduler's allotment), or None when another controller holds the execution now. One statement
    (the controller beats ten times a second: an ORM update and a read after it were two round trips and
    most of its CPU)."""
    parameters = {
        "now": timezone.now(),
        "slicer_stats": None if slicer_stats is None else json.dumps(slicer_stats),
        "checkpoint": None if checkpoint is None else json.dumps(checkpoint),
        "ex_id": ex_id,
        "token": token,
    }
    with connection.cursor() as cursor:
        cursor.execute(HEARTBEAT_SQL, parameters)
        row = cursor.fetchone()
    if row is None:
        return None
    status, workers, allotted = row
    return status, workers if allotted is None else min(workers, allotted)


def release_controller(ex_id: str, *, token: str) -> None:
    """Give up the lease at once (the node is stopping), so the reaper on any node finds the execution
    orphaned at its next pass instead of after the node timeout."""
    long_ago = timezone.now() - timedelta(days=1)
    Execution.objects.filter(pk=ex_id, controller_token=token).update(
        controller_node=None, controller_heartbeat=long_ago
    )
