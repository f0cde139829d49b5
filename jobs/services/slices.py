"""Slices: written pending by the controller, claimed by worker loops, finished completed or error, and
handed back when their holder went silent or the stop was forced. Nothing else writes slice state.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.db import connection, models, transaction
from django.utils import timezone

from jobs.lifecycle import LIVING
from jobs.models import Execution, RecoveryType, Slice, SliceState

# One statement for the whole batch: building a model instance per slice (bulk_create) was most of the
# controller's time and left the workers waiting for pending slices. The ids are made by PostgreSQL in
# the same format as models.new_id (a uuid4 as text).
# The execution's idle worker loops are told (slices_channel; delivered at commit, so never before the rows
# are visible) in the same statement.
ADD_SLICES_SQL = """
WITH added AS (
    INSERT INTO jobs_slice
        (slice_id, execution_id, slicer_id, slicer_order, request, state, error, retry_count, holder, created, updated)
    SELECT gen_random_uuid()::text, %(ex_id)s, s.slicer_id, s.slicer_order, s.request::jsonb, 'pending', '', 0, '',
        now(), now()
    FROM unnest(%(slicer_ids)s::integer[], %(orders)s::integer[], %(requests)s::text[])
        AS s(slicer_id, slicer_order, request)
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT pg_notify(%(channel)s, '') WHERE EXISTS (SELECT 1 FROM added)
"""


def slices_channel(ex_id: str) -> str:
    """The channel on which the controller says it wrote pending slices of the execution (a name is at most
    63 bytes; two executions sharing one would only wake each other's idle loops)."""
    return f"jobsite_slices_{ex_id}"[:63]


def add_slices(execution: Execution, requests: list[tuple[int, int, object]]) -> None:
    """Write new pending slices: (slicer_id, slicer_order, request) each. A slice already there (a stale
    controller cut it too) is dropped."""
    if not requests:
        return
    slicer_ids, orders, bodies = zip(*requests, strict=True)
    parameters = {
        "ex_id": execution.ex_id,
        "slicer_ids": list(slicer_ids),
        "orders": list(orders),
        "requests": list(map(json.dumps, bodies)),
        "channel": slices_channel(execution.ex_id),
    }
    with connection.cursor() as cursor:
        cursor.execute(ADD_SLICES_SQL, parameters)


def copy_for_recovery(execution: Execution) -> None:
    """Copy the slices of the recovered execution that this one re-runs (by its cleanup type), as pending
    slices keeping their ids and order. Copying twice copies nothing more."""
    kind = execution.recovered_slice_type or RecoveryType.ALL
    old = Slice.objects.filter(execution_id=execution.recovered_execution_id)
    if kind == RecoveryType.ERRORS:
        old = old.errors()
    elif kind == RecoveryType.PENDING:
        old = old.pending()
    else:
        old = old.exclude(state=SliceState.COMPLETED)
    Slice.objects.bulk_create(
        (
            Slice(
                execution_id=execution.ex_id,
                slice_id=s.slice_id,
                slicer_id=s.slicer_id,
                slicer_order=s.slicer_order,
                request=s.request,
                created=s.created,
            )
            for s in old.iterator()
        ),
        ignore_conflicts=True,  # copied already by a controller that died before saying so
    )


# A worker's round trip: the first-attempt successes of its last batch are recorded completed and its next
# batch is claimed, in one statement (two cost the loop a round trip and the ORM's query building per
# batch). The claim's ids are taken once, in an ARRAY: under `id IN (subquery)` a planner that thinks the
# table tiny (stale statistics) rescans `LIMIT ... SKIP LOCKED` per row, skips what the earlier scans
# locked, and claims every pending slice. One row comes back even when nothing is claimed, for the count.
COMPLETE_AND_CLAIM_SQL = """
WITH done AS (
    UPDATE jobs_slice SET state = 'completed', heartbeat = NULL, updated = now()
    WHERE id = ANY(%(done)s::bigint[]) AND state = 'start' AND holder = %(holder)s
    RETURNING 1
), claimed AS (
    UPDATE jobs_slice SET state = 'start', holder = %(holder)s, heartbeat = now(), updated = now()
    WHERE id = ANY(ARRAY(
        SELECT id FROM jobs_slice WHERE execution_id = %(ex_id)s AND state = 'pending'
        ORDER BY slicer_order, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
    ))
    RETURNING id, slice_id, slicer_id, slicer_order, request, retry_count
)
SELECT (SELECT count(*) FROM done), c.id, c.slice_id, c.slicer_id, c.slicer_order, c.request, c.retry_count
FROM (SELECT 1) AS one LEFT JOIN claimed AS c ON true
"""


def complete_and_claim(ex_id: str, done: list[int], *, holder: str, limit: int) -> tuple[int, list[tuple]]:
    """Mark `done` (slices `holder` processed at the first attempt) completed and take up to `limit` of the
    oldest pending slices for it, skipping rows other workers are claiming. Returns how many of `done` were
    still the holder's, and the claimed (pk, slice_id, slicer_id, slicer_order, request, retry_count)
    tuples, oldest first."""
    parameters = {"done": done, "holder": holder, "ex_id": ex_id, "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(COMPLETE_AND_CLAIM_SQL, parameters)
        rows = cursor.fetchall()
    # Django has psycopg hand jsonb over as text (its JSONField decodes); a raw query decodes itself.
    claimed = [
        (pk, sid, slicer, order, json.loads(request), retries)
        for _done, pk, sid, slicer, order, request, retries in rows
        if pk is not None
    ]
    return rows[0][0], sorted(claimed, key=lambda row: (row[3], row[0]))


def claim_slices(ex_id: str, *, holder: str, limit: int = 1) -> list[tuple]:
    """Take up to `limit` of the oldest pending slices (`complete_and_claim` with nothing done)."""
    return complete_and_claim(ex_id, [], holder=holder, limit=limit)[1]


def finish_slice(slice_pk: int, *, holder: str, error: str = "", retry_count: int = 0) -> bool:
    """Record a slice's outcome. False when the slice is no longer ours (its lease expired and it was
    handed to another worker): the result is dropped, so nothing is counted twice."""
    state = SliceState.ERROR if error else SliceState.COMPLETED
    return bool(
        Slice.objects.in_hand()
        .filter(pk=slice_pk, holder=holder)
        .update(state=state, error=error, retry_count=retry_count, heartbeat=None, updated=timezone.now())
    )


def heartbeat_slices(*, holder: str) -> None:
    Slice.objects.in_hand().filter(holder=holder).update(heartbeat=timezone.now())


def pending_slice_count(ex_id: str) -> int:
    """How many slices of the execution wait to be claimed (the controller asks before each refill: in SQL,
    since the ORM's query building cost more than the count)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM jobs_slice WHERE execution_id = %s AND state = 'pending'", [ex_id])
        return cursor.fetchone()[0]


def slice_counts(ex_id: str, *, completed: bool = True) -> dict[str, int]:
    """How many slices of the execution are in each state (every state present, zero or not).

    With `completed=False` the completed ones are not counted (shown as 0): the rest are bounded by the
    look-ahead, the slices in hand and the failures, while the completed grow with the execution's age and
    counting them is a scan of its history."""
    counts = dict.fromkeys(SliceState.values, 0)
    slices = Slice.objects.filter(execution_id=ex_id)
    if not completed:
        slices = slices.filter(state__in=[SliceState.PENDING, SliceState.START, SliceState.ERROR])
    for state, number in slices.values_list("state").annotate(n=models.Count("id")):
        counts[state] = number
    return counts


def requeue_slices_in_hand(ex_id: str) -> int:
    """Slices being processed go back to pending, not counted as an attempt: the stop was forced, the
    slices did not fail."""
    return (
        Slice.objects.in_hand()
        .filter(execution_id=ex_id)
        .update(state=SliceState.PENDING, holder="", heartbeat=None, updated=timezone.now())
    )


def release_expired_slices(*, lease_seconds: float) -> int:
    """Slices whose holder stopped heartbeating go back to pending, counted as an attempt; a slice out of
    attempts becomes an error record that says what happened."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=lease_seconds)
    with transaction.atomic():
        expired = list(
            Slice.objects.in_hand()
            .select_for_update(skip_locked=True)
            .select_related("execution")
            .filter(heartbeat__lt=cutoff)[:1000]
        )
        for slice_ in expired:
            attempts = slice_.retry_count + 1
            if attempts > int(slice_.execution.config.get("max_retries", 3)):
                slice_.state = SliceState.ERROR
                slice_.error = f"Error: worker {slice_.holder} stopped responding while processing this slice ({attempts} attempts)"
            else:
                slice_.state = SliceState.PENDING
            slice_.retry_count, slice_.holder, slice_.heartbeat, slice_.updated = attempts, "", None, now
        Slice.objects.bulk_update(expired, ["state", "error", "retry_count", "holder", "heartbeat", "updated"])
    return len(expired)


def prune_slices(job_id: str, *, keep: int, spare: str | None = None, limit: int = 2000) -> int:
    """Delete up to `limit` slice records of the job's executions older than its newest `keep` (and
    other than `spare`, the snapshot a later start resumes from), error records excepted; returns how
    many went. Called until it returns 0, so each statement stays small whatever the history."""
    kept = Execution.objects.filter(job_id=job_id).order_by("-created").values("pk")[:keep]
    old = (
        Slice.objects.filter(execution__job_id=job_id)
        .exclude(execution_id__in=kept)
        .exclude(execution__status__in=sorted(LIVING))
        .exclude(state=SliceState.ERROR)
    )
    if spare:
        old = old.exclude(execution_id=spare)
    pks = list(old.values_list("pk", flat=True)[:limit])
    if not pks:
        return 0
    deleted, _ = Slice.objects.filter(pk__in=pks).delete()
    return deleted
