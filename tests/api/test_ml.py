"""ML-style close, open and stats over jobs (spec/jobsite.md §3, spec/elasticsearch.md §3 and test vectors
23–27), through the real server without a worker node: what a request decides by itself. The close
housekeeping a worker node runs is in tests/engine/test_close.py."""

import json

import pytest

from jobs.models import Execution, Job
from tests.api.helpers import put_status, submit, submit_started

VENDOR_JSON = "application/vnd.elasticsearch+json; compatible-with=9"


def error(response) -> tuple[int, str, str]:
    body = response.json()
    return body["status"], body["error"]["type"], body["error"]["reason"]


def state_of(job_id: str) -> str:
    return Job.objects.values_list("state", flat=True).get(pk=job_id)


def close(api, ids: str, body: dict | None = None, **params):
    content = json.dumps(body) if body is not None else None
    headers = {"Content-Type": VENDOR_JSON, "Accept": VENDOR_JSON} if body is not None else {}
    return api.post(f"/_ml/anomaly_detectors/{ids}/_close", params=params, content=content, headers=headers)


def test_closing_an_unknown_job_is_a_404_naming_it(api):
    response = close(api, "unknown")

    assert error(response) == (404, "resource_not_found_exception", "No known job with id 'unknown'")
    assert response.headers["X-Elastic-Product"] == "Elasticsearch"


def test_an_unmatched_wildcard_closes_nothing_unless_allow_no_match_is_false(api):
    assert close(api, "missing-*").json() == {"closed": True}

    for response in (
        close(api, "missing-*", allow_no_match="false"),
        close(api, "missing-*", {"allow_no_match": False}),
    ):
        assert error(response) == (404, "resource_not_found_exception", "No known job with id 'missing-*'")


def test_force_close_in_a_vendor_json_body_terminates_and_closes_at_once(api):
    job_id, ex_id = submit_started(api)
    put_status(ex_id, "running", live_controller=True)

    response = close(api, job_id, {"timeout": "1s", "force": True})

    assert response.status_code == 200, response.text
    assert response.json() == {"closed": True}
    assert state_of(job_id) == "closed" and Execution.objects.get(pk=ex_id).status == "terminated"


def test_closing_a_closed_job_twice_succeeds(api):
    job_id = submit(api, start=False)["job_id"]
    Job.objects.filter(pk=job_id).update(state="closed")

    for params in ({}, {"force": "true"}):
        assert close(api, job_id, **params).json() == {"closed": True}


def test_a_failed_job_closes_only_with_force(api):
    job_id = submit(api, start=False)["job_id"]
    Job.objects.filter(pk=job_id).update(state="failed")

    assert error(close(api, job_id)) == (
        409,
        "status_exception",
        f"cannot close job [{job_id}] because it failed, use force close",
    )
    assert close(api, job_id, force="true").json() == {"closed": True}
    assert state_of(job_id) == "closed"


def test_a_close_wait_that_times_out_is_a_429_timeout_and_the_job_stays_closing(api):
    job_id = submit(api, start=False)["job_id"]  # no worker node runs the housekeeping here

    response = close(api, job_id, {"timeout": "1s"})

    assert error(response) == (429, "timeout_exception", "Timed out when waiting for persistent tasks after 1s")
    assert response.json()["error"]["timed_out"] is True and response.headers["X-Timed-Out"] == "true"
    assert state_of(job_id) == "closing"


@pytest.mark.parametrize(
    ("body", "params", "reason"),
    [
        ({"force": "yes"}, {}, "Failed to parse value [yes] as only [true] or [false] are allowed."),
        ({"timeout": "1.5s"}, {}, "failed to parse [1.5s], fractional time values are not supported"),
        (
            None,
            {"timeout": "10"},
            "failed to parse setting [timeout] with value [10] as a time value: unit is missing or unrecognized",
        ),
        (
            None,
            {"wait": "true"},
            "request [/_ml/anomaly_detectors/{job_id}/_close] contains unrecognized parameter: [wait]",
        ),
    ],
)
def test_bad_parameters_are_400s_in_elasticsearchs_words(api, body, params, reason):
    job_id = submit(api, start=False)["job_id"]

    response = close(api, job_id, body, **params)

    assert error(response) == (400, "illegal_argument_exception", reason.format(job_id=job_id))
    assert state_of(job_id) == "opened"


def test_an_unknown_body_field_is_a_parse_error(api):
    job_id = submit(api, start=False)["job_id"]

    response = close(api, job_id, {"x": 1})

    assert error(response) == (400, "x_content_parse_exception", "[cluster:admin/xpack/ml/job/close] unknown field [x]")


def test_allow_no_jobs_still_works_and_warns_it_is_deprecated(api):
    response = close(api, "missing-*", allow_no_jobs="false")

    assert response.status_code == 404  # the error shows the alias took effect
    response = close(api, "missing-*", allow_no_jobs="true")
    assert response.status_code == 200
    assert "Deprecated field [allow_no_jobs] used, expected [allow_no_match] instead" in response.headers["Warning"]


def test_open_reopens_closed_jobs_by_wildcard(api):
    ids = [submit(api, start=False)["job_id"] for _ in range(2)]
    Job.objects.filter(pk__in=ids).update(state="closed")

    response = api.post("/_ml/anomaly_detectors/*/_open")

    assert response.status_code == 200 and response.json() == {"opened": True, "node": ""}
    assert {state_of(job_id) for job_id in ids} == {"opened"}


def test_stats_show_each_jobs_state_and_its_latest_executions_counts(api):
    job_id, ex_id = submit_started(api)
    put_status(
        ex_id,
        "completed",
        slicer_stats={"processed": 4, "failed": 1, "queued": 0},
        analytics={"0": {"op": "data_generator", "count": 400}, "1": {"op": "delay", "count": 300}},
    )
    other = submit(api, start=False)["job_id"]
    Job.objects.filter(pk=other).update(state="closed")

    body = api.get("/_ml/anomaly_detectors/_stats").json()

    assert body["count"] == 2
    by_id = {job["job_id"]: job for job in body["jobs"]}
    assert by_id[job_id]["state"] == "opened" and by_id[other]["state"] == "closed"
    assert by_id[job_id]["data_counts"] == {
        "job_id": job_id,
        "processed_slice_count": 4,
        "failed_slice_count": 1,
        "queued_slice_count": 0,
        "input_record_count": 400,
        "processed_record_count": 300,
    }
    assert by_id[job_id]["execution"] == {"ex_id": ex_id, "_status": "completed"}
    assert api.get(f"/_ml/anomaly_detectors/{other}/_stats").json()["count"] == 1


def test_the_xpack_close_path_works_and_warns(api):
    job_id = submit(api, start=False)["job_id"]
    Job.objects.filter(pk=job_id).update(state="closed")

    response = api.post(f"/_xpack/ml/anomaly_detectors/{job_id}/_close")

    assert response.status_code == 200
    assert response.headers["Warning"].startswith('299 Elasticsearch-9.0.0 "[POST /_xpack/ml/anomaly_detectors/')
