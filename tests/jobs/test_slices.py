"""Slices written by the controller in one statement: what a worker later claims is what was cut; claims and
completions keep the slice rows and their work rows in step."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from jobs import services
from jobs.engine.worker import Wakeups
from jobs.models import Execution, Job, Slice, SliceState, SliceWork
from jobs.services import slices

pytestmark = pytest.mark.django_db

SPEC = {"name": "cut", "workers": 1, "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}


def another_execution() -> Execution:
    return Execution.objects.create(job=Job.objects.create(name="cut", spec=SPEC), name="cut", config=SPEC, workers=1)


@pytest.fixture
def execution() -> Execution:
    return another_execution()


def test_new_slices_are_pending_with_their_requests_and_fresh_ids(execution):
    requests = [(0, 1, {"count": 5, "offset": 0}), (0, 2, {"path": "/data/é ✓", "nested": [1, None, True]}), (1, 1, 7)]
    services.add_slices(execution, requests)

    rows = list(Slice.objects.filter(execution=execution).order_by("slicer_id", "slicer_order"))
    assert [(s.slicer_id, s.slicer_order, s.request) for s in rows] == requests
    assert {s.state for s in rows} == {SliceState.PENDING}
    assert all(s.retry_count == 0 and s.holder == "" and s.error == "" for s in rows)
    work = SliceWork.objects.filter(execution=execution)
    assert sorted(work.values_list("slice_id", "holder", "heartbeat")) == sorted((s.pk, "", None) for s in rows)
    assert all(s.created == s.updated for s in rows)
    assert len({s.slice_id for s in rows}) == 3
    assert all(str(uuid.UUID(s.slice_id)) == s.slice_id for s in rows)


def test_a_slice_cut_twice_is_written_once(execution):
    """A stale controller waking up cuts the same orders again: the first cut stays."""
    services.add_slices(execution, [(0, 1, {"first": True}), (0, 2, {"first": True})])
    services.add_slices(execution, [(0, 2, {"first": False}), (0, 3, {"first": False})])

    requests = dict(Slice.objects.filter(execution=execution).values_list("slicer_order", "request"))
    assert requests == {1: {"first": True}, 2: {"first": True}, 3: {"first": False}}


def test_slices_of_an_execution_that_is_gone_are_not_written(execution):
    services.add_slices(Execution(ex_id="gone", job=execution.job, config=SPEC), [(0, 1, {"n": 1})])

    assert not Slice.objects.filter(execution_id="gone").exists()
    assert not SliceWork.objects.filter(execution_id="gone").exists()


@pytest.mark.django_db(transaction=True)
def test_writing_slices_holds_the_executions_key_until_commit(execution):
    """What a foreign key's check would do: while slices are written, the execution cannot be deleted (a
    FOR UPDATE lock is what a delete takes), and its other columns can still be updated (the controller's
    lease, a stop from the web)."""
    connections["other"] = connections.create_connection("default")
    other = connections["other"]
    try:
        with transaction.atomic():
            services.add_slices(execution, [(0, 1, {"n": 1})])
            with transaction.atomic(using="other"), other.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
                cursor.execute("UPDATE jobs_execution SET updated = now() WHERE ex_id = %s", [execution.ex_id])
                with pytest.raises(OperationalError, match="lock timeout"):
                    cursor.execute("SELECT 1 FROM jobs_execution WHERE ex_id = %s FOR UPDATE", [execution.ex_id])
        with transaction.atomic(using="other"), other.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
            cursor.execute("SELECT 1 FROM jobs_execution WHERE ex_id = %s FOR UPDATE", [execution.ex_id])
            assert cursor.fetchone() == (1,)
    finally:
        other.close()
        del connections["other"]


def test_claiming_hands_out_the_written_slices_oldest_first(execution):
    services.add_slices(execution, [(0, order, {"n": order}) for order in range(1, 11)])

    claimed = services.claim_slices(execution.ex_id, holder="w1", limit=4)

    assert [row[4] for row in claimed] == [{"n": n} for n in range(1, 5)]
    assert Slice.objects.filter(execution=execution, state=SliceState.PENDING).count() == 6


def test_a_claim_takes_no_more_than_its_limit_when_the_statistics_are_stale(execution):
    """Analyzed while it held one slice, the table looks tiny to the planner, which then rescans the claim's
    `LIMIT ... SKIP LOCKED` once per row: the slices taken by the earlier scans count as locked-by-self and
    are skipped, so `id IN (...)` used to take every pending slice (20 of 20 here), starving the other
    workers. The ids are now taken once, in an ARRAY."""
    services.add_slices(execution, [(0, 1, {"n": 1})])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE jobs_slice")
    services.add_slices(execution, [(0, order, {"n": order}) for order in range(2, 21)])

    claimed = services.claim_slices(execution.ex_id, holder="w1", limit=5)

    assert [row[4] for row in claimed] == [{"n": n} for n in range(1, 6)]
    assert Slice.objects.filter(execution=execution, state=SliceState.PENDING).count() == 15


def test_one_statement_records_a_workers_done_slices_and_claims_its_next(execution):
    services.add_slices(execution, [(0, order, {"n": order}) for order in range(1, 11)])
    first = services.claim_slices(execution.ex_id, holder="w1", limit=4)

    completed, claimed = services.complete_and_claim(execution.ex_id, [row[0] for row in first], holder="w1", limit=4)

    assert completed == 4
    assert [row[4] for row in claimed] == [{"n": n} for n in range(5, 9)]
    states = dict(Slice.objects.filter(execution=execution).values_list("slicer_order", "state"))
    assert states == {
        **dict.fromkeys(range(1, 5), SliceState.COMPLETED),
        **dict.fromkeys(range(5, 9), SliceState.START),
        9: SliceState.PENDING,
        10: SliceState.PENDING,
    }
    # Slices no longer the holder's (handed to another after their lease) are not recorded by it; with
    # nothing left to claim the count still comes back.
    SliceWork.objects.filter(pk=claimed[0][0]).update(holder="w2")
    Slice.objects.filter(pk=claimed[0][0]).update(holder="w2")
    services.claim_slices(execution.ex_id, holder="w3", limit=2)
    completed, none = services.complete_and_claim(execution.ex_id, [row[0] for row in claimed], holder="w1", limit=4)
    assert (completed, none) == (3, [])
    assert Slice.objects.get(pk=claimed[0][0]).state == SliceState.START


def test_nothing_to_write_writes_nothing(execution):
    services.add_slices(execution, [])
    assert not Slice.objects.filter(execution=execution).exists()


def test_the_controllers_beat_counts_everything_but_the_completed_slices(execution):
    services.add_slices(execution, [(0, order, {"n": order}) for order in range(1, 8)])
    claimed = [row[0] for row in services.claim_slices(execution.ex_id, holder="w1", limit=5)]
    services.complete_and_claim(execution.ex_id, claimed[:3], holder="w1", limit=0)
    services.finish_slice(claimed[3], holder="w1", error="TypeError: bad record")

    every = services.slice_counts(execution.ex_id)
    beat = services.slice_counts(execution.ex_id, completed=False)

    assert every == {"pending": 2, "start": 1, "completed": 3, "error": 1}
    assert beat == {**every, "completed": 0}


@pytest.mark.django_db(transaction=True)
def test_an_idle_worker_loop_wakes_when_its_controller_writes_slices_and_not_for_old_news(execution):
    """The loop listens on its own connection (which hears its own notifications too, as here)."""
    wakeups = Wakeups(services.slices_channel(execution.ex_id))
    wakeups.wait(0)  # listening from now on

    writer = threading.Timer(0.3, lambda: (services.add_slices(execution, [(0, 1, {})]), connections.close_all()))
    began = time.monotonic()
    writer.start()
    wakeups.wait(10)
    writer.join()
    assert 0.25 < time.monotonic() - began < 5

    for order in (2, 3, 4):  # written while the loop was busy: dropped at its next status check
        services.add_slices(execution, [(0, order, {})])
    wakeups.drain()
    began = time.monotonic()
    wakeups.wait(0.5)
    assert time.monotonic() - began >= 0.45


@pytest.mark.django_db(transaction=True)
def test_a_controller_hears_a_worker_say_the_queue_ran_dry(execution):
    drained = Wakeups(services.drained_channel(execution.ex_id))
    assert drained.wait(0) is False  # listening from now on

    worker = threading.Thread(target=lambda: (services.say_drained(execution.ex_id), connections.close_all()))
    worker.start()
    worker.join()
    assert drained.wait(10) is True

    services.say_drained(execution.ex_id)  # heard before a beat's counts: answered by them, dropped
    drained.drain()
    assert drained.wait(0.2) is False


@pytest.mark.django_db(transaction=True)
def test_the_work_table_is_read_by_index_scans_whatever_its_statistics_say(execution):
    """Statistics taken while the table was empty, then 3,000 slices written and 2,000 finished: the planner
    would read the execution's work rows by a bitmap scan, which re-reads the dead index entries of every
    finished slice on each claim and count (a plain index scan marks them dead as it passes), and the whole
    table to delete a batch's done rows."""
    with connection.cursor() as cursor:
        # An empty file as well as empty statistics: dead rows an earlier test left would change the estimates.
        cursor.execute("TRUNCATE jobs_slicework")
        cursor.execute("ANALYZE jobs_slicework")
    services.add_slices(execution, [(0, order, {}) for order in range(1, 3001)])
    claimed = [row[0] for row in services.claim_slices(execution.ex_id, holder="w1", limit=2256)]
    services.complete_and_claim(execution.ex_id, claimed[:2000], holder="w1", limit=0)
    claim = {"done": claimed[2000:], "holder": "w1", "ex_id": execution.ex_id, "limit": 256}
    counts = {"ex_id": execution.ex_id, "completed": True}

    def plan(rows) -> str:
        return "\n".join(row[0] for row in rows)

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + slices.COMPLETE_AND_CLAIM_SQL, claim)
        left_alone = plan(cursor.fetchall())
    assert "Bitmap Heap Scan on jobs_slicework" in left_alone  # what it would be
    assert "Seq Scan on jobs_slicework" in left_alone

    heartbeat = {"ex_id": execution.ex_id, "holder": "w1"}
    for query, parameters in (
        (slices.COMPLETE_AND_CLAIM_SQL, claim),
        (slices.SLICE_COUNTS_SQL, counts),
        (slices.HEARTBEAT_SQL, heartbeat),
    ):
        chosen = plan(slices.fetch_work_rows("EXPLAIN " + query, parameters))
        assert "Index Scan using slicework_order on jobs_slicework" in chosen
        assert "Bitmap Heap Scan on jobs_slicework" not in chosen
        assert "Seq Scan" not in chosen

    # The reaper's, in its transaction: by the executions it looks at, each by the same index.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(slices.PLAIN_INDEX_SCANS)
        reaper = slices.expired_work(timezone.now(), lease_seconds=15).explain()
    assert "Index Scan using slicework_order on jobs_slicework" in reaper
    assert "Seq Scan" not in reaper


