"""The execution page in a real browser, of an execution that a real worker node runs: the progress moves
without the page being loaded again, and the polling stops once the execution has completed."""

import re

from playwright.sync_api import expect

from jobs.models import Execution
from tests.api.helpers import admin, api, web_node  # noqa: F401  (fixtures the engine's client needs)
from tests.browser.conftest import assert_accessible, readme_picture, screenshot
from tests.browser.test_console import log_in
from tests.console.conftest import make_user
from tests.engine.conftest import engine, generator_job, start_job, wait_until, worker_node  # noqa: F401


def processed(page) -> int:
    return int(page.locator("#ex-processed").inner_text().replace(",", ""))


def test_the_execution_page_follows_a_running_execution_live_until_it_completes(page, engine):
    make_user("operator", "manage")
    # 60 slices of 100 records, each held 400 ms by one of 2 workers: about 12 s of work.
    ex_id = start_job(engine, generator_job(size=6_000, slice_size=100, delay_ms=400, workers=2))
    log_in(page, "operator")
    wait_until(lambda: Execution.objects.filter(pk=ex_id, status="running").exists(), timeout=60)

    page.goto(f"/console/ex/{ex_id}/")
    page.evaluate("window.notReloaded = true")
    first = processed(page)
    expect(page.locator("#ex-status")).to_contain_text("running")

    wait_until(lambda: processed(page) > first + 10, timeout=60, message="the progress did not move")
    expect(page.locator("#ex-progress")).to_be_visible()  # the total is known: everything was sliced
    expect(page.locator("#ex-live tbody tr", has_text="worker")).not_to_have_count(0)
    expect(page.locator("#ex-live svg circle")).not_to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    assert_accessible(page)
    page.wait_for_timeout(2_500)  # one more poll: a few more points on the chart
    readme_picture(page, "console-execution")

    expect(page.locator("#ex-status")).to_contain_text("completed", timeout=60_000)
    expect(page.locator("#ex-processed")).to_have_text("60")
    expect(page.locator("#ex-live")).not_to_have_attribute("hx-trigger", re.compile("."))
    expect(page.get_by_role("button", name="Recover")).to_be_visible()  # the buttons follow the status
    expect(page.locator("#ex-history")).to_contain_text("completed")
    assert page.evaluate("window.notReloaded") is True
    polls = []
    page.on("request", lambda request: polls.append(request.url) if f"/ex/{ex_id}/" in request.url else None)
    page.wait_for_timeout(4_500)
    assert polls == [], "the page still polls a completed execution"
    assert_accessible(page)
    screenshot(page, "console-execution-completed")


def test_a_monitor_sees_the_execution_page_without_controls(page, engine):
    make_user("watcher", "monitor")
    ex_id = start_job(engine, generator_job(size=200, slice_size=100, workers=1))
    log_in(page, "watcher")

    page.goto(f"/console/ex/{ex_id}/")

    expect(page.get_by_role("heading", name="Controls")).to_be_visible()
    expect(page.locator("#ex-controls button")).to_have_count(0)
    assert_accessible(page)
