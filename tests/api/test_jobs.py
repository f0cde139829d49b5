"""Job routes over HTTP (spec/teraslice.md §1.3-1.4, §2.3, §9; spec/jobsite.md §6): submit, list, read,
replace, activate and delete."""

import json
import os
import re
import uuid

import pytest

from jobs.models import Execution, Job
from tests.api.helpers import (  # noqa: F401  (fixtures)
    admin,
    anonymous,
    api,
    basic_api,
    error_of,
    job_spec,
    put_status,
    submit,
    submit_deleted,
    submit_started,
    web_node,
)

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def is_uuid4(text: str) -> bool:
    return uuid.UUID(text).version == 4


def stop(api, ex_id):
    response = api.post(f"/v1/ex/{ex_id}/_stop")
    assert response.status_code == 200, response.text


# --- POST /v1/jobs -------------------------------------------------------------------------------------------


def test_submit_starts_by_default_and_returns_job_and_ex_ids(api):
    response = api.post("/v1/jobs", json=job_spec())

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"job_id", "ex_id"}
    assert is_uuid4(body["job_id"]) and is_uuid4(body["ex_id"])
    assert Execution.objects.get(pk=body["ex_id"]).job_id == body["job_id"]


def test_submit_with_start_false_returns_only_job_id_and_creates_no_execution(api):
    response = api.post("/v1/jobs", params={"start": "false"}, json=job_spec())

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"job_id"}
    assert Job.objects.filter(pk=body["job_id"]).exists()
    assert not Execution.objects.filter(job_id=body["job_id"]).exists()


def test_submit_start_values_other_than_false_still_start(api):
    response = api.post("/v1/jobs", params={"start": "no"}, json=job_spec())

    assert response.status_code == 200
    assert set(response.json()) == {"job_id", "ex_id"}


def test_stored_job_is_the_submitted_spec_unchanged(api):
    spec = job_spec(slicers=2, env_vars={"A": "b"})
    job_id = submit(api, spec)["job_id"]

    record = api.get(f"/v1/jobs/{job_id}").json()

    for key, value in spec.items():
        assert record[key] == value, key
    assert record["job_id"] == job_id
    assert record["_context"] == "job"
    assert ISO_Z.match(record["_created"]) and ISO_Z.match(record["_updated"])


def test_stored_job_gets_no_defaults(api):
    job_id = submit(api, job_spec())["job_id"]

    record = api.get(f"/v1/jobs/{job_id}").json()

    for default in ("slicers", "analytics", "max_retries", "probation_window", "autorecover", "apis"):
        assert default not in record, default
    assert record["operations"] == [{"_op": "data_generator", "size": 100}, {"_op": "delay"}]


def test_execution_record_has_the_validated_config_with_defaults(api):
    job_id, ex_id = submit_started(api, job_spec())

    record = api.get(f"/v1/ex/{ex_id}").json()

    assert record["job_id"] == job_id and record["ex_id"] == ex_id
    assert record["_status"] == "pending"
    assert record["_context"] == "ex"
    assert record["name"] == "api test job"
    assert record["workers"] == 2
    assert record["slicers"] == 1
    assert record["analytics"] is True
    assert record["max_retries"] == 3
    assert record["probation_window"] == 300000
    assert record["autorecover"] is False
    assert record["lifecycle"] == "once"
    assert record["my_own_key"] == {"kept": ["as", "is"]}
    reader, delay = record["operations"]
    assert reader["_op"] == "data_generator" and reader["size"] == 100
    assert delay["_op"] == "delay" and delay["ms"] == 100
    assert delay["_encoding"] == "json" and delay["_dead_letter_action"] == "throw"
    assert record["_has_errors"] is False
    assert record["_slicer_stats"] == {}
    assert record["_failureReason"] == ""
    assert record["metadata"] == {}
    assert ISO_Z.match(record["_created"]) and ISO_Z.match(record["_updated"])


def test_execution_workers_default_to_cpu_count_capped_at_five(api):
    spec = job_spec()
    del spec["workers"]
    ex_id = submit(api, spec)["ex_id"]

    assert api.get(f"/v1/ex/{ex_id}").json()["workers"] == min(os.cpu_count() or 1, 5)


