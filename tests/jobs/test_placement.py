"""Slot-aware placement, decided in the database (no worker processes here): who gets slots, who waits and
says why, fair shares, fencing of loops that are no longer wanted, and the queue rows of dead loops."""

import gc
from collections import Counter

import pytest
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task

from jobs import dispatch, q, services
from jobs.engine.reaper import purge_dead_queue_rows
from jobs.models import Execution, Job
from jobs.services.placement import LOOP_ACTIONS, fair_shares, place
from jobs.validation import validate_job
from jobsite import actions
from jobsite.errors import Invalid
from tasks import registry
from tasks.models import Node, Task
from tasks.nodes import this_node_id

SPEC = {"name": "placed", "workers": 1, "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}


def worker_node(node_id: str, slots: int) -> Node:
    now = timezone.now()
    return Node.objects.create(
        node_id=node_id, name=node_id, hostname="h", roles=["worker"], version="x", total=slots, heartbeat_at=now
    )


def execution(workers: int = 1, name: str = "placed") -> Execution:
    spec = {**SPEC, "name": name, "workers": workers}
    job = Job.objects.create(name=name, spec=spec)
    config = validate_job(spec).config
    created = Execution.objects.create(job=job, name=name, config=config, workers=workers)
    registry.begin(action=actions.JOBS_EXECUTION, description=name, target=created.ex_id, cancellable=True)
    return created


def loops(ex: Execution) -> tuple[int, list[int]]:
    """(running controllers, running worker numbers) placed for the execution."""
    running = Task.objects.running().filter(target=ex.ex_id)
    controllers = running.filter(action=actions.JOBS_EXECUTION_CONTROLLER).count()
    workers = sorted(running.filter(action=actions.JOBS_EXECUTION_WORKER).values_list("number", flat=True))
    return controllers, workers


@pytest.mark.parametrize(
    ("wanted", "capacity", "shares"),
    [
        ([5, 1], 4, [3, 1]),
        ([2, 2], 10, [2, 2]),
        ([10, 10, 10], 4, [2, 1, 1]),
        ([1, 8], 5, [1, 4]),
        ([3], 0, [0]),
    ],
)
def test_fair_shares_give_nobody_more_than_it_wants_and_leftovers_to_the_oldest(wanted, capacity, shares):
    assert fair_shares(wanted, capacity) == shares


def test_executions_are_placed_in_arrival_order_while_a_controller_and_a_worker_fit(db):
    worker_node("NodeA", 4)
    first, second, third = execution(), execution(), execution()

    place()

    assert loops(first) == (1, [0]) and loops(second) == (1, [0]) and loops(third) == (0, [])
    third.refresh_from_db()
    assert third.status == "scheduling"
    assert third.scheduling_reason == "waiting for 2 free slots; 0 of 4 free"
    waited = third.transitions.get(to_status="scheduling")
    assert (waited.from_status, waited.actor, waited.reason) == ("pending", "scheduler", third.scheduling_reason)


def test_a_waiting_execution_is_placed_when_slots_free_up(db):
    worker_node("NodeA", 2)
    first, second = execution(), execution()
    place()
    assert loops(second) == (0, [])

    Task.objects.running().filter(target=first.ex_id).update(finished_at=timezone.now())
    Execution.objects.filter(pk=first.pk).update(status="completed")
    place()

    assert loops(second) == (1, [0])
    second.refresh_from_db()
    assert second.scheduling_reason == ""


def test_without_a_worker_node_an_execution_stays_pending_and_says_so(db):
    waiting = execution()

    place()

    waiting.refresh_from_db()
    assert (waiting.status, waiting.scheduling_reason) == ("pending", "waiting for a worker node: none is connected")


def test_a_wide_execution_gives_back_the_workers_above_its_share(db):
    worker_node("NodeA", 6)
    wide = execution(workers=6, name="wide")
    place()
    assert loops(wide) == (1, [0, 1, 2, 3, 4])

    small = execution(workers=1, name="small")
    place()
    wide.refresh_from_db()

    assert wide.allotted_workers == 3  # its loops 3 and 4 see it and leave
    assert loops(small) == (0, [])  # not before those two slots are free
    Task.objects.running().filter(target=wide.ex_id, number__in=[3, 4]).update(finished_at=timezone.now())
    place()
    assert loops(small) == (1, [0])


def test_loops_go_to_the_nodes_with_free_slots_and_never_beyond(db):
    worker_node("NodeA", 1)
    worker_node("NodeB", 3)
    ex = execution(workers=8, name="spread")

    place()

    placed = Task.objects.running().filter(target=ex.ex_id, action__in=LOOP_ACTIONS)
    per_node = Counter(placed.values_list("node_id", flat=True))
    assert per_node == {"NodeA": 1, "NodeB": 3}


def test_a_stopping_or_stopped_execution_gets_no_new_loops(db):
    worker_node("NodeA", 8)
    stopping, stopped = execution(workers=3), execution(workers=3)
    Execution.objects.filter(pk=stopping.pk).update(status="stopping")
    Execution.objects.filter(pk=stopped.pk).update(status="stopped")

    place()

    assert loops(stopping) == (0, []) and loops(stopped) == (0, [])


def test_a_loop_whose_placement_ended_or_was_taken_does_nothing(transactional_db):
    worker_node("NodeA", 4)
    ex = execution()
    place()
    task = Task.objects.get(target=ex.ex_id, action=actions.JOBS_EXECUTION_WORKER)
    Task.objects.filter(pk=task.pk).update(node_id=this_node_id())  # as if placed on this process's node
    registry.finish(task)

    assert q.run_worker(ex.ex_id, 0, task.pk) == {"processed": 0, "wanted": False}
    assert q.run_worker(ex.ex_id, 0) == {"processed": 0, "wanted": False}  # a row of an earlier version
    assert q.run_execution(ex.ex_id) == "not wanted"


def test_the_reaper_drops_queue_rows_of_loops_no_longer_wanted(db, settings):
    ex = execution()
    wanted = registry.begin(action=actions.JOBS_EXECUTION_WORKER, description="w", target=ex.ex_id, number=0)
    dead = registry.finish(registry.begin(action=actions.JOBS_EXECUTION_WORKER, description="d", target=ex.ex_id))
    queue = dispatch.engine_queue("NodeA")
    async_task(dispatch.RUN_WORKER, ex.ex_id, 0, wanted.pk, cluster=queue)
    async_task(dispatch.RUN_WORKER, ex.ex_id, 1, dead.pk, cluster=queue)
    async_task(dispatch.RUN_CONTROLLER, ex.ex_id, cluster=queue)  # an earlier version's row: no placement

    assert purge_dead_queue_rows() == 2
    assert OrmQ.objects.filter(key=queue).count() == 1


def test_workers_are_bounded_by_the_clusters_slots(db):
    worker_node("NodeA", 4)

    with pytest.raises(Invalid, match="workers must be at most 4"):
        services.submit_job({**SPEC, "workers": 5}, start=True, actor="t")
    job, ex, _ = services.submit_job({**SPEC, "workers": 2}, start=True, actor="t")
    with pytest.raises(Invalid, match="workers must be at most 4"):
        services.change_workers(ex.ex_id, action="add", number=100_000, actor="t")
    assert Execution.objects.get(pk=ex.pk).workers == 2


@pytest.mark.parametrize("queue", ["engine", "control"])
def test_an_engine_process_freezes_its_startup_heap_once_warmed_up(db, monkeypatch, queue):
    """What an engine process loaded at its start is left out of Python's full garbage collections from then
    on; the control queue's processes run no pipelines and keep theirs."""
    name = dispatch.engine_queue(this_node_id()) if queue == "engine" else dispatch.CONTROL_QUEUE
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    gc.unfreeze()
    try:
        q.warm_up()
        assert (gc.get_freeze_count() > 0) == (queue == "engine")
    finally:
        gc.unfreeze()
