"""Slices: written pending by the controller, claimed by worker loops, finished completed or error, and
handed back when their holder went silent or the stop was forced. Nothing else writes slice state.

An unfinished slice (pending or in hand) also has its SliceWork row, which these functions write in the same
statement as the slice: the engine finds the oldest pending slices, a holder's slices and silent leases
there, so jobs_slice needs no index on what a claim or a completion changes and updates its rows in place
(HOT). A slice's own `state` stays the truth for everything else.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from jobs.lifecycle import LIVING
from jobs.models import Execution, RecoveryType, Slice, SliceState, SliceWork, new_ids

# One statement for the whole batch: building a model instance per slice (bulk_create) was most of the
# controller's time and left the workers waiting for pending slices. The batch travels as one JSON array of
# [slicer_id, slicer_order, request, slice_id]: three arrays bound on the client (each element quoted by
# psycopg in Python) and parsed again by PostgreSQL cost 9 µs a slice against 3, and PostgreSQL's own
# gen_random_uuid() about 4 µs more (the embedded server reads /dev/urandom for each), on the controller's
# path that the workers wait on (2,048 slices a statement, interleaved, on the embedded server).
# The execution's idle worker loops are told (slices_channel; delivered at commit, so never before the rows
# are visible) in the same statement. jobs_slice has no foreign key to the execution (a check per slice): the
# statement locks the execution's row once, as the key's check would (a delete waits for the commit), and
# writes nothing for an execution that is gone.
ADD_SLICES_SQL = """
WITH execution AS (
    SELECT ex_id FROM jobs_execution WHERE ex_id = %(ex_id)s FOR KEY SHARE
), added AS (
    INSERT INTO jobs_slice
        (slice_id, execution_id, slicer_id, slicer_order, request, state, error, retry_count, holder, created, updated)
    SELECT s->>3, e.ex_id, (s->>0)::integer, (s->>1)::integer, s->2, 'pending', '', 0, '', now(), now()
    FROM execution AS e, jsonb_array_elements(%(batch)s::jsonb) AS s
    ON CONFLICT DO NOTHING
    RETURNING id, execution_id, slicer_order
), work AS (
    INSERT INTO jobs_slicework (slice_id, execution_id, slicer_order, holder)
    SELECT id, execution_id, slicer_order, '' FROM added
    RETURNING 1
)
SELECT pg_notify(%(channel)s, '') WHERE EXISTS (SELECT 1 FROM work)
"""


def slices_channel(ex_id: str) -> str:
    """The channel on which the controller says it wrote pending slices of the execution (a name is at most
    63 bytes; two executions sharing one would only wake each other's idle loops)."""
    return f"jobsite_slices_{ex_id}"[:63]


def drained_channel(ex_id: str) -> str:
    """The channel on which a worker loop says it found the execution's queue empty (services.say_drained):
    a controller at the end of a run waits on it, not for its next beat."""
    return f"jobsite_drained_{ex_id}"[:63]


def say_drained(ex_id: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, '')", [drained_channel(ex_id)])


def add_slices(execution: Execution, requests: list[tuple[int, int, object]]) -> None:
    """Write new pending slices: (slicer_id, slicer_order, request) each. A slice already there (a stale
    controller cut it too) is dropped."""
    if not requests:
        return
    batch = [
        (slicer_id, order, request, slice_id)
        for (slicer_id, order, request), slice_id in zip(requests, new_ids(len(requests)), strict=True)
    ]
    parameters = {"ex_id": execution.ex_id, "batch": json.dumps(batch), "channel": slices_channel(execution.ex_id)}
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
    with transaction.atomic():
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
        # ignore_conflicts returns no ids: the pending copies without their work row are the ones written now.
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO jobs_slicework (slice_id, execution_id, slicer_order, holder)
                SELECT id, execution_id, slicer_order, '' FROM jobs_slice
                WHERE execution_id = %s AND state = 'pending'
                ON CONFLICT DO NOTHING
                """,
                [execution.ex_id],
            )


# The statements that look an execution's work rows up run with index scans only. Work rows are deleted as
# slices finish, and a plain index scan marks the dead index entries it passes so that later scans skip them
# (and a full page drops them), while a bitmap scan reads every one of them again, each time, until a vacuum.
# The planner, with statistics that lag a table this busy, chose a bitmap scan and a sort for the claim:
# 20,000 slices into a run, a claim read 21,157 index entries to find the 128 slices in hand and none
# pending (1.9 ms, and growing with the run). For the same reason it read the whole table to delete a
# batch's done rows by their keys (a sequential scan: 15% of the worker loops' PostgreSQL CPU, perf).
# set_config(..., true) holds until the end of the transaction of the one query string Django's cursor sends
# (it binds parameters on the client and sends a simple query).
PLAIN_INDEX_SCANS = "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true);\n"


def fetch_work_rows(query: str, parameters: dict) -> list[tuple]:
    """The rows of `query` (a statement on jobs_slicework by execution), run with plain index scans."""
    with connection.cursor() as cursor:
        cursor.execute(PLAIN_INDEX_SCANS + query, parameters)
        cursor.nextset()
        return cursor.fetchall()


# A worker's round trip: the first-attempt successes of its last batch are recorded completed and its next
# batch is claimed, in one statement (two cost the loop a round trip and the ORM's query building per
# batch). The claim's ids are taken once, in an ARRAY: under `id IN (subquery)` a planner that thinks the
# table tiny (stale statistics) rescans `LIMIT ... SKIP LOCKED` per row, skips what the earlier scans
# locked, and claims every pending slice. One row comes back even when nothing is claimed, for the count.
# The done slices leave jobs_slicework; the claimed ones are marked there (holder, heartbeat) and in
# jobs_slice: no statement here changes an indexed column of either table, so every update is HOT.
COMPLETE_AND_CLAIM_SQL = """
WITH finished AS (
    DELETE FROM jobs_slicework WHERE slice_id = ANY(%(done)s::bigint[]) AND holder = %(holder)s
    RETURNING slice_id
), done AS (
    UPDATE jobs_slice SET state = 'completed', updated = now()
    WHERE id = ANY(ARRAY(SELECT slice_id FROM finished)) AND state = 'start'
    RETURNING 1
), taken AS (
    UPDATE jobs_slicework SET holder = %(holder)s, heartbeat = now()
    WHERE slice_id = ANY(ARRAY(
        SELECT slice_id FROM jobs_slicework WHERE execution_id = %(ex_id)s AND holder = ''
        ORDER BY slicer_order, slice_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
    ))
    RETURNING slice_id
), claimed AS (
    UPDATE jobs_slice SET state = 'start', holder = %(holder)s, updated = now()
    WHERE id = ANY(ARRAY(SELECT slice_id FROM taken))
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
    # The done ids go as one array literal: psycopg quoting a list of 256 ints element by element cost more
    # than the rest of the statement's parameters together (0.55 against 0.12 µs a slice).
    done_ids = "{" + ",".join(map(str, done)) + "}"
    rows = fetch_work_rows(COMPLETE_AND_CLAIM_SQL, {"done": done_ids, "holder": holder, "ex_id": ex_id, "limit": limit})
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
    with transaction.atomic():
        if not SliceWork.objects.filter(pk=slice_pk, holder=holder).delete()[0]:
            return False
        return bool(
            Slice.objects.in_hand()
            .filter(pk=slice_pk, holder=holder)
            .update(state=state, error=error, retry_count=retry_count, updated=timezone.now())
        )


HEARTBEAT_SQL = "UPDATE jobs_slicework SET heartbeat = now() WHERE execution_id = %(ex_id)s AND holder = %(holder)s"


def heartbeat_slices(ex_id: str, *, holder: str) -> None:
    """Renew the leases of the execution's slices `holder` has in hand (found by the execution, as the
    reaper finds them: see REAPED_AFTER_END)."""
    with connection.cursor() as cursor:
        cursor.execute(PLAIN_INDEX_SCANS + HEARTBEAT_SQL, {"ex_id": ex_id, "holder": holder})


def pending_slice_count(ex_id: str) -> int:
    """How many slices of the execution wait to be claimed (the controller asks before each refill: in SQL,
    since the ORM's query building cost more than the count)."""
    query = "SELECT count(*) FROM jobs_slicework WHERE execution_id = %(ex_id)s AND holder = ''"
    return fetch_work_rows(query, {"ex_id": ex_id})[0][0]


# The controller's beat, ten times a second, in one statement: the ORM's queries (two, three with the completed),
# and building them, were a sixth of the controller's samples in a 20,000-slice run (py-spy). Error records are found by their index
# (`slice_errors`), as Slice.objects.errors() finds them.
SLICE_COUNTS_SQL = """
SELECT count(*) FILTER (WHERE holder = ''), count(*) FILTER (WHERE holder <> ''),
    (SELECT count(*) FROM jobs_slice WHERE execution_id = %(ex_id)s AND state = 'error' AND error <> ''),
    CASE WHEN %(completed)s THEN (SELECT count(*) FROM jobs_slice WHERE execution_id = %(ex_id)s) ELSE 0 END
FROM jobs_slicework WHERE execution_id = %(ex_id)s
"""


def slice_counts(ex_id: str, *, completed: bool = True) -> dict[str, int]:
    """How many slices of the execution are in each state (every state present, zero or not).

    With `completed=False` the completed ones are not counted (shown as 0): the rest are bounded by the
    look-ahead, the slices in hand and the failures, while the completed grow with the execution's age and
    counting them is a scan of its history. The unfinished are counted from their work rows, the errors from
    their index."""
    ((pending, start, errors, written),) = fetch_work_rows(SLICE_COUNTS_SQL, {"ex_id": ex_id, "completed": completed})
    # The completed from the order index alone: no index says which slices completed.
    done = written - pending - start - errors if completed else 0
    return {SliceState.PENDING: pending, SliceState.START: start, SliceState.COMPLETED: done, SliceState.ERROR: errors}


REQUEUE_SQL = """
WITH back AS (
    UPDATE jobs_slicework SET holder = '', heartbeat = NULL WHERE execution_id = %s AND holder <> ''
    RETURNING slice_id
)
UPDATE jobs_slice SET state = 'pending', holder = '', updated = now()
WHERE id = ANY(ARRAY(SELECT slice_id FROM back)) AND state = 'start'
"""


def requeue_slices_in_hand(ex_id: str) -> int:
    """Slices being processed go back to pending, not counted as an attempt: the stop was forced, the
    slices did not fail."""
    with connection.cursor() as cursor:
        cursor.execute(REQUEUE_SQL, [ex_id])
        return cursor.rowcount


# The reaper looks for silent holders' slices among the executions living or ended within this long (a
# holder can die with slices in hand just before its execution ends), each by the work table's index on the
# execution. The work table's pages hold the rows of every slice since its last vacuum (200,000 slices
# left 8,377 pages for 384 rows), and reading them all on each round, and on each loop's heartbeat, was most
# of PostgreSQL's CPU while a run of big slices went on (26 ms a round then, 2.3 now: EXPLAIN ANALYZE).
REAPED_AFTER_END = timedelta(hours=1)


def expired_work(now, *, lease_seconds: float):
    """The work rows, with their slices and executions, of the slices in hand whose holder has been silent
    for `lease_seconds`, in the executions the reaper looks at (see REAPED_AFTER_END), up to 1,000; locked
    for update, skipping rows others hold. Run it with PLAIN_INDEX_SCANS in force."""
    reaped = Q(execution__status__in=sorted(LIVING)) | Q(execution__updated__gte=now - REAPED_AFTER_END)
    return (
        SliceWork.objects.in_hand()
        .select_for_update(skip_locked=True, of=("self", "slice"))
        .select_related("slice__execution")
        .filter(reaped, heartbeat__lt=now - timedelta(seconds=lease_seconds))[:1000]
    )


def release_expired_slices(*, lease_seconds: float) -> int:
    """Slices whose holder stopped heartbeating go back to pending, counted as an attempt; a slice out of
    attempts becomes an error record that says what happened."""
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:  # for this transaction's query below: see PLAIN_INDEX_SCANS
            cursor.execute(PLAIN_INDEX_SCANS)
        expired = list(expired_work(now, lease_seconds=lease_seconds))
        failed = set()
        for work in expired:
            slice_ = work.slice
            attempts = slice_.retry_count + 1
            if attempts > int(slice_.execution.config.get("max_retries", 3)):
                slice_.state = SliceState.ERROR
                slice_.error = (
                    f"Error: worker {work.holder} stopped responding while processing this slice ({attempts} attempts)"
                )
                failed.add(work.pk)
            else:
                slice_.state = SliceState.PENDING
            slice_.retry_count, slice_.holder, slice_.updated = attempts, "", now
            work.holder, work.heartbeat = "", None
        Slice.objects.bulk_update(
            [work.slice for work in expired], ["state", "error", "retry_count", "holder", "updated"]
        )
        SliceWork.objects.bulk_update([work for work in expired if work.pk not in failed], ["holder", "heartbeat"])
        SliceWork.objects.filter(pk__in=failed).delete()
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
