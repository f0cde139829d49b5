"""The job page: the spec editor (saved through the service of `PUT /v1/jobs/<id>`, errors inline with the
text kept), every execution paged, the latest one's errors, close and open, the buttons each state and
privilege offers, the live part's polling, and what the page costs in queries however many executions."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.lifecycle import offered_job_controls
from jobs.models import Execution, Job, Slice
from jobs.views.job import EXECUTIONS_PER_PAGE, spec_problems
from jobsite import actions
from jobsite.access.models import AuditEntry
from tasks.models import Task
from tests.api.helpers import add_work
from tests.console.conftest import make_user

SPEC = {"name": "job-page-job", "workers": 1, "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}


@pytest.fixture
def job(db):
    return Job.objects.create(name=SPEC["name"], spec=SPEC)


@pytest.fixture
def as_user(client):
    def log_in(name, *privileges):
        client.force_login(make_user(name, *privileges))
        return client

    return log_in


def make_execution(job, status="running", *, seconds=60, **fields) -> Execution:
    created = timezone.now() - timedelta(seconds=seconds)
    return Execution.objects.create(
        job=job, name=job.name, status=status, config=SPEC, workers=1, created=created, updated=created, **fields
    )


def page_of(client, job, headers=None, **params) -> str:
    response = client.get(f"/console/jobs/{job.job_id}/", params, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def save(client, job, text: str):
    return client.post(f"/console/jobs/{job.job_id}/", {"spec": text})


# --- the editor -------------------------------------------------------------------------------------------


def test_the_editor_shows_the_spec_as_pretty_json_and_saves_an_edit(as_user, job):
    client = as_user("operator", "manage")
    page = page_of(client, job)
    assert '<textarea id="spec-text" name="spec"' in page
    assert "&quot;workers&quot;: 1," in page  # indented, one key a line

    response = save(client, job, json.dumps({**SPEC, "workers": 3}, indent=2))

    assert response.status_code == 302 and response.headers["location"] == f"/console/jobs/{job.job_id}/#spec"
    job.refresh_from_db()
    assert job.spec["workers"] == 3
    assert not Execution.objects.filter(job=job).exists()  # saving starts nothing
    assert "Saved the spec" in page_of(client, job)
    entry = AuditEntry.objects.get(action=actions.JOBS_UPDATE)
    assert (entry.target, entry.status) == (job.job_id, 302)


def test_a_json_syntax_error_is_shown_inline_with_its_line_and_column_and_the_text_kept(as_user, job):
    client = as_user("operator", "manage")
    text = '{\n  "name": "job-page-job",\n  "workers": 2,,\n  "operations": []\n}'

    response = save(client, job, text)

    assert response.status_code == 400
    page = response.content.decode()
    assert "JSON syntax error at line 3, column 16" in page
    assert '"workers": 2,,' in page.replace("&quot;", '"')  # the user's text, as typed
    assert 'aria-invalid="true"' in page
    job.refresh_from_db()
    assert job.spec == SPEC


def test_validation_errors_are_listed_field_by_field_with_the_text_kept(as_user, job):
    client = as_user("operator", "manage")
    text = json.dumps({**SPEC, "workers": "many", "lifecycle": "sometimes"}, indent=2)

    response = save(client, job, text)

    assert response.status_code == 400
    page = response.content.decode()
    assert "the spec does not validate" in page
    assert "<code>workers</code>:" in page and "<code>lifecycle</code>:" in page
    assert "&quot;many&quot;" in page  # the text kept
    job.refresh_from_db()
    assert job.spec == SPEC
    assert AuditEntry.objects.get(action=actions.JOBS_UPDATE).status == 400


def test_an_operation_error_names_the_operation():
    problems = spec_problems("Validation failed for operation config: delay - ms: A valid integer is required.")
    assert problems == [{"where": "operation delay", "field": "ms", "message": "A valid integer is required."}]
    assert spec_problems("No job was posted") == [{"where": "", "field": "", "message": "No job was posted"}]


def test_an_operation_that_does_not_exist_is_shown_inline(as_user, job):
    client = as_user("operator", "manage")
    response = save(client, job, json.dumps({**SPEC, "operations": [{"_op": "test-reader"}, {"_op": "nope"}]}))
    assert response.status_code == 400
    assert "Unable to find module for operation: nope" in response.content.decode()


def test_a_monitor_sees_the_spec_read_only_and_no_controls_and_may_not_save(as_user, job):
    client = as_user("watcher", "monitor")
    page = page_of(client, job)
    assert "<textarea" not in page and '<pre class="json">' in page
    assert "Start</button>" not in page and "Close…</button>" not in page
    assert "You may look but not control this job" in page

    assert save(client, job, json.dumps({**SPEC, "workers": 5})).status_code == 403
    job.refresh_from_db()
    assert job.spec == SPEC


def test_manage_rollup_controls_executions_but_neither_edits_nor_closes(as_user, job):
    page = page_of(as_user("roller", "manage_rollup"), job)
    assert "Start</button>" in page
    assert "<textarea" not in page and "Close…</button>" not in page


def test_manage_ml_closes_but_does_not_start(as_user, job):
    page = page_of(as_user("closer", "manage_ml"), job)
    assert "Close…</button>" in page and "Force close…</button>" in page
    assert "Start</button>" not in page


# --- executions and errors --------------------------------------------------------------------------------


def test_every_execution_is_listed_paged_newest_first(as_user, job):
    executions = [make_execution(job, "completed", seconds=1000 - n) for n in range(EXECUTIONS_PER_PAGE + 5)]
    client = as_user("operator", "manage")

    first, second = page_of(client, job), page_of(client, job, page=2)

    newest, oldest = executions[-1], executions[0]
    assert f"/console/ex/{newest.ex_id}/" in first and f"/console/ex/{oldest.ex_id}/" not in first
    assert (
        f"/console/ex/{oldest.ex_id}/" in second
        and f"/console/ex/{newest.ex_id}/" not in second.split("Executions")[-1]
    )
    assert "page 1 of 2" in first and f"{EXECUTIONS_PER_PAGE + 5} in all" in first


def test_the_latest_executions_newest_errors_link_to_its_page(as_user, job):
    latest = make_execution(job, "failed", has_errors=True)
    Slice.objects.bulk_create(
        Slice(execution=latest, slicer_id=0, slicer_order=n, state="error", error=f"boom {n}", request={})
        for n in range(8)
    )
    page = page_of(as_user("operator", "manage"), job)
    assert page.count("boom ") == 5
    assert f"/console/ex/{latest.ex_id}/#errors" in page


# --- controls by state ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status", "offered"),
    [
        ("opened", None, {"start", "close", "force_close"}),
        ("opened", "running", {"stop", "workers", "pause", "close", "force_close"}),
        ("opened", "paused", {"stop", "workers", "resume", "close", "force_close"}),
        ("opened", "completed", {"start", "recover", "close", "force_close"}),
        ("closing", "stopping", {"force_close"}),
        ("closed", "stopped", {"open"}),
        ("failed", "failed", {"open", "force_close"}),
    ],
)
def test_the_controls_come_from_the_status_and_the_open_closed_state(state, status, offered):
    assert offered_job_controls(state, status) == offered


def test_a_closed_job_offers_only_open(as_user, job):
    make_execution(job, "stopped")
    Job.objects.filter(pk=job.pk).update(state="closed")
    page = page_of(as_user("operator", "manage"), job)
    assert "Open</button>" in page
    for button in ("Start</button>", "Recover</button>", "Close…</button>", "Force close…</button>"):
        assert button not in page


# --- close and open ---------------------------------------------------------------------------------------


def test_close_first_says_what_will_happen_then_closes_as_a_task(as_user, job):
    running = make_execution(job, "running")
    client = as_user("operator", "manage")

    asked = client.post(f"/console/jobs/{job.job_id}/close")

    assert asked.status_code == 200
    text = asked.content.decode()
    assert f"stops execution {running.ex_id}" in text and 'name="confirmed"' in text
    job.refresh_from_db()
    assert job.state == "opened" and not AuditEntry.objects.filter(action=actions.JOBS_CLOSE).exists()

    done = client.post(f"/console/jobs/{job.job_id}/close", {"confirmed": "1"})

    assert done.status_code == 302
    job.refresh_from_db()
    assert job.state == "closing"
    task = Task.objects.get(action=actions.JOBS_CLOSE, target=job.job_id)
    page = page_of(client, job)
    assert f"a worker node runs the close as task {task.task_id}" in page
    assert f"<code>{task.task_id}</code>" in page and "/console/tasks/?action=" in page
    assert "Force close…</button>" in page and "Open</button>" not in page


def test_force_close_terminates_the_execution_and_open_reopens(as_user, job):
    running = make_execution(job, "running")
    client = as_user("operator", "manage")

    asked = client.post(f"/console/jobs/{job.job_id}/close", {"force": "on"}).content.decode()
    assert f"Execution {running.ex_id} ends terminated at once" in asked
    client.post(f"/console/jobs/{job.job_id}/close", {"force": "on", "confirmed": "1"})

    job.refresh_from_db()
    running.refresh_from_db()
    assert (job.state, running.status) == ("closed", "terminated")
    assert "Open</button>" in page_of(client, job)

    client.post(f"/console/jobs/{job.job_id}/open")

    job.refresh_from_db()
    assert job.state == "opened"
    assert "Start</button>" in page_of(client, job)


def test_a_graceful_close_of_a_failed_job_is_refused_with_the_reason(as_user, job):
    Job.objects.filter(pk=job.pk).update(state="failed")
    client = as_user("operator", "manage")
    client.post(f"/console/jobs/{job.job_id}/close", {"confirmed": "1"})
    job.refresh_from_db()
    assert job.state == "failed"
    assert "because it failed, use force close" in page_of(client, job)


def test_stop_asks_first_naming_the_execution(as_user, job):
    running = make_execution(job, "running")
    client = as_user("operator", "manage")
    asked = client.post(f"/console/jobs/{job.job_id}/stop", {"force": "on"}).content.decode()
    assert f"Force stop execution {running.ex_id}?" in asked
    running.refresh_from_db()
    assert running.status == "running"
    client.post(f"/console/jobs/{job.job_id}/stop", {"force": "on", "confirmed": "1"})
    running.refresh_from_db()
    assert running.status == "stopped"


# --- live part and cost -----------------------------------------------------------------------------------


def test_the_live_part_polls_while_the_execution_lives_and_stops_once_terminal(as_user, job):
    execution = make_execution(job, "running")
    client = as_user("operator", "manage")
    assert 'hx-trigger="every 2s [document.visibilityState' in page_of(client, job)

    shown = "running/opened"
    part = page_of(client, job, shown=shown, headers={"HX-Request": "true"})
    assert 'id="job-live"' in part and "hx-trigger" in part and 'id="job-controls"' not in part
    row = f'<template>\n      <tr id="ex-row-{execution.ex_id}" hx-swap-oob="true">'
    assert row in part  # the executions table's row follows the live part
    assert f'<tr id="ex-row-{execution.ex_id}">' in page_of(client, job)

    Execution.objects.filter(pk=execution.pk).update(status="completed")
    part = page_of(client, job, shown=shown, headers={"HX-Request": "true"})
    assert "hx-trigger" not in part
    assert row in part and part.split(row)[1].split("</tr>")[0].count("status-completed") == 1
    assert 'id="job-controls" aria-labelledby="job-controls-heading" hx-swap-oob="true"' in part
    assert "Start</button>" in part


def test_the_page_costs_the_same_queries_however_many_executions(as_user, job):
    make_execution(job, "running")
    client = as_user("operator", "manage")

    def queries(**params) -> int:
        with CaptureQueriesContext(connection) as captured:
            page_of(client, job, **params)
        return len(captured)

    small = queries(), queries(shown="x", headers={"HX-Request": "true"})
    Execution.objects.bulk_create(
        Execution(job=job, name=job.name, status="completed", config=SPEC, workers=1) for _ in range(300)
    )
    large = queries(), queries(shown="x", headers={"HX-Request": "true"})

    assert small == large
    assert large[0] <= 12, large


def test_the_live_part_shows_the_progress_of_a_once_execution_once_it_is_sliced(as_user, job):
    execution = make_execution(job, "running", slicer_stats={"processed": 30, "queued": 8})
    client = as_user("operator", "manage")
    assert 'id="job-progress"' not in page_of(client, job)  # the total is not known yet

    Execution.objects.filter(pk=execution.pk).update(
        slicer_stats={"processed": 30, "queued": 8, "queuing_complete": "2026-01-01T00:00:00Z"}
    )
    add_work(
        Slice.objects.bulk_create(
            Slice(execution=execution, slicer_id=0, slicer_order=n, state="start", request={}) for n in range(2)
        )
    )

    part = page_of(client, job, shown="running/opened", headers={"HX-Request": "true"})
    assert '<progress id="job-progress" max="40" value="30"' in part and "30 of 40 slices (75%)" in part
