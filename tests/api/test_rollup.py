"""Rollup-style stop, start and get over jobs (spec/jobsite.md §4, spec/elasticsearch.md §4), through the
real server. Statuses an engine would move are set directly here; tests/engine/test_rollup.py runs them."""

import pytest

from jobs.models import Execution
from tests.api.helpers import add_slice, put_status, submit, submit_started


def error(response) -> tuple[str, str]:
    body = response.json()["error"]
    return body["type"], body["reason"]


def state_of(api, job_id: str) -> str:
    response = api.get(f"/_rollup/job/{job_id}")
    assert response.status_code == 200, response.text
    (job,) = response.json()["jobs"]
    return job["status"]["job_state"]


def test_stopping_an_unknown_job_is_a_404_in_elasticsearchs_words(api):
    response = api.post("/_rollup/job/does_not_exist/_stop")

    assert response.status_code == 404
    assert error(response) == ("resource_not_found_exception", "Task for Rollup Job [does_not_exist] not found")
    assert response.headers["X-Elastic-Product"] == "Elasticsearch"


def test_stopping_a_stopped_job_twice_succeeds_both_times(api):
    job_id = submit(api, start=False)["job_id"]

    for _ in range(2):
        response = api.post(f"/_rollup/job/{job_id}/_stop", params={"wait_for_completion": "true", "timeout": "5s"})
        assert response.status_code == 200, response.text
        assert response.json() == {"stopped": True}
    assert state_of(api, job_id) == "stopped"


def test_a_stop_asks_the_living_execution_to_stop_and_answers_at_once(api):
    job_id, ex_id = submit_started(api)
    put_status(ex_id, "running", live_controller=True)
    add_slice(ex_id, "pending")
    assert state_of(api, job_id) == "indexing"

    response = api.post(f"/_rollup/job/{job_id}/_stop")

    assert response.status_code == 200 and response.json() == {"stopped": True}
    assert Execution.objects.get(pk=ex_id).status == "stopping"
    assert state_of(api, job_id) == "stopping"


def test_a_stop_that_outlasts_its_wait_is_a_timeout_and_goes_on(api):
    job_id, ex_id = submit_started(api)
    put_status(ex_id, "running", live_controller=True)

    response = api.post(f"/_rollup/job/{job_id}/_stop", params={"wait_for_completion": "true", "timeout": "200ms"})

    assert response.status_code == 429
    assert error(response) == (
        "timeout_exception",
        f"Timed out after [200ms] while waiting for rollup job [{job_id}] to stop. State was [stopping]",
    )
    assert response.json()["error"]["timed_out"] is True and response.headers["X-Timed-Out"] == "true"
    assert Execution.objects.get(pk=ex_id).status == "stopping"  # not rolled back


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"timeout": "1.5s"}, "failed to parse [1.5s], fractional time values are not supported"),
        ({"timeout": "2h"}, "[timeout] must be at most [1h], got [2h]"),
        ({"wait_for_completion": "yes"}, "Failed to parse value [yes] as only [true] or [false] are allowed."),
        ({"force": "true"}, "request [/_rollup/job/{job_id}/_stop] contains unrecognized parameter: [force]"),
    ],
)
def test_bad_parameters_are_refused_even_when_not_waiting(api, params, reason):
    job_id = submit(api, start=False)["job_id"]

    response = api.post(f"/_rollup/job/{job_id}/_stop", params=params)

    assert response.status_code == 400
    assert error(response) == ("illegal_argument_exception", reason.format(job_id=job_id))


def test_a_name_that_matches_several_jobs_is_refused_listing_them(api):
    first = submit(api, start=False)["job_id"]
    second = submit(api, start=False)["job_id"]

    response = api.post("/_rollup/job/api test job/_stop")

    assert response.status_code == 400
    kind, reason = error(response)
    assert kind == "illegal_argument_exception" and first in reason and second in reason


def test_a_job_named_once_is_found_by_its_name(api):
    submit(api, start=False, spec=None)
    response = api.post("/_rollup/job/api test job/_stop")

    assert response.status_code == 200


def test_start_creates_one_execution_and_starting_again_changes_nothing(api):
    job_id = submit(api, start=False)["job_id"]

    for _ in range(2):
        response = api.post(f"/_rollup/job/{job_id}/_start")
        assert response.status_code == 200, response.text
        assert response.json() == {"started": True}

    assert Execution.objects.filter(job_id=job_id).count() == 1
    assert state_of(api, job_id) == "started"


def test_starting_a_job_that_is_still_stopping_is_a_409(api):
    job_id, ex_id = submit_started(api)
    put_status(ex_id, "stopping", live_controller=True)

    response = api.post(f"/_rollup/job/{job_id}/_start")

    assert response.status_code == 409
    assert error(response) == (
        "status_exception",
        f"Cannot start task for Rollup Job [{job_id}] because state was [stopping]",
    )


def test_get_shows_config_status_and_stats_and_an_unknown_id_no_jobs(api):
    job_id, ex_id = submit_started(api)
    put_status(ex_id, "completed", slicer_stats={"processed": 7, "failed": 1})

    (job,) = api.get(f"/_rollup/job/{job_id}").json()["jobs"]
    assert job["config"]["id"] == job_id and job["config"]["name"] == "api test job"
    assert job["status"] == {"job_state": "stopped", "upgraded_doc_id": True, "ex_id": ex_id, "_status": "completed"}
    assert job["stats"] == {"pages_processed": 7, "index_failures": 1, "trigger_count": 1, "processing_total": 7}
    assert api.get("/_rollup/job/nope").json() == {"jobs": []}
    assert [j["config"]["id"] for j in api.get("/_rollup/job/_all").json()["jobs"]] == [job_id]


def test_the_xpack_path_works_and_warns_that_it_is_deprecated(api):
    job_id = submit(api, start=False)["job_id"]

    response = api.post(f"/_xpack/rollup/job/{job_id}/_stop")

    assert response.status_code == 200
    assert response.headers["Warning"] == (
        f'299 Elasticsearch-9.0.0 "[POST /_xpack/rollup/job/{job_id}/_stop] is deprecated! '
        f'Use [POST /_rollup/job/{job_id}/_stop] instead."'
    )
