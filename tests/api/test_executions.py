"""Execution read routes over HTTP (spec/teraslice.md §1.3, §3.6): latest execution of a job, lists,
one execution, its history, error records and controller stats."""

import json

import pytest

from tests.api.helpers import (  # noqa: F401  (fixtures)
    add_slice,
    admin,
    anonymous,
    api,
    error_of,
    job_spec,
    put_status,
    stale_heartbeat,
    submit,
    submit_deleted,
    submit_started,
    web_node,
)


def second_execution(api, job_id, first, *, first_status="completed") -> str:
    put_status(first, first_status)
    response = api.post(f"/v1/jobs/{job_id}/_start")
    assert response.status_code == 200, response.text
    return response.json()["ex_id"]


# --- GET /v1/jobs/<id>/ex, /executions -----------------------------------------------------------------------


def test_job_ex_is_the_latest_execution(api):
    job_id, first = submit_started(api)
    second = second_execution(api, job_id, first)

    response = api.get(f"/v1/jobs/{job_id}/ex")

    assert response.status_code == 200
    record = response.json()
    assert record["ex_id"] == second
    assert record["job_id"] == job_id
    assert record["_status"] == "pending"
    assert record["_context"] == "ex"


@pytest.mark.parametrize("route", ["ex", "errors", "controller"])
def test_job_reads_without_an_execution_are_404(api, route):
    job_id = submit(api, start=False)["job_id"]

    response = api.get(f"/v1/jobs/{job_id}/{route}")

    assert error_of(response) == (404, {"error": 404, "message": f"No execution was found for job {job_id}"})


def test_job_executions_lists_all_newest_first(api):
    job_id, first = submit_started(api)
    second = second_execution(api, job_id, first)
    third = second_execution(api, job_id, second, first_status="failed")

    response = api.get(f"/v1/jobs/{job_id}/executions")

    assert response.status_code == 200
    assert [record["ex_id"] for record in response.json()] == [third, second, first]
    assert [record["_status"] for record in response.json()] == ["pending", "failed", "completed"]


def test_job_executions_of_a_job_without_execution_is_empty(api):
    job_id = submit(api, start=False)["job_id"]

    assert api.get(f"/v1/jobs/{job_id}/executions").json() == []


# --- GET /v1/ex, /v1/ex/<id> ---------------------------------------------------------------------------------


def test_ex_list_is_a_plain_array_of_execution_records(api):
    _, first = submit_started(api, job_spec(name="one"))
    _, second = submit_started(api, job_spec(name="two"))

    response = api.get("/v1/ex")

    assert response.status_code == 200
    assert [record["ex_id"] for record in response.json()] == [second, first]
    assert {record["_context"] for record in response.json()} == {"ex"}


def test_ex_list_status_option_keeps_the_listed_statuses(api):
    _, running = submit_started(api, job_spec(name="running"))
    _, paused = submit_started(api, job_spec(name="paused"))
    _, completed = submit_started(api, job_spec(name="completed"))
    submit_started(api, job_spec(name="pending"))
    put_status(running, "running", live_controller=True)
    put_status(paused, "paused", live_controller=True)
    put_status(completed, "completed")

    response = api.get("/v1/ex", params={"status": "running,paused", "sort": "name:asc"})

    assert [(record["name"], record["_status"]) for record in response.json()] == [
        ("paused", "paused"),
        ("running", "running"),
    ]


def test_ex_list_sort_and_size(api):
    for name in ("b", "a", "c"):
        submit_started(api, job_spec(name=name))

    response = api.get("/v1/ex", params={"sort": "name:desc", "size": "2"})

    assert [record["name"] for record in response.json()] == ["c", "b"]


def test_ex_list_unknown_sort_field_is_400(api):
    status, _ = error_of(api.get("/v1/ex", params={"sort": "bogus:asc"}))

    assert status == 400


def test_ex_list_bad_deleted_option_is_400(api):
    response = api.get("/v1/ex", params={"deleted": "yes"})

    assert error_of(response) == (400, {"error": 400, "message": "deleted query option must true or false"})


