"""The New job page: a spec editor prefilled with a job that validates, saved through the service of
`POST /v1/jobs` ("Save" stores it, "Save and start" also starts it), errors inline with the text kept and
nothing stored, and offered only to users who may create jobs."""

import json

import pytest

from jobs.models import Execution, Job
from jobs.views.new_job import EXAMPLE
from jobsite import actions
from jobsite.access.models import AuditEntry
from jobsite.errors import Conflict
from tests.console.conftest import make_user

SPEC = {"name": "new-from-editor", "workers": 1, "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}


@pytest.fixture
def as_user(client, db):
    def log_in(name, *privileges):
        client.force_login(make_user(name, *privileges))
        return client

    return log_in


def submit(client, text: str, *, start: bool):
    return client.post("/console/jobs/new", {"spec": text, **({"start": "true"} if start else {})})


def test_the_editor_is_prefilled_with_a_job_that_validates(as_user):
    client = as_user("operator", "manage")

    page = client.get("/console/jobs/new").content.decode()

    assert '<textarea id="spec-text" name="spec"' in page
    assert "&quot;_op&quot;: &quot;data_generator&quot;" in page
    assert ">Save and start</button>" in page and ">Save</button>" in page
    response = submit(client, json.dumps(EXAMPLE), start=False)
    assert response.status_code == 302
    assert Job.objects.get().name == EXAMPLE["name"]


def test_save_stores_the_job_and_starts_nothing(as_user):
    client = as_user("operator", "manage")

    response = submit(client, json.dumps(SPEC, indent=2), start=False)

    job = Job.objects.get()
    assert response.status_code == 302 and response["location"] == f"/console/jobs/{job.job_id}/"
    assert job.spec == SPEC and not Execution.objects.exists()
    assert "Nothing was started" in client.get(response["location"]).content.decode()
    entry = AuditEntry.objects.get(action=actions.JOBS_SUBMIT)
    assert (entry.target, entry.status) == (job.job_id, 302)


def test_save_and_start_stores_the_job_and_starts_its_first_execution(as_user):
    client = as_user("operator", "manage")

    response = submit(client, json.dumps(SPEC), start=True)

    execution = Execution.objects.get()
    assert response["location"] == f"/console/jobs/{execution.job_id}/"
    assert execution.status == "pending"
    assert f"started execution {execution.ex_id}" in client.get(response["location"]).content.decode()


def test_a_json_syntax_error_is_shown_inline_and_nothing_is_stored(as_user):
    text = '{\n  "name": "x",\n  "workers": 1\n  "operations": []\n}'

    response = submit(as_user("operator", "manage"), text, start=True)

    assert response.status_code == 400
    page = response.content.decode()
    assert "JSON syntax error at line 4, column 3" in page
    assert '"workers": 1\n  "operations"' in page.replace("&quot;", '"')  # the text as typed
    assert not Job.objects.exists() and not Execution.objects.exists()
    assert AuditEntry.objects.get(action=actions.JOBS_SUBMIT).status == 400


def test_an_invalid_field_is_listed_field_by_field_and_nothing_is_stored(as_user):
    text = json.dumps({**SPEC, "workers": "many", "lifecycle": "sometimes"}, indent=2)

    response = submit(as_user("operator", "manage"), text, start=True)

    assert response.status_code == 400
    page = response.content.decode()
    assert "the same check as <code>POST /v1/jobs</code>" in page
    assert "<code>workers</code>:" in page and "<code>lifecycle</code>:" in page
    assert "&quot;many&quot;" in page and 'aria-invalid="true"' in page
    assert not Job.objects.exists() and not Execution.objects.exists()


def test_a_failure_while_starting_leaves_no_job_half_written(as_user, monkeypatch):
    def refuse(*args, **kwargs):
        raise Conflict("no slots for it")

    monkeypatch.setattr("jobs.services.jobs.create_execution", refuse)

    response = submit(as_user("operator", "manage"), json.dumps(SPEC), start=True)

    assert response.status_code == 409
    assert "no slots for it" in response.content.decode()
    assert not Job.objects.exists() and not Execution.objects.exists()


def test_a_user_who_may_not_create_jobs_sees_why_and_may_not_post(as_user):
    client = as_user("roller", "manage_rollup")

    jobs = client.get("/console/jobs/").content.decode()
    assert "/console/jobs/new" not in jobs and "New jobs need the <code>manage</code> privilege" in jobs
    page = client.get("/console/jobs/new").content.decode()
    assert "<textarea" not in page and "creating a job needs the <code>manage</code> privilege" in page

    assert submit(client, json.dumps(SPEC), start=True).status_code == 403
    assert not Job.objects.exists()


def test_the_jobs_list_links_to_the_new_job_page_for_who_may_create_jobs(as_user):
    page = as_user("operator", "manage").get("/console/jobs/").content.decode()
    assert 'href="/console/jobs/new">New job</a>' in page
