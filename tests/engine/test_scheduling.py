"""Slot-aware scheduling on a real worker node (6 engine slots, tests/engine/conftest.py NODE_ENV): more
executions than slots all complete, roughly in order of arrival; a job wider than the cluster runs on
what it can get while a small job still gets its share; nothing asks for more than the cluster has."""

import pytest

from jobs.lifecycle import TERMINAL
from jobs.models import Execution
from jobsite import actions
from tasks.models import Task
from tests.engine.conftest import (
    NODE_ENV,
    generator_job,
    history,
    running_worker_loops,
    start_job,
    wait_for_status,
    wait_until,
)

pytestmark = [pytest.mark.slow]
SLOTS = int(NODE_ENV["JOBSITE_ENGINE_WORKERS"])


def test_three_times_as_many_executions_as_slots_all_complete_roughly_in_arrival_order(engine):
    total = 3 * SLOTS
    started = [
        start_job(engine, generator_job(size=30, slice_size=10, delay_ms=50, workers=1, name=f"wave {n}"))
        for n in range(total)
    ]
    records = [wait_for_status(engine, ex_id, TERMINAL, timeout=180) for ex_id in started]

    assert [record["_status"] for record in records] == ["completed"] * total
    finished = {ex.ex_id: ex.updated for ex in Execution.objects.filter(ex_id__in=started)}
    rank = {ex_id: position for position, ex_id in enumerate(sorted(started, key=finished.get))}
    third = total // 3
    first_third = sum(rank[ex_id] for ex_id in started[:third]) / third
    last_third = sum(rank[ex_id] for ex_id in started[-third:]) / third
    assert first_third < last_third, "the executions that came first finished first, mostly"
    # Those that had to wait said why, in their history.
    waited = [step for ex_id in started for step in history(engine, ex_id) if step["actor"] == "scheduler"]
    assert waited, "with 3 executions per 6 slots at once, some had to wait"
    assert all(step["reason"].startswith("waiting for 2 free slots;") for step in waited)


def test_a_job_wider_than_the_cluster_runs_on_what_it_gets_and_a_small_job_still_gets_its_share(engine):
    wide = start_job(
        engine,
        generator_job(size=1000, slice_size=10, delay_ms=100, workers=SLOTS, lifecycle="persistent", name="wide"),
    )
    wait_for_status(engine, wide, "running", timeout=60)
    wait_until(lambda: running_worker_loops(wide) == SLOTS - 1, timeout=30, message="the wide job's 5 workers")

    small = start_job(engine, generator_job(size=50, slice_size=10, delay_ms=20, workers=1, name="small"))
    record = wait_for_status(engine, small, TERMINAL, timeout=60)

    assert record["_status"] == "completed"
    assert Execution.objects.get(pk=wide).status == "running"
    # While both ran, the wide job held its fair share of the 4 slots left for workers: 3 of them.
    assert Execution.objects.get(pk=wide).allotted_workers in (3, SLOTS - 1)
    wait_until(lambda: running_worker_loops(wide) == SLOTS - 1, timeout=30, message="the wide job grew back")
    loops = Task.objects.running().filter(action__in=[actions.JOBS_EXECUTION_CONTROLLER, actions.JOBS_EXECUTION_WORKER])
    assert loops.count() <= SLOTS


def test_no_execution_may_ask_for_more_workers_than_the_cluster_has(engine):
    response = engine.post("/v1/jobs", json=generator_job(size=10, slice_size=10, workers=SLOTS + 1))
    assert response.status_code == 400, response.text
    assert f"workers must be at most {SLOTS}" in response.json()["message"]

    ex_id = start_job(engine, generator_job(size=1000, slice_size=10, delay_ms=50, lifecycle="persistent", name="grow"))
    wait_for_status(engine, ex_id, "running", timeout=60)
    response = engine.post(f"/v1/ex/{ex_id}/_workers", params={"add": 100_000})

    assert response.status_code == 400, response.text
    assert Execution.objects.get(pk=ex_id).workers == 2
