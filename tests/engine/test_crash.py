"""Crash safety (DESIGN.md rule 6) with real processes: a django-q2 worker process SIGKILLed while it runs a
worker loop or the execution controller. Whatever dies, the execution ends with every slice accounted for."""

import os
import signal

import psutil
import pytest

from jobs.lifecycle import TERMINAL
from jobs.models import Slice, SliceState
from tasks.models import Task
from tests.engine.conftest import (
    WORKER_ACTION,
    WORKER_NODE_ID,
    generator_job,
    history,
    in_hand,
    requests_by_order,
    running_worker_loops,
    slice_states,
    start_job,
    wait_for_status,
    wait_until,
)

pytestmark = [pytest.mark.slow]


def sigkill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)

    def dead():
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_until(dead, timeout=10, message=f"process {pid} survived SIGKILL")


def holder_in_hand(ex_id: str) -> str:
    """The holder of a slice of the execution in state `start` (waits for one)."""
    return wait_until(
        lambda: in_hand(ex_id).values_list("holder", flat=True).first(),
        timeout=60,
    )


def controller_mid_slicing(engine, worker_node, *, total: int) -> tuple[str, int]:
    """An execution of `total` slices whose controller, a process of the worker node, has sliced part of them
    only (`total` is more than its look-ahead: 512 for 2 workers): (ex_id, the controller's pid)."""
    ex_id = start_job(engine, generator_job(size=total * 10, slice_size=10, delay_ms=15))
    wait_for_status(engine, ex_id, "running", timeout=60)
    wait_until(lambda: slice_states(ex_id)["completed"] >= 10, timeout=60)
    pid = wait_until(lambda: worker_node.pid_running(f"controller {ex_id}"), timeout=10)
    assert worker_node.owns(pid), f"{pid} is not a process of the worker node"
    assert Slice.objects.filter(execution_id=ex_id).count() < total, "the controller had already sliced everything"
    return ex_id, pid


def kill_a_worker_mid_slice(engine, node) -> tuple[str, list[str]]:
    """Start a job of 30 slices of 300 ms and SIGKILL the django-q2 process of a worker loop while it
    holds slices: (ex_id, the slice ids it held)."""
    ex_id = start_job(engine, generator_job(size=300, slice_size=10, delay_ms=300))
    wait_for_status(engine, ex_id, "running", timeout=60)
    # A holder is `<node>:<pid>:<worker number>:<random>`: the pid is the django-q2 process of the loop.
    node_id, pid, _number, _ = holder_in_hand(ex_id).split(":")
    assert node_id == WORKER_NODE_ID
    assert node.owns(int(pid)), f"{pid} is not a process of the worker node"

    sigkill(int(pid))
    # What the dead process held at its death.
    held = list(in_hand(ex_id).filter(holder__startswith=f"{node_id}:{pid}:").values_list("slice_id", flat=True))
    assert held, "the worker was killed between two slices"
    return ex_id, held


def assert_completed_with_the_held_slices_run_again(record: dict, held: list[str], *, total: int) -> None:
    assert record["_status"] == "completed", record
    states = slice_states(record["ex_id"])
    assert states["start"] == 0 and states["pending"] == 0
    assert states["completed"] + states["error"] == total
    assert record["_slicer_stats"]["processed"] == total
    # The slices the dead worker held went back to pending, counted as an attempt, and were run again.
    for slice_ in Slice.objects.filter(execution_id=record["ex_id"], slice_id__in=held):
        assert (slice_.state, slice_.retry_count >= 1) == (SliceState.COMPLETED, True), slice_


def test_a_worker_process_killed_mid_slice_loses_no_slice(engine, worker_node):
    ex_id, held = kill_a_worker_mid_slice(engine, worker_node)
    record = wait_for_status(engine, ex_id, TERMINAL, timeout=120)

    assert_completed_with_the_held_slices_run_again(record, held, total=30)


def test_a_slice_that_outlasts_its_lease_stays_with_its_live_worker(engine):
    """The worker loop's heartbeat renews the lease (3 s here) of the slice it runs for 4.5 s: the reaper never
    hands it to the other worker, so it runs once, at its first attempt."""
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=4500, workers=2))

    record = wait_for_status(engine, ex_id, TERMINAL, timeout=60)

    assert record["_status"] == "completed", record
    assert list(Slice.objects.filter(execution_id=ex_id).values_list("state", "retry_count")) == [
        (SliceState.COMPLETED, 0)
    ]


