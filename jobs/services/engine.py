"""The engine's state changes: controller claims and leases, slices pending → start → completed | error.

jobs/engine calls these; nothing else writes slice state.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from django.db import models, transaction
from django.utils import timezone

from jobs.lifecycle import LIVING, ExecutionStatus
from jobs.models import Execution, ExecutionTransition, Slice, SliceState
from jobs.services.control import _transition, controller_alive

S = ExecutionStatus


def engine_actor(node_id: str) -> str:
    return f"engine@{node_id}"


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
                execution=execution, from_status=execution.status, to_status=execution.status,
                actor=engine_actor(node_id), reason="controller taken over after the previous one went silent",
            )
            return execution
        return _transition(
            execution, S.SCHEDULING, actor=engine_actor(node_id), reason="controller claimed the execution",
            controller_node_id=node_id, controller_heartbeat=now, controller_token=token,
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


def add_slices(execution: Execution, requests: list[tuple[int, int, object]]) -> None:
    """Write new pending slices: (slicer_id, slicer_order, request) each."""
    now = timezone.now()
    Slice.objects.bulk_create(
        (
            Slice(execution=execution, slicer_id=slicer_id, slicer_order=order, request=request, created=now, updated=now)
            for slicer_id, order, request in requests
        ),
        ignore_conflicts=True,  # a stale controller's slices are already there: dropped
    )


CLAIM_SQL = """
UPDATE jobs_slice SET state = 'start', holder = %s, heartbeat = now(), updated = now()
WHERE id IN (
    SELECT id FROM jobs_slice WHERE execution_id = %s AND state = 'pending'
    ORDER BY slicer_order, id LIMIT %s FOR UPDATE SKIP LOCKED
)
RETURNING id, slice_id, slicer_id, slicer_order, request, retry_count
"""


def claim_slices(ex_id: str, *, holder: str, limit: int = 1) -> list[tuple]:
    """Take up to `limit` of the oldest pending slices, skipping rows other workers are claiming.

    Returns (pk, slice_id, slicer_id, slicer_order, request, retry_count) tuples, oldest first.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, [holder, ex_id, limit])
        rows = cursor.fetchall()
    # Django has psycopg hand jsonb over as text (its JSONField decodes); a raw query decodes itself.
    claimed = [(pk, sid, slicer, order, json.loads(request), retries) for pk, sid, slicer, order, request, retries in rows]
    return sorted(claimed, key=lambda row: (row[3], row[0]))


def finish_slice(slice_pk: int, *, holder: str, error: str = "", retry_count: int = 0) -> bool:
    """Record a slice's outcome. False when the slice is no longer ours (its lease expired and it was
    handed to another worker): the result is dropped, so nothing is counted twice."""
    state = SliceState.ERROR if error else SliceState.COMPLETED
    return bool(
        Slice.objects.filter(pk=slice_pk, holder=holder, state=SliceState.START).update(
            state=state, error=error, retry_count=retry_count, heartbeat=None, updated=timezone.now()
        )
    )


def complete_slices(slice_pks: list[int], *, holder: str) -> int:
    """Mark slices that succeeded at the first attempt completed, in one statement; returns how many
    were still ours."""
    if not slice_pks:
        return 0
    return Slice.objects.filter(pk__in=slice_pks, holder=holder, state=SliceState.START).update(
        state=SliceState.COMPLETED, heartbeat=None, updated=timezone.now()
    )


def heartbeat_slices(*, holder: str) -> None:
    Slice.objects.filter(holder=holder, state=SliceState.START).update(heartbeat=timezone.now())


def slice_counts(ex_id: str) -> dict[str, int]:
    counts = dict.fromkeys(SliceState.values, 0)
    for state, number in Slice.objects.filter(execution_id=ex_id).values_list("state").annotate(n=models.Count("id")):
        counts[state] = number
    return counts


def release_expired_slices(*, lease_seconds: float) -> int:
    """Slices whose holder stopped heartbeating go back to pending, counted as an attempt; a slice out of
    attempts becomes an error record that says what happened."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=lease_seconds)
    with transaction.atomic():
        expired = list(
            Slice.objects.select_for_update(skip_locked=True).select_related("execution")
            .filter(state=SliceState.START, heartbeat__lt=cutoff)[:1000]
        )
        for slice_ in expired:
            attempts = slice_.retry_count + 1
            if attempts > int(slice_.execution.config.get("max_retries", 3)):
                slice_.state = SliceState.ERROR
                slice_.error = f"Error: worker {slice_.holder} stopped responding while processing this slice " \
                    f"({attempts} attempts)"
            else:
                slice_.state = SliceState.PENDING
            slice_.retry_count, slice_.holder, slice_.heartbeat, slice_.updated = attempts, "", None, now
        Slice.objects.bulk_update(expired, ["state", "error", "retry_count", "holder", "heartbeat", "updated"])
    return len(expired)
