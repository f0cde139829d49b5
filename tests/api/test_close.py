"""Close and open over HTTP without a worker node (spec/jobsite.md §3): what a request decides by itself
(force close, refusals, open, id expansion, the wait's timeout). The housekeeping a worker node runs is
in tests/engine/test_close.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import services
from jobs.models import Job
from jobsite.errors import Invalid, NotFound
from tasks.models import Task
from tests.api.helpers import (  # noqa: F401  (fixtures)
    add_slice,
    admin,
    api,
    error_of,
    job_spec,
    only_task,
    put_status,
    status_of,
    submit,
    submit_started,
    tasks,
    web_node,
)

CLOSE = "cluster:admin/jobs/close"
OPEN = "cluster:admin/jobs/open"


def state_of(job_id: str) -> str:
    return Job.objects.values_list("state", flat=True).get(pk=job_id)


def closed_job(api) -> tuple[str, str]:
    """A job whose execution stopped and that was then closed: (job_id, ex_id)."""
    job_id, ex_id = submit_started(api)
    put_status(ex_id, "stopped")
    Job.objects.filter(pk=job_id).update(state="closed")
    return job_id, ex_id


# --- force close -----------------------------------------------------------------------------------------


def test_force_close_terminates_the_running_execution_and_closes_the_job_at_once(api):
    job_id, ex_id = submit_started(api)
    put_status(ex_id, "running", live_controller=True)
    held = add_slice(ex_id, "start", order=1, holder="somebody")

    response = api.post(f"/v1/jobs/{job_id}/_close", params={"force": "true"})

    assert response.status_code == 200, response.text
    assert response.json() == {"closed": True}
    assert status_of(ex_id) == "terminated"
    assert state_of(job_id) == "closed"
    held.refresh_from_db()
    assert held.state == "pending"
    assert only_task(CLOSE, job_id).result["forced"] is True
    assert api.get(f"/v1/jobs/{job_id}").json()["state"] == "closed"


def test_force_close_of_a_failed_job_closes_it(api):
    job_id = submit(api, start=False)["job_id"]
    Job.objects.filter(pk=job_id).update(state="failed")

    response = api.post(f"/v1/jobs/{job_id}/_close", params={"force": ""})

    assert response.status_code == 200, response.text
    assert state_of(job_id) == "closed"


def test_close_of_a_closed_job_is_a_no_op_success(api):
    job_id, _ = closed_job(api)

    for params in ({}, {"force": "true"}):
        response = api.post(f"/v1/jobs/{job_id}/_close", params=params)
        assert response.status_code == 200, response.text
        assert response.json() == {"closed": True}
    assert tasks(CLOSE, job_id) == []
    assert state_of(job_id) == "closed"


def test_close_of_a_failed_job_without_force_is_409_and_closes_nothing(api):
    failed = submit(api, start=False)["job_id"]
    other = submit(api, start=False)["job_id"]
    Job.objects.filter(pk=failed).update(state="failed")

    response = api.post(f"/v1/jobs/{failed},{other}/_close")

    assert error_of(response) == (
        409,
        {"error": 409, "message": f"cannot close job [{failed}] because it failed, use force close"},
    )
    assert state_of(other) == "opened"
    assert tasks(CLOSE) == []


def test_close_of_several_failed_jobs_without_force_names_no_job(api):
    ids = [submit(api, start=False)["job_id"] for _ in range(2)]
    Job.objects.filter(pk__in=ids).update(state="failed")

    status, body = error_of(api.post(f"/v1/jobs/{','.join(ids)}/_close"))

    assert (status, body["message"]) == (409, "one or more jobs have state failed, use force close")


def test_close_wait_that_times_out_is_429_and_leaves_the_job_closing(api):
    job_id = submit(api, start=False)["job_id"]  # no worker node here: nobody runs the close

    status, body = error_of(api.post(f"/v1/jobs/{job_id}/_close", params={"timeout": 300}))

    assert (status, body["message"]) == (429, "Timed out when waiting for persistent tasks after 300ms")
    assert state_of(job_id) == "closing"
    task = only_task(CLOSE, job_id)
    assert task.finished_at is None and task.status == {"phase": "closing", "job_id": job_id}
    assert api.get(f"/v1/jobs/{job_id}").json()["state"] == "closing"


def test_close_of_a_closing_job_waits_on_the_close_under_way(api):
    job_id = submit(api, start=False)["job_id"]
    api.post(f"/v1/jobs/{job_id}/_close", params={"timeout": 0})

    api.post(f"/v1/jobs/{job_id}/_close", params={"timeout": 0})

    assert len(tasks(CLOSE, job_id)) == 1


def test_a_closing_job_whose_close_went_silent_becomes_failed(api):
    job_id = submit(api, start=False)["job_id"]
    api.post(f"/v1/jobs/{job_id}/_close", params={"timeout": 0})
    task = only_task(CLOSE, job_id)
    now = timezone.now()  # taken once, then silent for an hour: its worker died
    Task.objects.filter(pk=task.pk).update(started_at=now - timedelta(hours=2), heartbeat_at=now - timedelta(hours=1))

    assert services.fail_abandoned_closes() == 1

    assert state_of(job_id) == "failed"
    task.refresh_from_db()
    assert task.finished_at is not None and task.error["type"] == "close_lost"
    assert api.post(f"/v1/jobs/{job_id}/_close", params={"force": "true"}).status_code == 200


def test_close_timeout_above_an_hour_is_400(api):
    job_id = submit(api, start=False)["job_id"]

    status, body = error_of(api.post(f"/v1/jobs/{job_id}/_close", params={"timeout": 3_600_001}))

    assert (status, body["message"]) == (400, "timeout parameter must be at most 3600000, got 3600001")
    assert state_of(job_id) == "opened"


def test_close_of_an_unknown_job_is_404(api):
    status, body = error_of(api.post("/v1/jobs/nope/_close"))

    assert (status, body["message"]) == (404, "No known job with id 'nope'")


# --- a closed job refuses to run -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "params", "action"),
    [
        ("jobs/{job_id}/_start", {}, "start"),
        ("jobs/{job_id}/_recover", {}, "recover"),
        ("ex/{ex_id}/_recover", {}, "recover"),
        ("jobs/{job_id}/_workers", {"add": 1}, "workers"),
        ("ex/{ex_id}/_workers", {"add": 1}, "workers"),
        ("jobs/{job_id}/_pause", {}, "pause"),
        ("ex/{ex_id}/_pause", {}, "pause"),
        ("jobs/{job_id}/_resume", {}, "resume"),
        ("ex/{ex_id}/_resume", {}, "resume"),
    ],
)
def test_a_closed_job_refuses_to_run_until_opened(api, route, params, action):
    job_id, ex_id = closed_job(api)

    response = api.post("/v1/" + route.format(job_id=job_id, ex_id=ex_id), params=params)

    assert error_of(response) == (409, {"error": 409, "message": f"Job {job_id} is closed, open it before {action}"})


# --- open ------------------------------------------------------------------------------------------------


def test_open_reopens_a_closed_job_so_it_starts_again(api):
    job_id, _ = closed_job(api)

    response = api.post(f"/v1/jobs/{job_id}/_open")

    assert response.status_code == 200, response.text
    assert response.json() == {"opened": True}
    assert state_of(job_id) == "opened"
    assert only_task(OPEN, job_id).result == {"opened": True, "job_id": job_id}
    assert api.post(f"/v1/jobs/{job_id}/_start").status_code == 200


def test_start_after_a_close_with_a_snapshot_resumes_from_it(api):
    job_id, closed_ex = submit_started(api)
    put_status(closed_ex, "stopped")
    Job.objects.filter(pk=job_id).update(snapshot_execution=closed_ex)

    ex_id = api.post(f"/v1/jobs/{job_id}/_start").json()["ex_id"]

    record = api.get(f"/v1/ex/{ex_id}").json()
    assert (record["recovered_execution"], record["recovered_slice_type"]) == (closed_ex, "pending")
    assert Job.objects.get(pk=job_id).snapshot_execution_id is None


def test_a_recovery_after_a_close_supersedes_its_snapshot(api):
    job_id, closed_ex = submit_started(api)
    put_status(closed_ex, "stopped")
    Job.objects.filter(pk=job_id).update(snapshot_execution=closed_ex)

    recovered = api.post(f"/v1/jobs/{job_id}/_recover").json()["ex_id"]
    put_status(recovered, "stopped")
    ex_id = api.post(f"/v1/jobs/{job_id}/_start").json()["ex_id"]

    assert api.get(f"/v1/ex/{ex_id}").json().get("recovered_execution") is None  # a fresh start


def test_open_of_an_open_job_is_a_no_op_success(api):
    job_id = submit(api, start=False)["job_id"]

    assert api.post(f"/jobs/{job_id}/_open").json() == {"opened": True}
    assert tasks(OPEN, job_id) == []


def test_open_of_a_closing_job_is_409(api):
    job_id = submit(api, start=False)["job_id"]
    Job.objects.filter(pk=job_id).update(state="closing")

    status, _ = error_of(api.post(f"/v1/jobs/{job_id}/_open"))

    assert status == 409
    assert state_of(job_id) == "closing"


# --- which jobs an expression names ---------------------------------------------------------------------


@pytest.fixture
def named_jobs(transactional_db):
    """Jobs named alpha, alpha, beta-1, beta-2 (and a deleted gamma): their ids by name."""
    ids = {}
    for name in ("alpha", "alpha", "beta-1", "beta-2"):
        ids.setdefault(name, []).append(Job.objects.create(name=name, spec={"name": name}).job_id)
    Job.objects.create(name="gamma", spec={}, deleted=True, deleted_on="2024-01-01T00:00:00Z")
    return ids


def names_of(expression: str, allow_no_match: bool = True) -> list[str]:
    return sorted(job.name for job in services.resolve_jobs(expression, allow_no_match=allow_no_match))


def test_resolve_jobs_by_exact_job_id(named_jobs):
    job_id = named_jobs["beta-1"][0]

    assert [job.job_id for job in services.resolve_jobs(job_id, allow_no_match=False)] == [job_id]


def test_resolve_jobs_by_a_name_several_jobs_share(named_jobs):
    assert names_of("alpha") == ["alpha", "alpha"]


def test_resolve_jobs_by_wildcard_and_comma_list(named_jobs):
    assert names_of("beta-*") == ["beta-1", "beta-2"]
    assert names_of("alpha,*-2") == ["alpha", "alpha", "beta-2"]


@pytest.mark.parametrize("expression", ["", "_all", "*"])
def test_resolve_jobs_all_names_every_live_job(named_jobs, expression):
    assert names_of(expression) == ["alpha", "alpha", "beta-1", "beta-2"]


def test_resolve_jobs_unmatched_exact_ids_are_404_whatever_allow_no_match(named_jobs):
    for allow in (True, False):
        with pytest.raises(NotFound, match=r"^No known job with id 'nope,gamma'$"):
            services.resolve_jobs("alpha,nope,gamma", allow_no_match=allow)


def test_resolve_jobs_unmatched_wildcard_is_empty_unless_allow_no_match_is_false(named_jobs):
    assert names_of("missing-*,alpha") == ["alpha", "alpha"]
    with pytest.raises(NotFound, match=r"^No known job with id 'missing-\*'$"):
        services.resolve_jobs("missing-*,alpha", allow_no_match=False)


def test_resolve_jobs_all_with_no_jobs_reports_star_without_allow_no_match(transactional_db):
    assert services.resolve_jobs("_all", allow_no_match=True) == []
    with pytest.raises(NotFound, match=r"^No known job with id '\*'$"):
        services.resolve_jobs("_all", allow_no_match=False)


def test_resolve_jobs_refuses_an_overlong_token(transactional_db):
    with pytest.raises(Invalid, match="at most 255 characters"):
        services.resolve_jobs("x" * 256, allow_no_match=True)


def test_close_route_answers_404_for_an_unmatched_wildcard_without_allow_no_match(api, named_jobs):
    assert api.post("/v1/jobs/missing-*/_close").json() == {"closed": True}

    status, body = error_of(api.post("/v1/jobs/missing-*/_close", params={"allow_no_match": "false"}))

    assert (status, body["message"]) == (404, "No known job with id 'missing-*'")


def test_resolve_one_job_by_id_or_unique_name(named_jobs):
    assert services.resolve_one_job("beta-1").job_id == named_jobs["beta-1"][0]
    assert services.resolve_one_job(named_jobs["alpha"][1]).job_id == named_jobs["alpha"][1]


def test_resolve_one_job_refuses_a_shared_name_listing_its_jobs(named_jobs):
    with pytest.raises(Invalid) as raised:
        services.resolve_one_job("alpha")

    assert all(job_id in raised.value.message for job_id in named_jobs["alpha"])


def test_resolve_one_job_not_found_says_what_the_caller_asks(named_jobs):
    with pytest.raises(NotFound, match=r"^Task for Rollup Job \[gamma\] not found$"):
        services.resolve_one_job("gamma", not_found_message="Task for Rollup Job [gamma] not found")
