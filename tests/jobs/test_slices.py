"""Slices written by the controller in one statement: what a worker later claims is what was cut."""

import threading
import time
import uuid

import pytest
from django.db import connection, connections

from jobs import services
from jobs.engine.worker import SliceWakeups
from jobs.models import Execution, Job, Slice, SliceState

pytestmark = pytest.mark.django_db

SPEC = {"name": "cut", "workers": 1, "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}


@pytest.fixture
def execution() -> Execution:
    job = Job.objects.create(name="cut", spec=SPEC)
    return Execution.objects.create(job=job, name="cut", config=SPEC, workers=1)


def test_new_slices_are_pending_with_their_requests_and_fresh_ids(execution):
    requests = [(0, 1, {"count": 5, "offset": 0}), (0, 2, {"path": "/data/é ✓", "nested": [1, None, True]}), (1, 1, 7)]
    services.add_slices(execution, requests)

    rows = list(Slice.objects.filter(execution=execution).order_by("slicer_id", "slicer_order"))
    assert [(s.slicer_id, s.slicer_order, s.request) for s in rows] == requests
    assert {s.state for s in rows} == {SliceState.PENDING}
    assert all(s.retry_count == 0 and s.holder == "" and s.error == "" and s.heartbeat is None for s in rows)
    assert all(s.created == s.updated for s in rows)
    assert len({s.slice_id for s in rows}) == 3
    assert all(str(uuid.UUID(s.slice_id)) == s.slice_id for s in rows)


def test_a_slice_cut_twice_is_written_once(execution):
    """A stale controller waking up cuts the same orders again: the first cut stays."""
    services.add_slices(execution, [(0, 1, {"first": True}), (0, 2, {"first": True})])
    services.add_slices(execution, [(0, 2, {"first": False}), (0, 3, {"first": False})])

    requests = dict(Slice.objects.filter(execution=execution).values_list("slicer_order", "request"))
    assert requests == {1: {"first": True}, 2: {"first": True}, 3: {"first": False}}


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
    Slice.objects.filter(execution=execution, slicer_order__lte=3).update(state=SliceState.COMPLETED)
    Slice.objects.filter(execution=execution, slicer_order=4).update(state=SliceState.ERROR)
    Slice.objects.filter(execution=execution, slicer_order=5).update(state=SliceState.START)

    every = services.slice_counts(execution.ex_id)
    beat = services.slice_counts(execution.ex_id, completed=False)

    assert every == {"pending": 2, "start": 1, "completed": 3, "error": 1}
    assert beat == {**every, "completed": 0}


@pytest.mark.django_db(transaction=True)
def test_an_idle_worker_loop_wakes_when_its_controller_writes_slices_and_not_for_old_news(execution):
    """The loop listens on its own connection (which hears its own notifications too, as here)."""
    wakeups = SliceWakeups(execution.ex_id)
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
