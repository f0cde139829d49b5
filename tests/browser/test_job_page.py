"""The job page in a real browser: the spec edited in its editor and saved (a bad edit shows its error
beside the editor, the text kept), and a job closed (each close asked first in a dialog) and opened again."""

import json

from playwright.sync_api import expect

from jobs.models import Execution, Job
from tests.browser.conftest import assert_accessible, readme_picture, screenshot
from tests.browser.test_console import log_in
from tests.console.conftest import make_user

SPEC = {"name": "browser-job-page", "workers": 1, "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}


def test_an_operator_edits_the_spec_in_the_editor(page):
    make_user("operator", "manage")
    job = Job.objects.create(name=SPEC["name"], spec=SPEC)
    for status in ("completed", "failed", "completed"):
        Execution.objects.create(job=job, name=job.name, status=status, config=SPEC, workers=1)
    log_in(page, "operator")
    page.goto(f"/console/jobs/{job.job_id}/")
    editor = page.get_by_label("The job as JSON")
    expect(editor).to_have_value(json.dumps(SPEC, indent=2))
    assert_accessible(page)
    readme_picture(page, "console-job")

    editor.fill(json.dumps({**SPEC, "workers": 4}, indent=2))
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_contain_text("Saved the spec")
    expect(page.get_by_label("The job as JSON")).to_have_value(json.dumps({**SPEC, "workers": 4}, indent=2))
    job.refresh_from_db()
    assert job.spec["workers"] == 4

    bad = '{\n  "name": "browser-job-page",\n  "workers": 4\n  "operations": []\n}'
    page.get_by_label("The job as JSON").fill(bad)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#spec-errors")).to_contain_text("JSON syntax error at line 4, column 3")
    expect(page.get_by_label("The job as JSON")).to_have_value(bad)
    assert_accessible(page)

    page.get_by_label("The job as JSON").fill(json.dumps({**SPEC, "workers": 0}, indent=2))
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#spec-errors li")).to_contain_text("workers")
    screenshot(page, "console-job-invalid")
    job.refresh_from_db()
    assert job.spec["workers"] == 4


def test_an_operator_closes_and_reopens_a_job(page):
    make_user("operator", "manage")
    job = Job.objects.create(name=SPEC["name"], spec=SPEC)
    log_in(page, "operator")
    page.goto(f"/console/jobs/{job.job_id}/")

    page.get_by_role("button", name="Close…", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=f"Close job {job.name}?")).to_be_visible()
    expect(dialog).to_contain_text("A worker node runs the close as a task")
    assert_accessible(page)
    dialog.get_by_role("button", name="Keep it open").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#job-state")).to_have_text("opened")
    page.get_by_role("button", name="Close…", exact=True).click()
    dialog.get_by_role("button", name="Close", exact=True).click()
    # No worker node runs here: the close stays under way, shown with its task.
    expect(page.get_by_role("status")).to_contain_text("is closing")
    expect(page.locator("#job-state")).to_have_text("closing")
    expect(page.locator("#job-live a[href^='/console/tasks/']")).to_be_visible()
    expect(page.get_by_role("button", name="Open")).to_have_count(0)

    page.get_by_role("button", name="Force close…").click()
    expect(dialog.get_by_role("heading", name=f"Force close job {job.name}?")).to_be_visible()
    expect(dialog).to_contain_text("without a snapshot")
    dialog.get_by_role("button", name="Force close", exact=True).click()
    expect(page.locator("#job-state")).to_have_text("closed")
    expect(page.get_by_role("button", name="Start")).to_have_count(0)
    screenshot(page, "console-job-closed")

    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("status")).to_contain_text("is open")
    expect(page.locator("#job-state")).to_have_text("opened")
    expect(page.get_by_role("button", name="Start")).to_be_visible()
    assert_accessible(page)