def test_submit_with_job_id_is_422(api):
    response = api.post("/v1/jobs", json=job_spec(job_id="mine"))

    assert error_of(response) == (422, {"error": 422, "message": "Job cannot include a job_id on submit"})


def test_submit_empty_object_is_400_no_job_was_posted(api):
    response = api.post("/v1/jobs", json={})

    assert error_of(response) == (400, {"error": 400, "message": "No job was posted"})


def test_submit_malformed_json_is_400(api):
    response = api.post("/v1/jobs", content=b'{"name": ', headers={"Content-Type": "application/json"})

    assert error_of(response) == (400, {"error": 400, "message": "the json submitted is malformed"})


@pytest.mark.parametrize(
    "change",
    [{"slicers": 0}, {"slicers": -1}, {"workers": 0}, {"lifecycle": "invalid"}],
    ids=["slicers-0", "slicers-negative", "workers-0", "lifecycle-invalid"],
)
def test_invalid_job_is_400_validation_failed(api, change):
    response = api.post("/v1/jobs", json=job_spec(**change))

    status, body = error_of(response)
    assert status == 400
    assert body["message"].startswith("Validation failed for job config: api test job - "), body
    assert not Job.objects.exists()


def test_invalid_operation_option_is_400_validation_failed_for_operation(api):
    spec = job_spec(operations=[{"_op": "data_generator", "size": 0}, {"_op": "noop"}])

    status, body = error_of(api.post("/v1/jobs", json=spec))

    assert status == 400
    assert body["message"].startswith("Validation failed for operation config: data_generator - ")


def test_unknown_operation_is_400(api):
    spec = job_spec(operations=[{"_op": "data_generator"}, {"_op": "no_such_op"}])

    status, body = error_of(api.post("/v1/jobs", json=spec))

    assert status == 400
    # teraslice.md §2.2 gives this text; it may come wrapped in "Validation failed for ...".
    assert "Unable to find module for operation: no_such_op" in body["message"]
    assert not Job.objects.exists()


def test_form_urlencoded_body_is_parsed_as_json(basic_api):
    """`curl -XPOST :5678/jobs -d@job.json` sends the JSON as application/x-www-form-urlencoded."""
    response = basic_api.post(
        "/jobs", content=json.dumps(job_spec()), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )

    assert response.status_code == 200, response.text
    job_id = response.json()["job_id"]
    assert basic_api.get(f"/jobs/{job_id}").json()["my_own_key"] == {"kept": ["as", "is"]}


def test_submit_works_without_v1_and_with_trailing_slash(api):
    response = api.post("/jobs/", json=job_spec())

    assert response.status_code == 200
    assert set(response.json()) == {"job_id", "ex_id"}


def test_get_job_works_without_v1_and_with_trailing_slash(api):
    job_id = submit(api, start=False)["job_id"]

    response = api.get(f"/jobs/{job_id}/")

    assert response.status_code == 200
    assert response.json()["job_id"] == job_id


def test_routes_are_case_insensitive(api):
    job_id = submit(api, start=False)["job_id"]

    response = api.get(f"/V1/Jobs/{job_id}")

    assert response.status_code == 200
    assert response.json()["job_id"] == job_id
    assert api.get(f"/JOBS/{job_id}/").json()["job_id"] == job_id
    assert api.get("/V1").json()["clustering_type"] == "native"
    assert api.get("/Txt/Jobs").status_code == 200


def test_ids_keep_their_case(api):
    job_id = submit(api, start=False)["job_id"]

    assert api.get(f"/v1/jobs/{job_id.upper()}").status_code == 404


# --- GET /v1/jobs --------------------------------------------------------------------------------------------


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [job["name"] for job in response.json()]


@pytest.fixture
def three_jobs(api):
    """bravo, alpha, charlie, submitted in that order (charlie last updated)."""
    return {name: submit(api, job_spec(name=name), start=False)["job_id"] for name in ("bravo", "alpha", "charlie")}


def test_list_is_a_plain_array_of_job_records_newest_update_first(api, three_jobs):
    response = api.get("/v1/jobs")

    assert isinstance(response.json(), list)
    assert names(response) == ["charlie", "alpha", "bravo"]
    assert response.json()[0]["job_id"] == three_jobs["charlie"]
    assert response.json()[0]["_context"] == "job"