def test_ex_list_deleted_true_shows_only_deleted_executions(api):
    _, gone = submit_deleted(api)
    _, kept = submit_started(api)

    assert [record["ex_id"] for record in api.get("/v1/ex").json()] == [kept]
    assert [record["ex_id"] for record in api.get("/v1/ex", params={"deleted": "true"}).json()] == [gone]


def test_ex_is_the_execution_record(api):
    job_id, ex_id = submit_started(api)

    response = api.get(f"/v1/ex/{ex_id}")

    assert response.status_code == 200
    assert response.json()["ex_id"] == ex_id
    assert response.json()["job_id"] == job_id


def test_ex_works_without_v1_and_with_trailing_slash(api):
    _, ex_id = submit_started(api)

    assert api.get(f"/ex/{ex_id}/").json()["ex_id"] == ex_id


def test_delete_of_an_execution_is_405(api):
    _, ex_id = submit_started(api)

    response = api.delete(f"/v1/ex/{ex_id}")

    assert error_of(response) == (405, {"error": 405, "message": f"cannot DELETE endpoint /v1/ex/{ex_id}"})


# --- GET /v1/ex/<id>/history ---------------------------------------------------------------------------------


def test_history_of_a_new_execution_is_its_creation_as_pending(api):
    _, ex_id = submit_started(api)

    response = api.get(f"/v1/ex/{ex_id}/history")

    assert response.status_code == 200
    [created] = response.json()
    assert created["from"] is None
    assert created["to"] == "pending"
    assert created["actor"] == "admin"
    assert created["at"].endswith("Z")


def test_history_records_a_stop_by_the_admin(api):
    _, ex_id = submit_started(api)
    api.post(f"/v1/ex/{ex_id}/_stop")

    history = api.get(f"/v1/ex/{ex_id}/history").json()

    assert [(step["from"], step["to"], step["actor"]) for step in history] == [
        (None, "pending", "admin"),
        ("pending", "stopped", "admin"),
    ]


def test_history_records_pause_resume_and_stop(api):
    _, ex_id = submit_started(api)
    put_status(ex_id, "running", live_controller=True)
    api.post(f"/v1/ex/{ex_id}/_pause")
    api.post(f"/v1/ex/{ex_id}/_resume")
    api.post(f"/v1/ex/{ex_id}/_stop", params={"blocking": "false"})

    history = api.get(f"/v1/ex/{ex_id}/history").json()

    assert [(step["from"], step["to"]) for step in history][1:] == [
        ("running", "paused"),
        ("paused", "running"),
        ("running", "stopping"),
    ]
    assert {step["actor"] for step in history} == {"admin"}


# --- error records -------------------------------------------------------------------------------------------


@pytest.fixture
def errors(api):
    """Two executions of one job with error slices (and other slices), plus another job's errors."""
    job_id, old = submit_started(api, job_spec(name="with errors"))
    add_slice(old, "error", order=1, error="Error: old failure")
    new = second_execution(api, job_id, old, first_status="failed")
    add_slice(new, "error", order=1, request={"count": 5}, error="Error: boom\n    at op (op.js:1)")
    add_slice(new, "error", order=2, error="Error: bang")
    add_slice(new, "completed", order=3)
    add_slice(new, "pending", order=4)
    _, other = submit_started(api, job_spec(name="other"))
    add_slice(other, "error", order=1, error="Error: elsewhere")
    return {"job_id": job_id, "old": old, "new": new, "other": other}


def test_job_errors_are_the_latest_execution_error_records(api, errors):
    response = api.get(f"/v1/jobs/{errors['job_id']}/errors")

    assert response.status_code == 200
    assert sorted(record["error"] for record in response.json()) == ["Error: bang", "Error: boom\n    at op (op.js:1)"]
    assert {record["ex_id"] for record in response.json()} == {errors["new"]}


def test_error_record_shape(api, errors):
    records = api.get(f"/v1/ex/{errors['new']}/errors", params={"sort": "slicer_order:asc"}).json()

    record = records[0]
    assert record["state"] == "error"
    assert record["ex_id"] == errors["new"]
    assert record["error"] == "Error: boom\n    at op (op.js:1)"
    assert isinstance(record["request"], str)
    assert json.loads(record["request"]) == {"count": 5}
    assert record["slicer_id"] == 0 and record["slicer_order"] == 1
    assert record["slice_id"]
    assert record["_created"].endswith("Z") and record["_updated"].endswith("Z")


