"""The overview and cluster pages in a real Chromium: their live parts change without the page reloading,
and axe-core finds nothing serious. A living execution is set up as rows (no engine runs here) and its
`_slicer_stats` moved on by the test, as its controller would."""

from datetime import timedelta

from playwright.sync_api import expect

from jobs.models import Execution
from tests.api.test_cluster import loop, running, worker_node
from tests.browser.conftest import assert_accessible, readme_picture, screenshot
from tests.browser.test_console import log_in
from tests.console.conftest import make_user
from tests.console.test_overview import execution_task, failed
from tests.test_admin import make_execution, make_job


def a_busy_cluster():
    node = worker_node(total=4)
    worker_node("GoneNode00000000000000", total=2, silent_for=5400)
    execution = running("nightly-reindex", stats={"processed": 40, "failed": 1, "queued": 12})
    execution_task(execution, total=200)
    loop(node, execution)
    loop(node, execution, 0)
    loop(node, execution, 1)
    stream = running("clickstream", stats={"processed": 1250, "queued": 30})
    execution_task(stream, total=None)
    loop(node, stream)
    make_execution(job=make_job(name="backfill"), status="scheduling", scheduling_reason="waiting for 2 free slots")
    failed("daily-export", ended_ago=timedelta(hours=3), reason="slice failed 3 times: connection refused")
    return execution


def test_the_overview_refreshes_its_living_executions_without_reloading(page):
    make_user("operator", "manage")
    execution = a_busy_cluster()
    log_in(page, "operator")
    page.goto("/console/")
    progress = page.locator(f"#living-{execution.ex_id}-text")
    expect(progress).to_have_text("40 of 200 slices (20%)")
    page.evaluate("window.sameDocument = true")

    Execution.objects.filter(pk=execution.pk).update(slicer_stats={"processed": 150, "failed": 1, "queued": 12})

    expect(progress).to_have_text("150 of 200 slices (75%)", timeout=10_000)
    expect(page.get_by_role("progressbar", name="nightly-reindex 150 of 200 slices (75%)")).to_have_attribute(
        "value", "150"
    )
    expect(page.locator("#overview-living")).to_contain_text("slices/s now")  # measured between two polls
    assert page.evaluate("window.sameDocument") is True  # swapped in place, never reloaded
    assert_accessible(page)
    screenshot(page, "console-overview")
    readme_picture(page, "console-overview")


def test_the_overview_polls_nothing_while_the_tab_is_hidden(page):
    make_user("watcher", "monitor")
    execution = a_busy_cluster()
    log_in(page, "watcher")
    page.goto("/console/")
    polls = []
    page.on("request", lambda request: polls.append(request.url) if "part=" in request.url else None)
    page.evaluate(
        "Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    Execution.objects.filter(pk=execution.pk).update(slicer_stats={"processed": 190})

    page.wait_for_timeout(5_500)

    assert polls == []
    expect(page.locator(f"#living-{execution.ex_id}-text")).to_have_text("40 of 200 slices (20%)")


def test_the_cluster_page_is_accessible_and_readable_on_a_phone(page):
    make_user("operator", "manage")
    a_busy_cluster()
    log_in(page, "operator")
    page.goto("/console/cluster/")

    expect(page.get_by_role("heading", name="Cluster")).to_be_visible()
    expect(page.get_by_role("link", name="Forget…")).to_have_count(1)
    assert_accessible(page)
    screenshot(page, "console-cluster")
    page.get_by_role("link", name="Forget…").click()
    expect(page.get_by_role("heading", name="Forget node gonenode00000000000000?")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Forget node gonenode00000000000000").click()
    expect(page.get_by_role("status")).to_contain_text("is forgotten")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/console/")
    screenshot(page, "console-overview-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # the tables scroll, not the page