def test_list_sort_ascending_by_name(api, three_jobs):
    assert names(api.get("/v1/jobs", params={"sort": "name:asc"})) == ["alpha", "bravo", "charlie"]


def test_list_sort_descending_by_name(api, three_jobs):
    assert names(api.get("/v1/jobs", params={"sort": "name:desc"})) == ["charlie", "bravo", "alpha"]


def test_list_sort_by_a_comma_list_of_fields(api, three_jobs):
    api.post(f"/v1/jobs/{three_jobs['bravo']}/_inactive")

    response = api.get("/v1/jobs", params={"sort": "active:asc,name:desc"})

    assert names(response) == ["bravo", "charlie", "alpha"]


def test_list_size_and_from_page_the_results(api, three_jobs):
    assert names(api.get("/v1/jobs", params={"sort": "name:asc", "size": "2", "from": "1"})) == ["bravo", "charlie"]


def test_list_size_zero_is_empty(api, three_jobs):
    assert api.get("/v1/jobs", params={"size": "0"}).json() == []


def test_list_unknown_sort_field_is_400(api, three_jobs):
    status, body = error_of(api.get("/v1/jobs", params={"sort": "no_such_field:asc"}))

    assert status == 400
    assert "no_such_field" in body["message"]


def test_list_bad_sort_direction_is_400(api, three_jobs):
    status, _ = error_of(api.get("/v1/jobs", params={"sort": "name:sideways"}))

    assert status == 400


def test_list_non_numeric_size_is_400(api):
    status, body = error_of(api.get("/v1/jobs", params={"size": "many"}))

    assert status == 400
    assert body["message"] == "size parameter must be a integer, got many"


def test_list_active_true_keeps_active_jobs(api, three_jobs):
    api.post(f"/v1/jobs/{three_jobs['alpha']}/_inactive")

    assert names(api.get("/v1/jobs", params={"active": "true", "sort": "name:asc"})) == ["bravo", "charlie"]


def test_list_active_false_keeps_inactive_jobs(api, three_jobs):
    api.post(f"/v1/jobs/{three_jobs['alpha']}/_inactive")

    assert names(api.get("/v1/jobs", params={"active": "false"})) == ["alpha"]


def test_list_other_active_values_do_not_filter(api, three_jobs):
    api.post(f"/v1/jobs/{three_jobs['alpha']}/_inactive")

    assert len(api.get("/v1/jobs", params={"active": "maybe"}).json()) == 3


def test_list_hides_deleted_jobs_by_default(api, three_jobs):
    assert api.delete(f"/v1/jobs/{three_jobs['alpha']}").status_code == 200

    assert names(api.get("/v1/jobs", params={"sort": "name:asc"})) == ["bravo", "charlie"]
    assert names(api.get("/v1/jobs", params={"deleted": "false", "sort": "name:asc"})) == ["bravo", "charlie"]


def test_list_deleted_true_shows_only_deleted_jobs(api, three_jobs):
    api.delete(f"/v1/jobs/{three_jobs['alpha']}")

    response = api.get("/v1/jobs", params={"deleted": "true"})

    assert names(response) == ["alpha"]
    record = response.json()[0]
    for key, value in job_spec(name="alpha").items():
        assert record[key] == value
    assert record["job_id"] == three_jobs["alpha"]


def test_list_bad_deleted_option_is_400(api):
    response = api.get("/v1/jobs", params={"deleted": "bogus"})

    assert error_of(response) == (400, {"error": 400, "message": "deleted query option must true or false"})


def test_list_ex_option_projects_the_latest_execution(api):
    job_id, first = submit_started(api)
    put_status(first, "completed")
    second = api.post(f"/v1/jobs/{job_id}/_start").json()["ex_id"]

    [record] = api.get("/v1/jobs", params={"ex": "_status,ex_id"}).json()

    assert record["ex"] == {"_status": "pending", "ex_id": second}


def test_list_ex_option_gives_empty_object_without_execution(api):
    submit(api, start=False)

    [record] = api.get("/v1/jobs", params={"ex": "_status,ex_id"}).json()

    assert record["ex"] == {}


def test_list_ex_option_gives_empty_object_when_the_latest_execution_is_deleted(api):
    submit_deleted(api)

    [record] = api.get("/v1/jobs", params={"deleted": "true", "ex": "_status"}).json()

    assert record["ex"] == {}


