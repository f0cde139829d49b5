"""The console in a real browser: log in, press the buttons, see what happened, log out."""

import re

from playwright.sync_api import expect

from jobs.models import Execution, Job
from tests.browser.conftest import screenshot
from tests.console.conftest import PASSWORD, make_user

SPEC = {"name": "browser-job", "workers": 1, "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}


def log_in(page, username):
    page.goto("/console/jobs/")
    expect(page).to_have_url(re.compile(r"/console/login/\?next="))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_an_operator_logs_in_starts_and_stops_a_job_and_logs_out(page):
    make_user("operator", "manage")
    job = Job.objects.create(name=SPEC["name"], spec=SPEC)

    log_in(page, "operator")
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    page.get_by_role("link", name="browser-job").click()
    page.get_by_role("button", name="Start").click()

    execution = Execution.objects.get(job=job)
    expect(page.get_by_role("status")).to_contain_text(f"Started execution {execution.ex_id}")
    screenshot(page, "console-job-started")
    page.get_by_role("button", name="Stop…").click()  # no worker node runs it here: it stops at once
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=f"Stop execution {execution.ex_id}?")).to_be_visible()
    expect(dialog).to_contain_text(f"of job {job.name}")
    dialog.get_by_role("button", name="Stop", exact=True).click()  # the confirmation
    expect(page.get_by_role("status")).to_contain_text("is stopped")
    expect(page.get_by_role("button", name="Recover")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/console/login/$"))
    page.goto(f"/console/jobs/{job.job_id}/")
    expect(page).to_have_url(re.compile(r"/console/login/\?next="))


def test_a_monitor_sees_the_job_but_no_control_buttons(page):
    make_user("watcher", "monitor")
    job = Job.objects.create(name=SPEC["name"], spec=SPEC)

    log_in(page, "watcher")
    page.goto(f"/console/jobs/{job.job_id}/")

    expect(page.get_by_role("heading", name="browser-job")).to_be_visible()
    expect(page.get_by_role("button", name="Start")).to_have_count(0)
    expect(page.get_by_text("You may look but not control this job")).to_be_visible()
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    screenshot(page, "console-job-monitor")


def test_a_user_creates_copies_and_revokes_a_token(page):
    make_user("scripter", "monitor")

    log_in(page, "scripter")
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("nightly export")
    page.get_by_role("button", name="Create").click()

    key = page.locator("#new-token-key").inner_text()
    assert len(key) > 30
    screenshot(page, "console-token-created")
    page.get_by_role("link", name="API tokens").click()
    expect(page.locator("#new-token-key")).to_have_count(0)  # shown once only
    page.get_by_role("button", name="Revoke nightly export").click()
    expect(page.get_by_role("status")).to_contain_text("is revoked")


def test_the_audit_log_shows_what_the_console_did(page):
    make_user("operator", "manage")
    job = Job.objects.create(name=SPEC["name"], spec=SPEC)
    log_in(page, "operator")
    page.goto(f"/console/jobs/{job.job_id}/")
    page.get_by_role("button", name="Start").click()

    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("cluster:admin/jobs/start")
    page.get_by_role("button", name="Filter").click()

    row = page.locator("tbody tr").first
    expect(row).to_contain_text("operator")
    expect(row).to_contain_text(job.job_id)
    expect(row).to_contain_text("success")
    screenshot(page, "console-audit")
