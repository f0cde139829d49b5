"""The console's controls in a real browser, on executions a real worker node runs: a job submitted from
the New job editor watched to completion on its page, a persistent job paused, resumed and stopped, and a
failed execution recovered. Every change is seen on the page as it happens, without reloading it."""

import json
import re

from playwright.sync_api import expect

from jobs.lifecycle import TERMINAL
from jobs.models import Execution, Job
from tests.api.helpers import admin, api, web_node  # noqa: F401  (fixtures the engine's client needs)
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_console import log_in
from tests.console.conftest import make_user
from tests.engine.conftest import (  # noqa: F401  (engine and worker_node are fixtures)
    engine,
    generator_job,
    start_job,
    wait_for_status,
    wait_until,
    worker_node,
)

LIVE = 30_000  # ms: what a poll every 2 s on a loaded machine may take to show


def progress_value(page) -> int:
    value = page.locator("#job-progress").get_attribute("value", timeout=LIVE)
    return int(value)


def test_a_job_submitted_from_the_editor_runs_to_completion_on_its_page(page, engine):
    make_user("operator", "manage")
    # 50 slices of 100 records, each held 300 ms by one of 2 workers: about 8 s of work.
    spec = generator_job(size=5_000, slice_size=100, delay_ms=300, workers=2, name="from the editor")
    log_in(page, "operator")

    page.get_by_role("link", name="New job").click()
    expect(page.get_by_role("heading", name="New job")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-job-new")
    page.get_by_label("The job as JSON").fill(json.dumps(spec, indent=2))
    page.get_by_role("button", name="Save and start").click()

    job = Job.objects.get(name="from the editor")
    expect(page).to_have_url(f"/console/jobs/{job.job_id}/")
    expect(page.get_by_role("status").first).to_contain_text("Created job from the editor and started execution")
    page.evaluate("window.notReloaded = true")
    expect(page.locator("#job-latest-status")).to_have_text("running", timeout=60_000)
    first = progress_value(page)
    wait_until(lambda: progress_value(page) > first, timeout=30, message="the progress bar did not move")
    assert page.locator("#job-latest-status").inner_text() == "running"  # it moved while running
    assert progress_value(page) < int(page.locator("#job-progress").get_attribute("max"))
    screenshot(page, "console-job-running")

    expect(page.locator("#job-latest-status")).to_have_text("completed", timeout=60_000)
    expect(page.locator("#job-progress")).to_have_attribute("value", "50")
    latest = job.executions.get()
    expect(page.locator(f"#ex-row-{latest.ex_id}")).to_contain_text("completed")  # the table followed
    expect(page.locator("#job-live")).not_to_have_attribute("hx-trigger", re.compile("."))
    expect(page.get_by_role("button", name="Recover")).to_be_visible()  # the buttons followed the status
    assert page.evaluate("window.notReloaded") is True
    assert_accessible(page)


def test_an_operator_pauses_resumes_and_stops_a_persistent_job_on_its_page(page, engine):
    make_user("operator", "manage")
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=50, lifecycle="persistent"))
    job_id = Execution.objects.get(pk=ex_id).job_id
    log_in(page, "operator")
    page.goto(f"/console/jobs/{job_id}/")
    status = page.locator("#job-latest-status")
    expect(status).to_have_text("running", timeout=60_000)

    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Execution {ex_id} is paused.")
    expect(status).to_have_text("paused")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)

    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Execution {ex_id} is running again.")
    expect(status).to_have_text("running")

    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Stop…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Execution {ex_id} (running) of job engine test")
    expect(dialog).to_contain_text("Its workers finish the slices they hold, then it ends stopped.")
    assert_accessible(page)
    screenshot(page, "console-job-stop-dialog")
    dialog.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text(f"Execution {ex_id} is")
    page.evaluate("window.notReloaded = true")  # the stop's own redirect loaded the page; from here it is live
    expect(status).to_have_text("stopped", timeout=LIVE)  # stopping → stopped once the workers drained
    expect(page.get_by_role("button", name="Start")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    assert Execution.objects.get(pk=ex_id).status == "stopped"
    assert_accessible(page)
    screenshot(page, "console-job-stopped")


def test_an_operator_recovers_a_failed_execution_choosing_the_cleanup_type(page, engine, tmp_path):
    make_user("operator", "manage")
    # test-reader with `passthrough_slice` raises a TypeError for a request that is not a list: the second
    # slice fails on every attempt, and the execution ends failed (as tests/engine/test_lifecycle.py).
    requests = tmp_path / "requests.json"
    requests.write_text(json.dumps([[[{"n": 1}]], {"not": "a list"}, [[{"n": 3}]]]))
    spec = {
        "name": "failing job",
        "lifecycle": "once",
        "workers": 1,
        "max_retries": 0,
        "operations": [
            {"_op": "test-reader", "passthrough_slice": True, "slicer_data_file_path": str(requests)},
            {"_op": "noop"},
        ],
    }
    failed = start_job(engine, spec)
    wait_for_status(engine, failed, TERMINAL, timeout=90)
    assert Execution.objects.get(pk=failed).status == "failed"
    log_in(page, "operator")
    page.goto(f"/console/ex/{failed}/")
    expect(page.locator("#ex-status")).to_contain_text("failed")
    expect(page.locator("#errors-live")).to_contain_text("TypeError")

    page.get_by_label("re-run").select_option("pending")
    page.get_by_role("button", name="Recover").click()

    recovery = Execution.objects.exclude(pk=failed).get()
    expect(page).to_have_url(f"/console/ex/{recovery.ex_id}/")
    expect(page.get_by_role("status").first).to_contain_text(
        f"Recovering execution {failed} in execution {recovery.ex_id}"
    )
    expect(page.locator("#ex-status")).to_contain_text(f"recovers {failed} (pending slices)")
    page.evaluate("window.notReloaded = true")
    expect(page.locator("#ex-status")).to_contain_text("completed", timeout=60_000)
    expect(page.locator("#ex-history")).to_contain_text("completed")
    assert page.evaluate("window.notReloaded") is True
    assert (recovery.recovered_execution_id, recovery.recovered_slice_type) == (failed, "pending")
    assert_accessible(page)
    screenshot(page, "console-execution-recovered")