def older_snapshots() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_type, state, left(query, 80) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)"
        )
        return cursor.fetchall()


def no_older_snapshot() -> bool:
    return not older_snapshots()


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.django_db(transaction=True)
def test_claims_and_completions_update_the_slice_rows_in_place(execution):
    """Nothing indexed on jobs_slice or jobs_slicework changes when a slice is claimed or completed, and both
    tables keep room in their pages: each update is HOT (no new index entries), the cost that once doubled
    each slice's WAL."""
    services.add_slices(execution, [(0, order, {"n": order}) for order in range(1, 101)])
    HOLDER = "ev3hShzc7Y_wwyqif63TXQ:12345:0:a1b2c3"  # as long as a worker loop's (node id:pid:number:token)

    def updates(step) -> tuple[object, tuple[int, ...]]:
        """What `step` returns, and how many rows of jobs_slice it updated and how many of them HOT, then the
        same for jobs_slicework (the backend's counts not yet reported, which add up across its
        transactions until reported)."""
        counts = "SELECT " + ", ".join(
            f"pg_stat_get_xact_tuples_{kind}('{table}'::regclass)"
            for table in ("jobs_slice", "jobs_slicework")
            for kind in ("updated", "hot_updated")
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(counts)
            before = cursor.fetchone()
            result = step()
            cursor.execute(counts)
            return result, tuple(after - was for after, was in zip(cursor.fetchone(), before, strict=True))

    claimed, claims = updates(lambda: services.claim_slices(execution.ex_id, holder=HOLDER, limit=100))
    # The completion finds room where the claim's old row versions were, once PostgreSQL has pruned them. A
    # page is pruned as it is read only when no transaction of the whole cluster still running began before
    # the claim (a statement's snapshot xmin counts every database's transactions: in the suite, the other
    # test process's database too), so the test prunes by VACUUM, whose horizon counts this database's
    # sessions alone: it waits until none of them (an autovacuum's analyze, a test's open transaction) still
    # has a snapshot that sees those versions.
    assert wait_for(no_older_snapshot, timeout=30), f"sessions holding old snapshots: {older_snapshots()}"
    with connection.cursor() as cursor:
        cursor.execute("VACUUM jobs_slice")
    _, completions = updates(
        lambda: services.complete_and_claim(execution.ex_id, [r[0] for r in claimed], holder=HOLDER, limit=0)
    )

    # The work rows are updated by the claim only; the completion deletes them.
    assert (claims, completions) == ((100, 100, 100, 100), (100, 100, 0, 0))
    assert Slice.objects.filter(execution=execution, state=SliceState.COMPLETED).count() == 100
    assert not SliceWork.objects.filter(execution=execution).exists()


def test_a_silent_holders_slices_go_back_to_pending_and_out_of_attempts_become_errors(execution):
    execution.config = {**execution.config, "max_retries": 1}
    execution.save()
    services.add_slices(execution, [(0, 1, {"n": 1}), (0, 2, {"n": 2})])
    first, second = (row[0] for row in services.claim_slices(execution.ex_id, holder="gone", limit=2))
    Slice.objects.filter(pk=second).update(retry_count=1)
    SliceWork.objects.update(heartbeat=timezone.now() - timedelta(seconds=60))

    assert services.release_expired_slices(lease_seconds=15) == 2

    back = Slice.objects.get(pk=first)
    assert (back.state, back.holder, back.retry_count) == (SliceState.PENDING, "", 1)
    failed = Slice.objects.get(pk=second)
    assert failed.state == SliceState.ERROR and "stopped responding" in failed.error
    assert list(SliceWork.objects.values_list("slice_id", "holder")) == [(first, "")]
    assert [row[0] for row in services.claim_slices(execution.ex_id, holder="next", limit=2)] == [first]
    assert services.slice_counts(execution.ex_id) == {"pending": 0, "start": 1, "completed": 0, "error": 1}


def test_the_reaper_looks_at_living_executions_and_those_ended_lately(execution):
    """A holder can die with slices in hand just before its execution ends: those come back too. Executions
    that ended longer ago than REAPED_AFTER_END are not looked at (their work rows are not read)."""
    ended_lately, ended_long_ago = another_execution(), another_execution()
    for each in (execution, ended_lately, ended_long_ago):
        services.add_slices(each, [(0, 1, {"n": 1})])
        services.claim_slices(each.ex_id, holder="gone", limit=1)
    long_ago = timezone.now() - slices.REAPED_AFTER_END - timedelta(minutes=1)
    Execution.objects.filter(pk=ended_lately.pk).update(status="failed", updated=timezone.now())
    Execution.objects.filter(pk=ended_long_ago.pk).update(status="failed", updated=long_ago)
    SliceWork.objects.update(heartbeat=timezone.now() - timedelta(seconds=60))

    assert services.release_expired_slices(lease_seconds=15) == 2

    back = SliceWork.objects.filter(holder="").values_list("execution_id", flat=True)
    assert sorted(back) == sorted([execution.ex_id, ended_lately.ex_id])


def test_a_heartbeat_renews_the_holders_leases_in_its_execution_only(execution):
    other = another_execution()
    for each in (execution, other):
        services.add_slices(each, [(0, 1, {"n": 1}), (0, 2, {"n": 2})])
        services.claim_slices(each.ex_id, holder="w1", limit=1)
    old = timezone.now() - timedelta(seconds=60)
    SliceWork.objects.update(heartbeat=old)

    services.heartbeat_slices(execution.ex_id, holder="w1")

    renewed = SliceWork.objects.exclude(heartbeat=old).values_list("execution_id", "holder")
    assert list(renewed) == [(execution.ex_id, "w1")]


def test_a_forced_stop_hands_the_slices_in_hand_back_without_counting_an_attempt(execution):
    services.add_slices(execution, [(0, order, {"n": order}) for order in range(1, 5)])
    claimed = [row[0] for row in services.claim_slices(execution.ex_id, holder="w1", limit=3)]

    assert services.requeue_slices_in_hand(execution.ex_id) == 3

    assert services.slice_counts(execution.ex_id) == {"pending": 4, "start": 0, "completed": 0, "error": 0}
    assert not Slice.objects.filter(pk__in=claimed).exclude(retry_count=0, holder="").exists()
    # The old holder's late completion counts for nothing: the slices are claimable again.
    assert services.complete_and_claim(execution.ex_id, claimed, holder="w1", limit=0)[0] == 0
    assert len(services.claim_slices(execution.ex_id, holder="w2", limit=4)) == 4
