"""The tasks page in a real browser: running times tick, a cancellable task is cancelled through the
confirmation dialog and shows cancelled in place (no reload), and the page is accessible."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tasks import registry
from tasks.models import Node, Task
from tests.browser.conftest import assert_accessible, readme_picture, screenshot
from tests.browser.test_console import log_in
from tests.console.conftest import make_user

# No app registers a cancel handler for these: cancelling flags the rows, which stay running.
RUN, LOOP = "cluster:admin/test/run", "cluster:admin/test/run/worker[w]"


def some_tasks() -> tuple[Task, list[Task]]:
    Node.objects.create(node_id="Xk2f9QbR1a", name="worker-1", hostname="host-1", version="0.1.0", roles=["worker"])
    Node.objects.create(node_id="Pq7s0TnV3c", name="worker-2", hostname="host-2", version="0.1.0", roles=["worker"])
    run = registry.begin(
        action=RUN,
        description="reindex logs-2024 (ex 5c1f…)",
        cancellable=True,
        node_id="Xk2f9QbR1a",
        status={"phase": "running", "processed": 1840},
    )
    loops = [
        registry.begin(
            action=LOOP,
            description=f"reindex logs-2024 worker [{n}]",
            cancellable=True,
            parent=run,
            number=n,
            node_id=node,
        )
        for n, node in ((1, "Xk2f9QbR1a"), (2, "Pq7s0TnV3c"))
    ]
    registry.begin(action="cluster:admin/jobs/close", description="close job nightly-export", node_id="Pq7s0TnV3c")
    Task.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(minutes=3, seconds=12))
    done = registry.begin(action="cluster:admin/assets/upload", description="upload asset standard 1.0.2")
    registry.finish(done, result={"asset_id": "9f3ab27c0e1d"})
    failed = registry.begin(action="cluster:admin/jobs/stop", description="stop ex 81be…")
    registry.fail(failed, {"type": "status_exception", "reason": "execution 81be… is already stopped"})
    return run, loops


def test_an_operator_cancels_a_running_task_from_the_page(page):
    make_user("operator", "manage")
    run, loops = some_tasks()
    log_in(page, "operator")
    page.goto("/console/tasks/?group=parent")
    page.evaluate("window.notReloaded = true")

    row = page.locator("tr", has=page.get_by_role("link", name=run.task_id))
    expect(row.locator("time")).to_have_text(re.compile(r"^3 m 1\d s$"))
    first = row.locator("time").inner_text()
    expect(row.locator("time")).not_to_have_text(first)  # it ticks
    assert_accessible(page)
    readme_picture(page, "console-tasks")
    screenshot(page, "console-tasks")

    page.get_by_role("button", name=f"Cancel task {run.task_id}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Cancel task {run.task_id}?")
    expect(dialog).to_contain_text("cannot be undone")
    assert_accessible(page)
    screenshot(page, "console-tasks-confirm")
    dialog.get_by_role("button", name="Cancel the task").click()

    expect(page.locator("#task-messages")).to_contain_text(f"Task {run.task_id} ({RUN}) is cancelled")
    expect(row.locator(".badge-cancelled")).to_have_text("cancelled")
    for loop in loops:  # its children too
        expect(page.locator("tr", has=page.get_by_role("link", name=loop.task_id))).to_contain_text("cancelled")
    expect(page.get_by_role("button", name=f"Cancel task {run.task_id}")).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    assert Task.objects.get(pk=run.pk).cancelled
    expect(page.get_by_role("status").first).to_contain_text("3 cancelled and ending")
    screenshot(page, "console-tasks-cancelled")


@pytest.fixture
def page_without_scripts(chromium, server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    context = chromium.new_context(base_url=server, java_script_enabled=False, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_without_scripts_the_cancel_button_opens_a_confirmation_page(page_without_scripts):
    page = page_without_scripts
    make_user("operator", "manage")
    run, _ = some_tasks()
    log_in(page, "operator")
    page.goto("/console/tasks/?group=parent")
    expect(page.locator("tr", has=page.get_by_role("link", name=run.task_id))).to_contain_text("3 m 1")

    page.get_by_role("button", name=f"Cancel task {run.task_id}").click()
    expect(page.get_by_role("heading", name=f"Cancel task {run.task_id}?")).to_be_visible()
    page.get_by_role("button", name="Cancel the task").click()

    expect(page).to_have_url(re.compile(r"/console/tasks/\?group=parent$"))
    expect(page.locator(".messages")).to_contain_text(f"Task {run.task_id} ({RUN}) is cancelled")
    assert Task.objects.get(pk=run.pk).cancelled


def test_the_tasks_page_reads_on_a_phone(page):
    make_user("watcher", "monitor")
    some_tasks()
    log_in(page, "watcher")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/console/tasks/")

    expect(page.get_by_role("heading", name="Running")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Cancel task"))).to_have_count(0)
    screenshot(page, "console-tasks-phone")
    assert_accessible(page)
