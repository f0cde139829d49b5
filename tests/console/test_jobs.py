"""The job page's buttons call the same services as the API, and each click is audited with its outcome."""

import pytest

from jobs.models import Execution, Job
from jobsite.access.models import AuditEntry

SPEC = {"name": "console-job", "workers": 1, "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}


@pytest.fixture
def job(transactional_db):
    return Job.objects.create(name=SPEC["name"], spec=SPEC)


def messages_on(client, job) -> str:
    return client.get(f"/console/jobs/{job.job_id}/").text


def test_the_jobs_page_lists_jobs_with_their_latest_execution(operator, job):
    Execution.objects.create(job=job, name=job.name, status="running", config={}, workers=3)

    page = operator.get("/console/jobs/").text

    assert job.name in page and job.job_id in page
    assert "status-running" in page


def test_the_jobs_page_filters_by_name(operator, job):
    Job.objects.create(name="other-thing", spec={**SPEC, "name": "other-thing"})

    page = operator.get("/console/jobs/", params={"name": "console"}).text

    assert "console-job" in page and "other-thing" not in page


def test_start_creates_an_execution_and_is_audited(operator, job):
    response = operator.submit(f"/console/jobs/{job.job_id}/start")

    assert response.status_code == 302
    assert response.headers["location"] == f"/console/jobs/{job.job_id}/"
    execution = Execution.objects.get(job=job)
    assert f"Started execution {execution.ex_id}" in messages_on(operator, job)
    entry = AuditEntry.objects.get(action="cluster:admin/jobs/start")
    assert (entry.user, entry.target, entry.outcome) == ("operator", job.job_id, "success")


def test_a_refused_transition_shows_why_loses_nothing_and_is_audited_as_failed(operator, job):
    operator.submit(f"/console/jobs/{job.job_id}/start")

    operator.submit(f"/console/jobs/{job.job_id}/start")

    assert Execution.objects.filter(job=job).count() == 1
    assert "cannot have the same job concurrently running" in messages_on(operator, job)
    second = AuditEntry.objects.filter(action="cluster:admin/jobs/start").order_by("id").last()
    assert (second.status, second.outcome) == (409, "failed")


def test_each_button_goes_through_the_services(operator, job):
    operator.submit(f"/console/jobs/{job.job_id}/start")
    execution = Execution.objects.get(job=job)
    Execution.objects.filter(pk=execution.pk).update(status="running")

    operator.submit(f"/console/jobs/{job.job_id}/workers", {"change": "add", "number": "2"})
    assert Execution.objects.get(pk=execution.pk).workers == 3
    operator.submit(f"/console/jobs/{job.job_id}/pause")
    assert Execution.objects.get(pk=execution.pk).status == "paused"
    operator.submit(f"/console/jobs/{job.job_id}/resume")
    assert Execution.objects.get(pk=execution.pk).status == "running"
    operator.submit(f"/console/jobs/{job.job_id}/stop", {"force": "on", "confirmed": "1"})  # past the confirmation
    assert Execution.objects.get(pk=execution.pk).status == "stopped"
    operator.submit(f"/console/jobs/{job.job_id}/recover", {"cleanup_type": "errors"})
    recovered = Execution.objects.filter(job=job).order_by("-created").first()
    assert recovered.recovered_execution_id == execution.ex_id and recovered.recovered_slice_type == "errors"

    assert list(AuditEntry.objects.exclude(action="console:login").order_by("id").values_list("action", "status")) == [
        ("cluster:admin/jobs/start", 302),
        ("cluster:admin/jobs/workers", 302),
        ("cluster:admin/jobs/pause", 302),
        ("cluster:admin/jobs/resume", 302),
        ("cluster:admin/jobs/stop", 302),
        ("cluster:admin/jobs/recover", 302),
    ]
    transitions = execution.transitions.values_list("actor", flat=True)
    assert set(transitions) >= {"operator"}


def test_bad_form_input_is_a_clear_message_and_changes_nothing(operator, job):
    operator.submit(f"/console/jobs/{job.job_id}/start")
    Execution.objects.filter(job=job).update(status="running")

    operator.submit(f"/console/jobs/{job.job_id}/workers", {"change": "double", "number": "0"})

    page = messages_on(operator, job)
    assert "Select a valid choice" in page and "greater than or equal to 1" in page
    assert Execution.objects.get(job=job).workers == 1
    assert AuditEntry.objects.filter(action="cluster:admin/jobs/workers").get().status == 400


def test_an_unknown_job_is_a_404_page(operator):
    response = operator.get("/console/jobs/no-such-job/")

    assert response.status_code == 404
    assert "no-such-job" in response.text


def test_a_deleted_job_offers_no_buttons(operator, job):
    Job.objects.filter(pk=job.pk).update(deleted=True, deleted_on=job.created)

    page = operator.get(f"/console/jobs/{job.job_id}/").text

    assert "deleted" in page and ">Start</button>" not in page
