"""Actions on jobs and executions over HTTP (spec/teraslice.md §1.3-1.4, §3.4-3.5, §5.1; spec/jobsite.md §4-6):
start, stop, pause/resume, workers, recover, and the task each action leaves."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from jobs import services
from jobs.models import Execution, Job, Slice
from tests.api.helpers import (  # noqa: F401  (fixtures)
    add_slice,
    admin,
    anonymous,
    api,
    error_of,
    job_spec,
    only_task,
    put_status,
    status_of,
    submit,
    submit_deleted,
    submit_started,
    tasks,
    twin_client,
    web_node,
)

LIVING = ("pending", "scheduling", "initializing", "recovering", "running", "failing", "paused", "stopping")


def running(api, spec=None) -> tuple[str, str]:
    """A job whose execution is running under a live controller."""
    job_id, ex_id = submit_started(api, spec)
    put_status(ex_id, "running", live_controller=True)
    return job_id, ex_id


# --- _start --------------------------------------------------------------------------------------------------


def test_start_creates_a_pending_execution(api):
    job_id = submit(api, start=False)["job_id"]

    response = api.post(f"/v1/jobs/{job_id}/_start")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"job_id", "ex_id"} and body["job_id"] == job_id
    assert api.get(f"/v1/jobs/{job_id}/ex").json()["ex_id"] == body["ex_id"]
    assert status_of(body["ex_id"]) == "pending"


def test_start_after_a_terminal_execution_creates_a_new_one(api):
    job_id, first = submit_started(api)
    put_status(first, "completed")

    response = api.post(f"/jobs/{job_id}/_start")

    assert response.status_code == 200
    assert response.json()["ex_id"] != first
    assert Execution.objects.filter(job_id=job_id).count() == 2


def test_start_uses_the_current_job_config(api):
    job_id = submit(api, start=False)["job_id"]
    api.put(f"/v1/jobs/{job_id}", json=job_spec(workers=4))

    ex_id = api.post(f"/v1/jobs/{job_id}/_start").json()["ex_id"]

    assert api.get(f"/v1/ex/{ex_id}").json()["workers"] == 4


@pytest.mark.parametrize("status", ["pending", "running"])
def test_start_refuses_second_living_execution(api, status):
    job_id, ex_id = submit_started(api)
    put_status(ex_id, status, live_controller=True)

    response = api.post(f"/v1/jobs/{job_id}/_start")

    assert error_of(response) == (
        409,
        {
            "error": 409,
            "message": f"Job {job_id} is currently running, cannot have the same job concurrently running",
        },
    )
    assert Execution.objects.filter(job_id=job_id).count() == 1


@pytest.mark.parametrize("action, done", [("_start", "started"), ("_recover", "recovered")])
def test_start_and_recover_of_a_deleted_job_are_410(api, action, done):
    job_id, _ = submit_deleted(api)

    response = api.post(f"/v1/jobs/{job_id}/{action}")

    assert error_of(response) == (
        410,
        {"error": 410, "message": f"Job {job_id} has been deleted and cannot be {done}."},
    )


def test_start_of_an_invalid_stored_job_is_400(api):
    job_id = submit(api, start=False)["job_id"]
    Job.objects.filter(pk=job_id).update(spec={**job_spec(), "workers": 0})

    status, body = error_of(api.post(f"/v1/jobs/{job_id}/_start"))

    assert status == 400
    assert body["message"].startswith("Validation failed for")


def test_start_of_an_autorecover_job_recovers_the_latest_execution(api):
    job_id, first = submit_started(api, job_spec(autorecover=True))
    put_status(first, "stopped")

    ex_id = api.post(f"/v1/jobs/{job_id}/_start").json()["ex_id"]

    record = api.get(f"/v1/ex/{ex_id}").json()
    assert record["recovered_execution"] == first
    assert record["recovered_slice_type"] == "pending"


def test_concurrent_starts_create_exactly_one_execution(api):
    job_id = submit(api, start=False)["job_id"]
    threads = 8
    barrier = threading.Barrier(threads)

    def start(_):
        with twin_client(api) as client:
            barrier.wait()
            return client.post(f"/v1/jobs/{job_id}/_start")

    with ThreadPoolExecutor(threads) as pool:
        responses = list(pool.map(start, range(threads)))

    codes = sorted(response.status_code for response in responses)
    assert codes == [200] + [409] * (threads - 1), [response.text for response in responses]
    [winner] = [response.json()["ex_id"] for response in responses if response.status_code == 200]
    assert list(Execution.objects.filter(job_id=job_id, status__in=LIVING).values_list("pk", flat=True)) == [winner]
    assert Execution.objects.filter(job_id=job_id).count() == 1


# --- _stop ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/v1/jobs/{job_id}/_stop", "/ex/{ex_id}/_stop/"])
def test_stop_of_a_pending_execution_stops_it_at_once(api, route):
    job_id, ex_id = submit_started(api)

    response = api.post(route.format(job_id=job_id, ex_id=ex_id))

    assert response.status_code == 200
    assert response.json() == {"status": "stopped"}
    assert status_of(ex_id) == "stopped"


def test_stop_of_a_stopped_execution_changes_nothing(api):
    _, ex_id = submit_started(api)
    assert api.post(f"/v1/ex/{ex_id}/_stop").json() == {"status": "stopped"}

    response = api.post(f"/v1/ex/{ex_id}/_stop")

    assert response.json() == {"status": "stopped"}
    assert len(api.get(f"/v1/ex/{ex_id}/history").json()) == 2


def test_stop_of_a_completed_execution_answers_its_status(api):
    _, ex_id = submit_started(api)
    put_status(ex_id, "completed")

    assert api.post(f"/v1/ex/{ex_id}/_stop").json() == {"status": "completed"}
    assert status_of(ex_id) == "completed"


@pytest.mark.parametrize("query", ["force=true", "force=1", "force"])
def test_force_stop_says_so(api, query):
    _, ex_id = running(api)

    response = api.post(f"/v1/ex/{ex_id}/_stop?{query}")

    assert response.status_code == 200
    assert response.json() == {"message": f"Force stop complete for exId {ex_id}", "status": "stopped"}
    assert status_of(ex_id) == "stopped"


def test_force_false_is_not_a_force_stop(api):
    _, ex_id = running(api)

    response = api.post(f"/v1/ex/{ex_id}/_stop", params={"force": "false", "blocking": "false"})

    assert response.json() == {"status": "stopping"}
    assert status_of(ex_id) == "stopping"


def test_non_blocking_stop_with_a_live_controller_answers_stopping(api):
    _, ex_id = running(api)

    response = api.post(f"/v1/ex/{ex_id}/_stop", params={"blocking": "false"})

    assert response.status_code == 200
    assert response.json() == {"status": "stopping"}
    assert status_of(ex_id) == "stopping"


def test_blocking_stop_answers_stopping_at_its_timeout(api):
    _, ex_id = running(api)

    started = time.monotonic()
    response = api.post(f"/v1/ex/{ex_id}/_stop", params={"timeout": "500"})
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json() == {"status": "stopping"}
    assert 0.45 <= elapsed < 3, elapsed


def test_blocking_stop_answers_stopped_once_the_execution_has_stopped(api):
    _, ex_id = running(api)

    def controller_finishes():
        try:
            time.sleep(0.4)
            services.set_execution_status(ex_id, "stopped", actor="engine@test", reason="controller drained")
        finally:
            connection.close()

    finisher = threading.Thread(target=controller_finishes)
    started = time.monotonic()
    finisher.start()
    try:
        response = api.post(f"/v1/ex/{ex_id}/_stop", params={"timeout": "10000"})
    finally:
        finisher.join()
    elapsed = time.monotonic() - started

    assert response.json() == {"status": "stopped"}
    assert elapsed < 5, elapsed


def test_blocking_stop_of_a_second_stop_keeps_waiting_on_stopping(api):
    _, ex_id = running(api)
    assert api.post(f"/v1/ex/{ex_id}/_stop", params={"blocking": "false"}).json() == {"status": "stopping"}

    response = api.post(f"/v1/ex/{ex_id}/_stop", params={"timeout": "200"})

    assert response.json() == {"status": "stopping"}


def test_force_stop_puts_slices_in_hand_back_to_pending(api):
    _, ex_id = running(api)
    in_hand = [add_slice(ex_id, "start", order=order, holder="worker-1").pk for order in (1, 2)]
    done = add_slice(ex_id, "completed", order=3).pk
    failed = add_slice(ex_id, "error", order=4, error="Error: x").pk

    response = api.post(f"/v1/ex/{ex_id}/_stop", params={"force": "true"})

    assert response.json()["status"] == "stopped"
    states = dict(Slice.objects.filter(execution_id=ex_id).values_list("pk", "state"))
    assert [states[pk] for pk in in_hand] == ["pending", "pending"]
    assert states[done] == "completed" and states[failed] == "error"


def test_force_stop_of_a_stopped_execution_still_says_so(api):
    _, ex_id = submit_started(api)
    assert api.post(f"/v1/ex/{ex_id}/_stop").json() == {"status": "stopped"}

    response = api.post(f"/v1/ex/{ex_id}/_stop", params={"force": "true"})

    assert response.json() == {"message": f"Force stop complete for exId {ex_id}", "status": "stopped"}


@pytest.mark.parametrize("action", ["_stop", "_pause"])
def test_stop_and_pause_of_a_job_without_execution_are_404(api, action):
    job_id = submit(api, start=False)["job_id"]

    response = api.post(f"/v1/jobs/{job_id}/{action}")

    assert error_of(response) == (404, {"error": 404, "message": f"No execution was found for job {job_id}"})


def test_stop_acts_on_the_latest_execution_of_the_job(api):
    job_id, first = submit_started(api)
    put_status(first, "failed")
    second = api.post(f"/v1/jobs/{job_id}/_start").json()["ex_id"]

    api.post(f"/v1/jobs/{job_id}/_stop")

    assert (status_of(first), status_of(second)) == ("failed", "stopped")


# --- _pause / _resume ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/v1/jobs/{job_id}", "/v1/ex/{ex_id}"])
def test_pause_of_a_running_execution_pauses_it(api, prefix):
    job_id, ex_id = running(api)

    response = api.post(f"{prefix.format(job_id=job_id, ex_id=ex_id)}/_pause")

    assert response.status_code == 200
    assert response.json() == {"status": "paused"}
    assert status_of(ex_id) == "paused"


@pytest.mark.parametrize("prefix", ["/v1/jobs/{job_id}", "/v1/ex/{ex_id}"])
def test_resume_of_a_paused_execution_runs_it_again(api, prefix):
    job_id, ex_id = running(api)
    assert api.post(f"/v1/ex/{ex_id}/_pause").status_code == 200

    response = api.post(f"{prefix.format(job_id=job_id, ex_id=ex_id)}/_resume")

    assert response.status_code == 200
    assert response.json() == {"status": "running"}
    assert status_of(ex_id) == "running"


@pytest.mark.parametrize("action", ["_pause", "_resume"])
@pytest.mark.parametrize("prefix", ["/v1/jobs/{job_id}", "/v1/ex/{ex_id}"])
def test_pause_and_resume_of_a_completed_execution_are_404(api, prefix, action):
    job_id, ex_id = submit_started(api)
    put_status(ex_id, "completed")

    response = api.post(f"{prefix.format(job_id=job_id, ex_id=ex_id)}/{action}")

    assert error_of(response) == (
        404,
        {"error": 404, "message": f"no active execution context was found for ex_id: {ex_id}"},
    )
    assert status_of(ex_id) == "completed"


@pytest.mark.parametrize("action", ["_pause", "_resume"])
def test_pause_and_resume_of_a_pending_execution_are_409(api, action):
    _, ex_id = submit_started(api)

    status, _ = error_of(api.post(f"/v1/ex/{ex_id}/{action}"))

    assert status == 409
    assert status_of(ex_id) == "pending"


def test_pause_of_a_paused_execution_stays_paused(api):
    _, ex_id = running(api)
    assert api.post(f"/v1/ex/{ex_id}/_pause").json() == {"status": "paused"}

    assert api.post(f"/v1/ex/{ex_id}/_pause").json() == {"status": "paused"}


# --- _workers ------------------------------------------------------------------------------------------------

WORKER_PARAMETER = "Must provide a valid worker parameter(add/remove/total) that is a number and greater than zero"


def workers(api, path, query):
    return api.post(f"{path}/_workers?{query}")


def test_workers_add(api):
    job_id, ex_id = running(api)

    response = workers(api, f"/v1/jobs/{job_id}", "add=2")

    assert response.status_code == 200
    assert response.json() == {"message": f"2 workers have been enqueued for execution: {ex_id}"}


def test_workers_remove(api):
    _, ex_id = running(api, job_spec(workers=3))

    response = workers(api, f"/v1/ex/{ex_id}", "remove=2")

    assert response.json() == {"message": f"2 workers have been remove for execution: {ex_id}"}


def test_workers_total_equal_to_current_is_set(api):
    _, ex_id = running(api)

    response = workers(api, f"/v1/ex/{ex_id}", "total=2")

    assert response.json() == {"message": f"2 workers have been set for execution: {ex_id}"}


def test_workers_total_above_current_enqueues_the_difference(api):
    _, ex_id = running(api)

    response = workers(api, f"/v1/ex/{ex_id}", "total=5")

    assert response.json() == {"message": f"3 workers have been enqueued for execution: {ex_id}"}


def test_workers_total_below_current_removes_the_difference(api):
    _, ex_id = running(api, job_spec(workers=4))

    response = workers(api, f"/v1/ex/{ex_id}", "total=1")

    assert response.json() == {"message": f"3 workers have been remove for execution: {ex_id}"}


def test_workers_changes_add_up(api):
    """e2e scale-workers: 2 workers, add 1 → 3, remove 2 → 1, total 2 → one more."""
    _, ex_id = running(api)
    workers(api, f"/v1/ex/{ex_id}", "add=1")
    workers(api, f"/v1/ex/{ex_id}", "remove=2")

    response = workers(api, f"/v1/ex/{ex_id}", "total=2")

    assert response.json() == {"message": f"1 workers have been enqueued for execution: {ex_id}"}


@pytest.mark.parametrize(
    "query, message",
    [
        ("add=1&total=2", "2 workers have been set"),
        ("total=2&add=1", "1 workers have been enqueued"),
    ],
)
def test_workers_last_parameter_wins(api, query, message):
    _, ex_id = running(api)

    response = workers(api, f"/v1/ex/{ex_id}", query)

    assert response.json() == {"message": f"{message} for execution: {ex_id}"}


@pytest.mark.parametrize(
    "query", ["other=2", "add=abc", "remove=-1", "total=0"], ids=["missing", "nan", "negative", "zero"]
)
def test_workers_invalid_parameter_is_400(api, query):
    _, ex_id = running(api)

    response = workers(api, f"/v1/ex/{ex_id}", query)

    assert error_of(response) == (400, {"error": 400, "message": WORKER_PARAMETER})


def test_workers_remove_down_to_zero_is_400(api):
    _, ex_id = running(api)

    response = workers(api, f"/v1/ex/{ex_id}", "remove=2")

    assert error_of(response) == (
        400,
        {
            "error": 400,
            "message": "workers to be removed: 2 cannot be >= to current workers: 2",
        },
    )


def test_workers_on_a_terminal_execution_is_404(api):
    job_id, ex_id = submit_started(api)
    put_status(ex_id, "failed")

    response = workers(api, f"/v1/jobs/{job_id}", "add=1")

    assert error_of(response) == (
        404,
        {"error": 404, "message": f"no active execution context was found for ex_id: {ex_id}"},
    )


# --- _recover ------------------------------------------------------------------------------------------------


def failed(api, spec=None) -> tuple[str, str]:
    job_id, ex_id = submit_started(api, spec)
    put_status(ex_id, "failed")
    return job_id, ex_id


@pytest.mark.parametrize("route", ["/v1/jobs/{job_id}/_recover", "/v1/ex/{ex_id}/_recover"])
def test_recover_with_a_bad_cleanup_type_is_400(api, route):
    job_id, ex_id = failed(api)

    response = api.post(route.format(job_id=job_id, ex_id=ex_id), params={"cleanup_type": "some"})

    assert error_of(response) == (
        400,
        {"error": 400, "message": "cleanup_type must be empty or set to all, errors, pending"},
    )


def test_recover_job_without_execution_is_404(api):
    job_id = submit(api, start=False)["job_id"]

    response = api.post(f"/v1/jobs/{job_id}/_recover")

    assert error_of(response) == (
        404,
        {"error": 404, "message": f"Job {job_id} is missing an execution to recover from"},
    )


@pytest.mark.parametrize("route", ["/v1/jobs/{job_id}/_recover", "/v1/ex/{ex_id}/_recover"])
def test_recover_is_refused_while_an_execution_lives(api, route):
    job_id, ex_id = running(api)

    status, body = error_of(api.post(route.format(job_id=job_id, ex_id=ex_id)))

    assert status == 409
    assert job_id in body["message"]
    assert Execution.objects.filter(job_id=job_id).count() == 1


def test_recover_job_creates_a_recovered_execution(api):
    job_id, old = failed(api)

    response = api.post(f"/v1/jobs/{job_id}/_recover", params={"cleanup_type": "errors"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"job_id", "ex_id"} and body["job_id"] == job_id and body["ex_id"] != old
    record = api.get(f"/v1/ex/{body['ex_id']}").json()
    assert record["recovered_execution"] == old
    assert record["recovered_slice_type"] == "errors"
    assert record["_status"] == "pending"


def test_recover_accepts_the_cleanup_alias(api):
    job_id, _ = failed(api)

    ex_id = api.post(f"/v1/jobs/{job_id}/_recover", params={"cleanup": "errors"}).json()["ex_id"]

    assert api.get(f"/v1/ex/{ex_id}").json()["recovered_slice_type"] == "errors"


def test_recover_without_cleanup_has_no_recovered_slice_type(api):
    job_id, old = failed(api)

    ex_id = api.post(f"/v1/jobs/{job_id}/_recover").json()["ex_id"]

    record = api.get(f"/v1/ex/{ex_id}").json()
    assert record["recovered_execution"] == old
    assert record.get("recovered_slice_type") is None


def test_recover_job_recovers_from_the_newest_execution(api):
    job_id, _ = failed(api)
    second = api.post(f"/v1/jobs/{job_id}/_recover").json()["ex_id"]
    put_status(second, "failed")

    third = api.post(f"/v1/jobs/{job_id}/_recover").json()["ex_id"]

    assert api.get(f"/v1/ex/{third}").json()["recovered_execution"] == second


def test_recover_job_applies_the_current_job_config(api):
    job_id, _ = failed(api)
    api.put(f"/v1/jobs/{job_id}", json=job_spec(workers=4))

    ex_id = api.post(f"/v1/jobs/{job_id}/_recover").json()["ex_id"]

    assert api.get(f"/v1/ex/{ex_id}").json()["workers"] == 4


def test_recover_ex_copies_the_execution_config_even_after_the_job_changed(api):
    job_id, old = failed(api)
    api.put(f"/v1/jobs/{job_id}", json=job_spec(workers=4, name="renamed"))

    response = api.post(f"/v1/ex/{old}/_recover", params={"cleanup_type": "all"})

    assert response.status_code == 200, response.text
    assert response.json()["job_id"] == job_id
    record = api.get(f"/v1/ex/{response.json()['ex_id']}").json()
    assert record["workers"] == 2
    assert record["name"] == "api test job"
    assert record["recovered_execution"] == old
    assert record["recovered_slice_type"] == "all"


# --- tasks ---------------------------------------------------------------------------------------------------

OPAQUE = {"X-Opaque-Id": "my-request-7"}


def test_submit_records_a_start_task_and_an_execution_task(api):
    response = api.post("/v1/jobs", json=job_spec(), headers=OPAQUE)
    job_id, ex_id = response.json()["job_id"], response.json()["ex_id"]

    start = only_task("cluster:admin/jobs/start", job_id)
    execution = only_task("cluster:admin/jobs/execution", ex_id)
    assert start.headers == OPAQUE
    assert start.finished_at is not None
    assert execution.parent_id == start.pk
    assert execution.headers == OPAQUE
    assert execution.cancellable is True
    assert execution.finished_at is None
    assert execution.description == f"job [{job_id}] name [api test job] execution [{ex_id}]"


def test_submit_without_opaque_id_keeps_no_headers(api):
    job_id = submit(api)["job_id"]

    assert only_task("cluster:admin/jobs/start", job_id).headers == {}


def test_submit_without_start_records_no_task(api):
    submit(api, start=False)

    assert tasks("cluster:admin/jobs/start") == []
    assert tasks("cluster:admin/jobs/execution") == []


def test_start_records_a_start_task_and_an_execution_task(api):
    job_id = submit(api, start=False)["job_id"]

    ex_id = api.post(f"/v1/jobs/{job_id}/_start", headers=OPAQUE).json()["ex_id"]

    start = only_task("cluster:admin/jobs/start", job_id)
    assert start.headers == OPAQUE
    assert only_task("cluster:admin/jobs/execution", ex_id).parent_id == start.pk


def test_refused_start_records_no_task(api):
    job_id, _ = submit_started(api)

    api.post(f"/v1/jobs/{job_id}/_start")

    assert len(tasks("cluster:admin/jobs/start", job_id)) == 1


def test_stop_records_a_stop_task_and_finishes_the_execution_task(api):
    _, ex_id = submit_started(api)

    api.post(f"/v1/ex/{ex_id}/_stop", headers=OPAQUE)

    stop = only_task("cluster:admin/jobs/stop", ex_id)
    assert stop.headers == OPAQUE
    assert stop.finished_at is not None
    execution = only_task("cluster:admin/jobs/execution", ex_id)
    assert execution.finished_at is not None
    assert execution.result == {"status": "stopped"}


def test_graceful_stop_task_runs_until_the_execution_stops(api):
    _, ex_id = running(api)

    api.post(f"/v1/ex/{ex_id}/_stop", params={"blocking": "false"}, headers=OPAQUE)

    stop = only_task("cluster:admin/jobs/stop", ex_id)
    assert stop.headers == OPAQUE
    assert stop.finished_at is None


def test_recover_records_a_recover_task_and_an_execution_task(api):
    job_id, _ = failed(api)

    ex_id = api.post(f"/v1/jobs/{job_id}/_recover", headers=OPAQUE).json()["ex_id"]

    recover = only_task("cluster:admin/jobs/recover", job_id)
    assert recover.headers == OPAQUE
    assert only_task("cluster:admin/jobs/execution", ex_id).parent_id == recover.pk


def test_ex_recover_records_a_recover_task(api):
    _, old = failed(api)

    ex_id = api.post(f"/v1/ex/{old}/_recover", headers=OPAQUE).json()["ex_id"]

    assert only_task("cluster:admin/jobs/recover").headers == OPAQUE
    assert only_task("cluster:admin/jobs/execution", ex_id).headers == OPAQUE


def test_delete_records_a_delete_task(api):
    job_id = submit(api, start=False)["job_id"]

    api.delete(f"/v1/jobs/{job_id}", headers=OPAQUE)

    assert only_task("cluster:admin/jobs/delete", job_id).headers == OPAQUE


def test_update_records_an_update_task_with_the_opaque_id(api):
    job_id = submit(api, start=False)["job_id"]

    api.put(f"/v1/jobs/{job_id}", json=job_spec(workers=3), headers=OPAQUE)

    assert only_task("cluster:admin/jobs/update", job_id).headers == OPAQUE


def test_inactive_records_an_update_task_with_the_opaque_id(api):
    job_id = submit(api, start=False)["job_id"]

    api.post(f"/v1/jobs/{job_id}/_inactive", headers=OPAQUE)

    assert only_task("cluster:admin/jobs/update", job_id).headers == OPAQUE


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_pause_and_resume_record_tasks(api, action):
    _, ex_id = running(api)
    if action == "resume":
        assert api.post(f"/v1/ex/{ex_id}/_pause").status_code == 200

    api.post(f"/v1/ex/{ex_id}/_{action}", headers=OPAQUE)

    assert tasks(f"cluster:admin/jobs/{action}", ex_id)[-1].headers == OPAQUE


def test_workers_records_a_workers_task(api):
    _, ex_id = running(api)

    api.post(f"/v1/ex/{ex_id}/_workers?add=1", headers=OPAQUE)

    assert only_task("cluster:admin/jobs/workers", ex_id).headers == OPAQUE


# --- unknown ids, authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/jobs/no-such-job/_start",
        "/v1/jobs/no-such-job/_stop",
        "/v1/jobs/no-such-job/_recover",
        "/v1/ex/no-such-ex/_stop",
        "/v1/ex/no-such-ex/_pause",
        "/v1/ex/no-such-ex/_workers?add=1",
        "/v1/ex/no-such-ex/_recover",
    ],
)
def test_actions_on_an_unknown_job_or_execution_are_404(api, path):
    status, _ = error_of(api.post(path))

    assert status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/v1/jobs/some-job/_start",
        "/v1/ex/some-ex/_stop",
        "/v1/ex/some-ex/_pause",
        "/v1/jobs/some-job/_workers?add=1",
        "/v1/ex/some-ex/_recover",
    ],
)
def test_anonymous_actions_get_401(anonymous, path):
    response = anonymous.post(path)

    assert response.status_code == 401
    assert response.json() == {"error": 401, "message": "Authentication credentials were not provided."}
