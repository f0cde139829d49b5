"""Close housekeeping run by a real worker node's control queue (spec/jobsite.md §3): flush, final
results, snapshot, prune, closed; the resume after reopening; close_on_complete; a close that outlasts
its request."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Execution, Job, Slice
from jobs.validation import validate_job
from tasks.models import Task
from tests.engine.conftest import (
    WORKER_NODE_ID,
    generator_job,
    history,
    slice_states,
    start_job,
    wait_for_status,
    wait_until,
)

pytestmark = [pytest.mark.slow]

CLOSE = "cluster:admin/jobs/close"
WAIT_MS = 60_000


def state_of(job_id: str) -> str:
    return Job.objects.values_list("state", flat=True).get(pk=job_id)


def close_task(job_id: str) -> Task:
    return Task.objects.filter(action=CLOSE, target=job_id).latest("id")


def close(api, job_id: str, **params):
    response = api.post(f"/v1/jobs/{job_id}/_close", params={"timeout": WAIT_MS, **params}, timeout=90)
    assert response.status_code == 200, response.text
    assert response.json() == {"closed": True}


def test_close_of_a_job_without_execution_runs_on_a_worker_node_and_closes_it(engine):
    job_id = engine.post("/v1/jobs", params={"start": "false"}, json=generator_job(size=10, slice_size=10)).json()[
        "job_id"
    ]

    close(engine, job_id)

    assert engine.get(f"/v1/jobs/{job_id}").json()["state"] == "closed"
    task = close_task(job_id)
    assert task.node_id == WORKER_NODE_ID  # the node of a task is the node that ran it
    assert task.result["closed"] is True and task.result["ex_id"] is None
    assert task.status["phase"] == "prune"
    assert task.description == f"job [{job_id}] name [engine test]"


def test_close_of_a_running_job_stops_its_execution_gracefully_with_final_stats_and_a_snapshot(engine):
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=20, lifecycle="persistent"))
    job_id = Execution.objects.get(pk=ex_id).job_id
    wait_for_status(engine, ex_id, "running", timeout=60)
    wait_until(lambda: slice_states(ex_id)["completed"] >= 10, timeout=60)

    close(engine, job_id)

    record = engine.get(f"/v1/ex/{ex_id}").json()
    assert record["_status"] == "stopped"
    assert [t["to"] for t in history(engine, ex_id)][-2:] == ["stopping", "stopped"]
    assert slice_states(ex_id)["start"] == 0
    stats = record["_slicer_stats"]
    assert stats["job_duration"] >= 1
    assert stats["processed"] == slice_states(ex_id)["completed"]
    job = Job.objects.get(pk=job_id)
    assert (job.state, job.snapshot_execution_id) == ("closed", ex_id)
    snapshot = Execution.objects.get(pk=ex_id).checkpoint["snapshot"]
    newest = Slice.objects.filter(execution_id=ex_id, state="completed").latest("slicer_order")
    assert snapshot["slicers"]["0"]["last_completed"] == {
        "slicer_order": newest.slicer_order,
        "request": newest.request,
    }
    assert close_task(job_id).result["snapshot"] == snapshot


def test_reopen_and_start_resumes_after_the_snapshot_processing_every_record_once(engine):
    # 200 slices, more than the controller cuts ahead: the resumed execution re-runs the closed one's
    # pending slices and slices the rest.
    ex_id = start_job(engine, generator_job(size=2000, slice_size=10, delay_ms=40, workers=1))
    job_id = Execution.objects.get(pk=ex_id).job_id
    wait_until(lambda: slice_states(ex_id)["completed"] >= 10, timeout=60)
    close(engine, job_id)
    assert engine.get(f"/v1/ex/{ex_id}").json()["_status"] == "stopped"
    first = slice_states(ex_id)
    assert 0 < first["completed"] < 200

    assert engine.post(f"/v1/jobs/{job_id}/_open").json() == {"opened": True}
    response = engine.post(f"/v1/jobs/{job_id}/_start")
    assert response.status_code == 200, response.text
    resumed = response.json()["ex_id"]
    record = wait_for_status(engine, resumed, "completed", timeout=120)

    assert (record["recovered_execution"], record["recovered_slice_type"]) == (ex_id, "pending")
    done = Slice.objects.filter(execution_id__in=[ex_id, resumed], state="completed")
    starts = sorted(s.request["processed"] for s in done)
    assert starts == list(range(0, 2000, 10))  # every record once, none twice
    assert sum(s.request["count"] for s in done) == 2000
    assert Slice.objects.filter(execution_id=resumed).count() == 200 - first["completed"]
    assert Job.objects.get(pk=job_id).snapshot_execution_id is None  # used up by the start


def test_close_on_complete_closes_the_job_when_its_execution_completes(engine):
    ex_id = start_job(engine, generator_job(size=40, slice_size=10, close_on_complete=True))
    job_id = Execution.objects.get(pk=ex_id).job_id

    wait_for_status(engine, ex_id, "completed", timeout=90)
    wait_until(lambda: state_of(job_id) == "closed", timeout=30, message="the job was not closed")

    task = close_task(job_id)
    assert task.result["closed"] is True and task.result["status"] == "completed"
    assert task.node_id == WORKER_NODE_ID
    # A completed execution leaves nothing to resume: the next start (once opened) begins anew.
    assert Job.objects.get(pk=job_id).snapshot_execution_id is None
    assert engine.post(f"/v1/jobs/{job_id}/_start").status_code == 409


def test_close_prunes_slices_beyond_the_last_five_executions_keeping_every_error_record(engine):
    spec = generator_job(size=10, slice_size=10, name="engine prune")
    job = Job.objects.create(name=spec["name"], spec=spec)
    config = validate_job(spec).config
    start = timezone.now() - timedelta(hours=1)
    executions = []
    for n in range(7):
        execution = Execution.objects.create(
            job=job, name=job.name, config=config, workers=1, status="completed", created=start + timedelta(minutes=n)
        )
        for order, state in enumerate(["completed", "pending", "error"], start=1):
            Slice.objects.create(execution=execution, slicer_id=0, slicer_order=order, request={}, state=state)
        executions.append(execution.ex_id)

    close(engine, job.job_id)

    oldest, kept = executions[:2], executions[2:]
    assert sorted(Slice.objects.filter(execution_id__in=oldest).values_list("state", flat=True)) == ["error", "error"]
    assert Slice.objects.filter(execution_id__in=kept).count() == 15
    assert close_task(job.job_id).result["pruned_slices"] == 4


def test_close_that_outlasts_its_timeout_answers_429_and_still_closes_the_job(engine):
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=3000, workers=1, lifecycle="persistent"))
    job_id = Execution.objects.get(pk=ex_id).job_id
    wait_until(lambda: slice_states(ex_id)["start"] >= 1, timeout=60)

    response = engine.post(f"/v1/jobs/{job_id}/_close", params={"timeout": 200})

    assert response.status_code == 429, response.text
    assert response.json()["message"] == "Timed out when waiting for persistent tasks after 200ms"
    assert state_of(job_id) == "closing"
    wait_until(lambda: state_of(job_id) == "closed", timeout=30, message="the close did not carry on")
    assert engine.get(f"/v1/ex/{ex_id}").json()["_status"] == "stopped"
    assert engine.post(f"/v1/jobs/{job_id}/_close").json() == {"closed": True}
