"""An execution is a task tree in the registry (spec/jobsite.md §5): the execution's task reports its
progress, and cancelling a task means what the jobs app registered for its action: the execution's task
stops the execution, a worker loop's task removes that worker."""

import time

import pytest

from jobs.models import Execution
from jobsite import actions
from tasks import registry
from tasks.models import Task
from tests.engine.conftest import generator_job, running_worker_loops, start_job, wait_for_status, wait_until

pytestmark = [pytest.mark.slow]


def execution_task(ex_id: str) -> Task:
    return Task.objects.get(action=actions.JOBS_EXECUTION, target=ex_id)


def test_the_execution_task_reports_phase_slices_and_workers_and_keeps_them_when_done(engine):
    ex_id = start_job(engine, generator_job(size=400, slice_size=10, delay_ms=5, workers=2))
    wait_for_status(engine, ex_id, "completed", timeout=60)

    task = execution_task(ex_id)
    assert task.completed and task.result == {"status": "completed"}
    slices = task.status["slices"]
    assert slices["processed"] == slices["total"] == 40, task.status
    assert task.status["workers"]["wanted"] == 2
    assert set(task.status) == {"phase", "slices", "workers"}


def test_a_running_execution_task_shows_progress_while_it_runs(engine):
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=20, lifecycle="persistent"))
    wait_for_status(engine, ex_id, "running", timeout=60)

    progress = wait_until(lambda: execution_task(ex_id).status.get("slices", {}).get("processed", 0) > 5, timeout=30)
    assert progress
    status = execution_task(ex_id).status
    assert status["phase"] == "running" and status["slices"]["total"] is None  # a persistent job never ends slicing


def test_cancelling_the_execution_task_stops_it_and_ends_its_worker_loops(engine):
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=20, workers=2, lifecycle="persistent"))
    wait_for_status(engine, ex_id, "running", timeout=60)
    wait_until(lambda: running_worker_loops(ex_id) == 2, timeout=30)

    began = time.monotonic()
    task = registry.cancel(execution_task(ex_id))
    flagged = Task.objects.filter(parent=task, cancelled=True).count()
    wait_for_status(engine, ex_id, "stopped", timeout=30)
    wait_until(lambda: running_worker_loops(ex_id) == 0, timeout=30)
    ended = time.monotonic() - began

    assert task.cancelled and flagged == 3  # its controller and both workers, at once
    assert ended < 5, f"the cancelled execution took {ended:.2f}s to end"


def test_cancelling_a_worker_task_removes_that_worker(engine):
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=20, workers=3, lifecycle="persistent"))
    wait_for_status(engine, ex_id, "running", timeout=60)
    wait_until(lambda: running_worker_loops(ex_id) == 3, timeout=30)
    worker = Task.objects.running().get(action=actions.JOBS_EXECUTION_WORKER, target=ex_id, number=1)

    began = time.monotonic()
    registry.cancel(worker)
    wait_until(lambda: Task.objects.get(pk=worker.pk).completed, timeout=30)
    ended = time.monotonic() - began

    assert Execution.objects.get(pk=ex_id).workers == 2
    wait_until(lambda: running_worker_loops(ex_id) == 2, timeout=30)
    assert Execution.objects.get(pk=ex_id).status == "running"
    assert ended < 5, f"the cancelled worker took {ended:.2f}s to leave"


def test_cancelling_the_only_worker_replaces_it(engine):
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=20, workers=1, lifecycle="persistent"))
    wait_for_status(engine, ex_id, "running", timeout=60)
    wait_until(lambda: running_worker_loops(ex_id) == 1, timeout=30)
    worker = Task.objects.running().get(action=actions.JOBS_EXECUTION_WORKER, target=ex_id)

    registry.cancel(worker)

    replacement = wait_until(
        lambda: (
            Task.objects.running()
            .filter(action=actions.JOBS_EXECUTION_WORKER, target=ex_id)
            .exclude(pk=worker.pk)
            .first()
        ),
        timeout=30,
    )
    assert replacement.number == 0 and Execution.objects.get(pk=ex_id).workers == 1