def test_a_killed_controller_is_taken_over_and_every_slice_is_run_once(engine, worker_node):
    # Slicing must continue after the takeover from where the dead controller left off: no request skipped,
    # none made twice.
    total = 700
    ex_id, pid = controller_mid_slicing(engine, worker_node, total=total)

    sigkill(pid)
    record = wait_for_status(engine, ex_id, TERMINAL, timeout=180)

    assert record["_status"] == "completed", record
    assert any("taken over" in t["reason"] for t in history(engine, ex_id)), history(engine, ex_id)
    slices = requests_by_order(ex_id)
    assert [order for order, _ in slices] == list(range(1, total + 1))
    assert [request["processed"] for _, request in slices] == list(range(0, total * 10, 10))
    assert slice_states(ex_id) == {"pending": 0, "start": 0, "completed": total, "error": 0}
    assert record["_slicer_stats"]["processed"] == total


def test_a_frozen_controller_that_wakes_after_a_takeover_does_not_slice_again(engine, worker_node):
    # A controller stalled past the node timeout (a long GC pause, a swapped-out process) is taken over.
    # When it wakes up it must notice it lost the execution, not keep slicing next to its successor.
    total = 700
    ex_id, pid = controller_mid_slicing(engine, worker_node, total=total)

    os.kill(pid, signal.SIGSTOP)
    try:
        wait_until(
            lambda: any("taken over" in t["reason"] for t in history(engine, ex_id)),
            timeout=60,
            message="the stalled controller was not taken over",
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    record = wait_for_status(engine, ex_id, TERMINAL, timeout=180)

    assert record["_status"] == "completed", record
    slices = requests_by_order(ex_id)
    assert sorted(request["processed"] for _, request in slices) == list(range(0, total * 10, 10))
    assert [order for order, _ in slices] == list(range(1, total + 1))


def test_a_worker_loop_whose_process_died_is_replaced(engine, worker_node):
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=300, lifecycle="persistent"))
    wait_for_status(engine, ex_id, "running", timeout=60)
    wait_until(lambda: running_worker_loops(ex_id) == 2, timeout=30)
    holder = holder_in_hand(ex_id)
    _node, pid, number, _ = holder.split(":")

    sigkill(int(pid))

    # The dead loop's task ends as lost, and a new loop with the same number takes its place.
    lost = wait_until(
        lambda: Task.objects.filter(
            target=ex_id, action=WORKER_ACTION, number=number, error__type="worker_lost"
        ).first(),
        timeout=30,
        message="the dead worker loop's task was not ended",
    )
    wait_until(
        lambda: (
            Task.objects.running()
            .filter(target=ex_id, action=WORKER_ACTION, number=number, started_at__gt=lost.started_at)
            .exists()
        ),
        timeout=60,
        message=f"worker [{number}] was not started again",
    )
    wait_until(
        lambda: (
            Slice.objects.filter(execution_id=ex_id, holder__contains=f":{number}:")
            .exclude(holder__startswith=f"{_node}:{pid}:")
            .exists()
        ),
        timeout=30,
        message=f"the new worker [{number}] does not process slices",
    )
    assert running_worker_loops(ex_id) == 2


def test_a_slice_whose_worker_died_on_its_last_attempt_becomes_an_error_record(engine, worker_node):
    ex_id = start_job(engine, generator_job(size=100, slice_size=10, delay_ms=300, max_retries=0))
    wait_for_status(engine, ex_id, "running", timeout=60)
    holder = holder_in_hand(ex_id)
    _node, pid, _number, _ = holder.split(":")

    sigkill(int(pid))
    held = list(in_hand(ex_id).filter(holder=holder).values_list("slice_id", flat=True))
    assert held, "the worker was killed between two slices"
    record = wait_for_status(engine, ex_id, TERMINAL, timeout=120)

    assert record["_status"] == "failed", record
    states = slice_states(ex_id)
    assert states["start"] == 0 and states["pending"] == 0 and states["completed"] + states["error"] == 10
    assert f"had {states['error']} slice failure(s)" in record["_failureReason"]
    for slice_ in Slice.objects.filter(execution_id=ex_id, slice_id__in=held):
        assert slice_.state == SliceState.ERROR
        assert slice_.retry_count == 1
        assert f"worker {holder} stopped responding" in slice_.error