def test_list_without_ex_option_has_no_ex_key(api):
    submit(api)

    [record] = api.get("/v1/jobs").json()

    assert "ex" not in record


# --- GET /v1/jobs/<id> ---------------------------------------------------------------------------------------


def test_get_job_with_ex_projects_its_latest_execution(api):
    job_id, ex_id = submit_started(api)

    record = api.get(f"/v1/jobs/{job_id}", params={"ex": "_status,ex_id"}).json()

    assert record["ex"] == {"_status": "pending", "ex_id": ex_id}


def test_get_job_with_ex_and_no_execution_gives_empty_object(api):
    job_id = submit(api, start=False)["job_id"]

    assert api.get(f"/v1/jobs/{job_id}", params={"ex": "_status"}).json()["ex"] == {}


def test_get_unknown_job_is_404(api):
    status, body = error_of(api.get("/v1/jobs/no-such-job"))

    assert status == 404
    assert body["error"] == 404


# --- PUT /v1/jobs/<id> ---------------------------------------------------------------------------------------


def test_put_replaces_the_whole_job(api):
    job_id = submit(api, job_spec(slicers=2))["job_id"]
    replacement = job_spec(workers=3)
    del replacement["my_own_key"]

    response = api.put(f"/v1/jobs/{job_id}", json=replacement)

    assert response.status_code == 200, response.text
    stored = api.get(f"/v1/jobs/{job_id}").json()
    assert stored["workers"] == 3
    assert "slicers" not in stored
    assert "my_own_key" not in stored
    assert stored["operations"] == replacement["operations"]
    assert response.json() == stored


def test_put_keeps_created_and_refreshes_updated(api):
    job_id = submit(api, start=False)["job_id"]
    before = api.get(f"/v1/jobs/{job_id}").json()

    after = api.put(f"/v1/jobs/{job_id}", json=job_spec(workers=4)).json()

    assert after["_created"] == before["_created"]
    assert after["_updated"] > before["_updated"]
    assert after["job_id"] == job_id and after["_context"] == "job"


def test_put_does_not_change_existing_executions(api):
    job_id, ex_id = submit_started(api)

    api.put(f"/v1/jobs/{job_id}", json=job_spec(workers=4))

    assert api.get(f"/v1/ex/{ex_id}").json()["workers"] == 2


def test_put_empty_body_is_400(api):
    job_id = submit(api, start=False)["job_id"]

    response = api.put(f"/v1/jobs/{job_id}", json={})

    assert error_of(response) == (400, {"error": 400, "message": f"no data was provided to update job {job_id}"})


def test_put_on_deleted_job_is_410(api):
    job_id = submit(api, start=False)["job_id"]
    api.delete(f"/v1/jobs/{job_id}")

    response = api.put(f"/v1/jobs/{job_id}", json=job_spec())

    assert error_of(response) == (
        410,
        {"error": 410, "message": f"Job {job_id} has been deleted and cannot be updated."},
    )


def test_put_invalid_job_is_400_and_keeps_the_stored_one(api):
    job_id = submit(api, start=False)["job_id"]

    status, body = error_of(api.put(f"/v1/jobs/{job_id}", json=job_spec(workers=0)))

    assert status == 400
    assert body["message"].startswith("Validation failed for")
    assert api.get(f"/v1/jobs/{job_id}").json()["workers"] == 2


def test_put_unknown_job_is_404(api):
    status, _ = error_of(api.put("/v1/jobs/no-such-job", json=job_spec()))

    assert status == 404


def make_stored_job_invalid(job_id):
    job = Job.objects.get(pk=job_id)
    Job.objects.filter(pk=job_id).update(spec={**job.spec, "slicers": 0})


def test_put_deactivating_an_invalid_stored_job_is_allowed(api):
    job_id = submit(api, start=False)["job_id"]
    make_stored_job_invalid(job_id)
    invalid = {**job_spec(), "slicers": 0, "active": False}

    response = api.put(f"/v1/jobs/{job_id}", json=invalid)

    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert response.json()["slicers"] == 0


def test_inactive_on_an_invalid_stored_job_is_allowed(api):
    job_id = submit(api, start=False)["job_id"]
    make_stored_job_invalid(job_id)

    response = api.post(f"/v1/jobs/{job_id}/_inactive")

    assert response.status_code == 200, response.text
    assert response.json()["active"] is False


