"""The controller's lease on an execution: one controller at a time holds it (claimed, taken over,
heartbeated, released), so a stale controller that wakes up finds it gone and does nothing."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from jobs import dispatch
from jobs.lifecycle import LIVING, ExecutionStatus
from jobs.models import Execution, ExecutionTransition
from jobs.services.executions import transition
from jobs.services.lookups import controller_alive, engine_actor

S = ExecutionStatus


def claim_execution(ex_id: str, *, node_id: str) -> Execution | None:
    """Make this node the execution's controller. A pending execution is claimed once; a living one whose
    controller went silent is taken over. Returns None when there is nothing to claim."""
    with transaction.atomic():
        try:
            execution = Execution.objects.select_for_update().get(pk=ex_id)
        except Execution.DoesNotExist:
            return None
        # Not alive also when the reaper cleared controller_node to ask for a new controller.
        takeover = execution.status in LIVING and execution.status != S.PENDING and not controller_alive(execution)
        if execution.status != S.PENDING and not takeover:
            return None
        now = timezone.now()
        token = secrets.token_hex(8)
        execution.controller_node_id, execution.controller_heartbeat, execution.controller_token = node_id, now, token
        if takeover:
            execution.save(update_fields=["controller_node", "controller_heartbeat", "controller_token"])
            ExecutionTransition.objects.create(
                execution=execution,
                from_status=execution.status,
                to_status=execution.status,
                actor=engine_actor(node_id),
                reason="controller taken over after the previous one went silent",
            )
            return execution
        return transition(
            execution,
            S.SCHEDULING,
            actor=engine_actor(node_id),
            reason="controller claimed the execution",
            controller_node_id=node_id,
            controller_heartbeat=now,
            controller_token=token,
        )


def heartbeat_controller(ex_id: str, *, token: str, slicer_stats: dict | None = None, checkpoint=None):
    """Refresh the controller's lease (and stats); returns (status, wanted workers), or None when another
    controller holds the execution now."""
    fields = {"controller_heartbeat": timezone.now()}
    if slicer_stats is not None:
        fields["slicer_stats"] = slicer_stats
    if checkpoint is not None:
        fields["checkpoint"] = checkpoint
    if not Execution.objects.filter(pk=ex_id, controller_token=token).update(**fields):
        return None
    return Execution.objects.values_list("status", "workers").get(pk=ex_id)


def release_controller(ex_id: str, *, token: str) -> None:
    """Give up the lease at once (the node is stopping), so the reaper on any node finds the execution
    orphaned at its next pass instead of after the node timeout."""
    long_ago = timezone.now() - timedelta(days=1)
    Execution.objects.filter(pk=ex_id, controller_token=token).update(
        controller_node=None, controller_heartbeat=long_ago
    )


def ask_for_new_controller(ex_id: str, *, last_heartbeat) -> bool:
    """The execution's controller went silent (or none claimed it): ask once per silence period, with a
    conditional update so that of all the nodes noticing, one asks."""
    asked = Execution.objects.filter(pk=ex_id, controller_heartbeat=last_heartbeat).update(
        controller_node=None, controller_heartbeat=timezone.now()
    )
    if asked:
        dispatch.controller(ex_id)
    return bool(asked)
