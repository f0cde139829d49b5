"""The jobs list in a browser: filter, choose all jobs matching, stop them after a confirmation that says
what will happen, and read what happened to each."""

from playwright.sync_api import expect

from jobs.models import Execution
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_console import log_in
from tests.console.conftest import make_user
from tests.test_admin import make_execution, make_job


def test_an_operator_stops_every_running_ingest_job_at_once(page):
    make_user("operator", "manage")
    running = [make_execution(job=make_job(name=f"ingest-{n}"), status="running") for n in range(3)]
    make_execution(job=make_job(name="ingest-done"), status="completed")
    make_execution(job=make_job(name="reindex"), status="running")

    log_in(page, "operator")
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    page.get_by_label("Name contains").fill("ingest")
    page.get_by_label("Latest execution").select_option("running")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("3 jobs match the filter")).to_be_visible()
    expect(page.get_by_role("link", name="reindex")).to_have_count(0)
    expect(page.get_by_label("Select job ingest-0", exact=False)).to_be_visible()
    page.get_by_label("Select all 3 jobs matching this filter").check()
    assert_accessible(page)
    screenshot(page, "console-jobs-bulk-list")

    page.get_by_role("button", name="Stop…").click()
    expect(page.get_by_role("heading", name="Stop 3 jobs matching name~'ingest', status=running?")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-jobs-bulk-confirm")
    page.get_by_role("button", name="Stop 3 jobs").click()

    expect(page.get_by_role("status")).to_contain_text("3 stopped.")
    expect(page.get_by_role("row").filter(has_text="ingest-1")).to_contain_text("ok")
    assert set(Execution.objects.filter(pk__in=[e.pk for e in running]).values_list("status", flat=True)) == {"stopped"}
    assert Execution.objects.get(job__name="reindex").status == "running"
    assert_accessible(page)
    screenshot(page, "console-jobs-bulk-report")


def test_the_jobs_list_reads_on_a_phone_and_a_rollup_manager_sees_why_delete_is_disabled(page):
    make_user("roller", "manage_rollup")
    for n in range(4):
        make_execution(job=make_job(name=f"phone-job-{n}"), status="running")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, "roller")
    expect(page.get_by_role("link", name="phone-job-0")).to_be_visible()
    expect(page.get_by_role("button", name="Stop…")).to_be_enabled()
    expect(page.get_by_role("button", name="Delete…")).to_be_disabled()
    expect(page.get_by_text("delete needs manage")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-jobs-phone")