# --- _active / _inactive -------------------------------------------------------------------------------------


def test_inactive_marks_the_job_inactive(api):
    job_id = submit(api, start=False)["job_id"]

    response = api.post(f"/v1/jobs/{job_id}/_inactive")

    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["job_id"] == job_id
    assert api.get(f"/v1/jobs/{job_id}").json()["active"] is False


def test_active_marks_the_job_active_again(api):
    job_id = submit(api, start=False)["job_id"]
    api.post(f"/v1/jobs/{job_id}/_inactive")

    response = api.post(f"/v1/jobs/{job_id}/_active")

    assert response.status_code == 200
    assert response.json()["active"] is True
    assert api.get(f"/v1/jobs/{job_id}").json()["active"] is True


def test_inactive_keeps_the_rest_of_the_job(api):
    job_id = submit(api, job_spec(slicers=2), start=False)["job_id"]

    record = api.post(f"/v1/jobs/{job_id}/_inactive").json()

    assert record["slicers"] == 2 and record["my_own_key"] == {"kept": ["as", "is"]}


def test_active_on_deleted_job_is_410(api):
    job_id = submit(api, start=False)["job_id"]
    api.delete(f"/v1/jobs/{job_id}")

    response = api.post(f"/v1/jobs/{job_id}/_active")

    assert error_of(response) == (
        410,
        {"error": 410, "message": f"Job {job_id} has been deleted and cannot be updated."},
    )


# --- DELETE /v1/jobs/<id> ------------------------------------------------------------------------------------


def test_delete_is_refused_while_an_execution_lives(api):
    job_id, _ = submit_started(api)

    response = api.delete(f"/v1/jobs/{job_id}")

    assert error_of(response) == (
        409,
        {"error": 409, "message": f"Job {job_id} is currently running, cannot delete a running job."},
    )
    assert api.get(f"/v1/jobs/{job_id}").json()["_deleted"] is False


def test_delete_after_stop_marks_the_job_deleted_and_inactive(api):
    job_id, ex_id = submit_started(api)
    stop(api, ex_id)

    response = api.delete(f"/v1/jobs/{job_id}")

    assert response.status_code == 200, response.text
    record = response.json()
    assert record["_deleted"] is True
    assert ISO_Z.match(record["_deleted_on"])
    assert record["active"] is False
    assert record["job_id"] == job_id
    assert record["my_own_key"] == {"kept": ["as", "is"]}


def test_deleted_job_stays_readable(api):
    job_id, _ = submit_deleted(api)

    record = api.get(f"/v1/jobs/{job_id}").json()

    assert record["_deleted"] is True and record["active"] is False


def test_delete_marks_the_job_executions_deleted(api):
    _, ex_id = submit_deleted(api)

    record = api.get(f"/v1/ex/{ex_id}").json()

    assert record["_deleted"] is True
    assert ISO_Z.match(record["_deleted_on"])
    assert Execution.objects.get(pk=ex_id).deleted
    assert api.get("/v1/ex").json() == []


def test_second_delete_is_410(api):
    job_id = submit(api, start=False)["job_id"]
    assert api.delete(f"/v1/jobs/{job_id}").status_code == 200

    response = api.delete(f"/v1/jobs/{job_id}")

    assert error_of(response) == (410, {"error": 410, "message": f"Job {job_id} has already been deleted."})


def test_delete_unknown_job_is_404(api):
    status, _ = error_of(api.delete("/v1/jobs/no-such-job"))

    assert status == 404


# --- authentication ------------------------------------------------------------------------------------------

UNAUTHENTICATED = {"error": 401, "message": "Authentication credentials were not provided."}


@pytest.mark.parametrize(
    "method, path",
    [("GET", "/v1/jobs"), ("POST", "/jobs"), ("PUT", "/v1/jobs/some-id"), ("DELETE", "/v1/jobs/some-id")],
)
def test_anonymous_job_requests_get_401(anonymous, method, path):
    response = anonymous.request(method, path, json=job_spec() if method in ("POST", "PUT") else None)

    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


def test_basic_auth_reads_jobs(basic_api):
    job_id = submit(basic_api, start=False)["job_id"]

    assert [job["job_id"] for job in basic_api.get("/v1/jobs").json()] == [job_id]