def test_ex_errors_are_that_execution_error_records_only(api, errors):
    response = api.get(f"/v1/ex/{errors['old']}/errors")

    assert [record["error"] for record in response.json()] == ["Error: old failure"]


def test_all_errors_route_lists_every_execution_error_record(api, errors):
    response = api.get("/v1/ex/errors")

    assert response.status_code == 200
    assert sorted(record["error"] for record in response.json()) == [
        "Error: bang",
        "Error: boom\n    at op (op.js:1)",
        "Error: elsewhere",
        "Error: old failure",
    ]


def test_errors_size_option_pages(api, errors):
    assert len(api.get("/v1/ex/errors", params={"size": "1"}).json()) == 1


def test_execution_without_errors_has_no_error_records(api):
    _, ex_id = submit_started(api)
    add_slice(ex_id, "completed")

    assert api.get(f"/v1/ex/{ex_id}/errors").json() == []


# --- controller / slicer -------------------------------------------------------------------------------------

CONTROLLER_ROUTES = [
    "/v1/jobs/{job_id}/controller",
    "/v1/jobs/{job_id}/slicer",
    "/v1/ex/{ex_id}/controller",
    "/v1/ex/{ex_id}/slicer",
]


@pytest.mark.parametrize("route", CONTROLLER_ROUTES)
def test_controller_of_a_running_execution_is_an_array_of_one_stats_object(api, route):
    job_id, ex_id = submit_started(api)
    put_status(ex_id, "running", live_controller=True, slicer_stats={"processed": 7, "workers_joined": 2})

    response = api.get(route.format(job_id=job_id, ex_id=ex_id))

    assert response.status_code == 200, response.text
    [stats] = response.json()
    assert stats["ex_id"] == ex_id
    assert stats["job_id"] == job_id
    assert stats["name"] == "api test job"
    assert stats["processed"] == 7
    assert stats["workers_joined"] == 2
    for field in (
        "workers_available",
        "workers_active",
        "workers_reconnected",
        "workers_disconnected",
        "job_duration",
        "failed",
        "subslices",
        "queued",
        "slice_range_expansion",
        "slicers",
        "subslice_by_key",
        "started",
    ):
        assert field in stats, field


@pytest.mark.parametrize("route", CONTROLLER_ROUTES)
def test_controller_without_a_running_execution_is_404(api, route):
    job_id, ex_id = submit_started(api)

    response = api.get(route.format(job_id=job_id, ex_id=ex_id))

    assert error_of(response) == (404, {"error": 404, "message": f"Could not find active slicer for ex_id: {ex_id}"})


def test_controller_with_a_silent_controller_is_404(api):
    _, ex_id = submit_started(api)
    put_status(ex_id, "running", controller_heartbeat=stale_heartbeat())

    response = api.get(f"/v1/ex/{ex_id}/controller")

    assert error_of(response)[1]["message"] == f"Could not find active slicer for ex_id: {ex_id}"


def test_controller_of_a_completed_execution_is_404(api):
    _, ex_id = submit_started(api)
    put_status(ex_id, "completed", live_controller=True)

    status, _ = error_of(api.get(f"/v1/ex/{ex_id}/controller"))

    assert status == 404


# --- unknown ids, authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/jobs/no-such-job/ex",
        "/v1/jobs/no-such-job/executions",
        "/v1/ex/no-such-ex",
        "/v1/ex/no-such-ex/history",
        "/v1/ex/no-such-ex/errors",
    ],
)
def test_reads_of_an_unknown_job_or_execution_are_404(api, path):
    status, _ = error_of(api.get(path))

    assert status == 404


@pytest.mark.parametrize("path", ["/v1/ex", "/v1/ex/some-ex", "/v1/ex/errors", "/v1/jobs/some-job/ex"])
def test_anonymous_execution_reads_get_401(anonymous, path):
    response = anonymous.get(path)

    assert response.status_code == 401
    assert response.json() == {"error": 401, "message": "Authentication credentials were not provided."}
