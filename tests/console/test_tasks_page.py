"""The tasks page: running tasks by node or as a tree, cancel buttons for whoever may cancel, the recent
finished tasks with their outcome, paged, filtered, in a number of queries that does not grow."""

import math
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobsite.access.models import AuditEntry
from tasks import registry
from tasks.models import Node, Task
from tasks.views import FINISHED_PAGE_SIZE
from tests.console.conftest import make_user

# Shaped like an execution's tasks, but actions the jobs app has no cancel handler for: these rows stand alone.
EXECUTION = "cluster:admin/test/run"
CONTROLLER = "cluster:admin/test/run/controller"
WORKER = "cluster:admin/test/run/worker[w]"
CLOSE = "cluster:admin/test/close"


@pytest.fixture
def nodes(db):
    return [
        Node.objects.create(node_id=f"node{n}", name=f"worker-{n}", hostname=f"host-{n}", version="0.1.0")
        for n in (1, 2)
    ]


@pytest.fixture
def operator(client, db):
    client.force_login(make_user("operator", "manage"))
    return client


@pytest.fixture
def watcher(client, db):
    client.force_login(make_user("watcher", "monitor"))
    return client


def execution_family(node_id="node1", workers=2) -> tuple[Task, Task, list[Task]]:
    execution = registry.begin(action=EXECUTION, description="reindex ex-1", cancellable=True, node_id=node_id)
    controller = registry.begin(
        action=CONTROLLER, description="reindex controller", cancellable=True, parent=execution, node_id=node_id
    )
    loops = [
        registry.begin(
            action=WORKER,
            description=f"reindex worker [{n}]",
            cancellable=True,
            parent=execution,
            number=n,
            node_id=f"node{n}",
        )
        for n in range(1, workers + 1)
    ]
    return execution, controller, loops


def running_part(client, **params) -> str:
    response = client.get("/console/tasks/", params, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def test_running_tasks_are_grouped_by_node(operator, nodes):
    execution, controller, (first, second) = execution_family()

    page = operator.get("/console/tasks/").content.decode()

    assert "Node worker-1 (node1)" in page and "Node worker-2 (node2)" in page
    one, two = page.index("Node worker-1"), page.index("Node worker-2")
    assert one < page.index(f">{execution.task_id}<") < page.index(f">{first.task_id}<") < two
    assert two < page.index(f">{second.task_id}<")
    assert f"node1:{execution.pk}</code>" in page  # the children name their parent


def test_running_tasks_by_parent_are_a_tree(operator, nodes):
    execution, controller, (first, second) = execution_family()
    registry.begin(action=CLOSE, description="close a job", node_id="node2")

    page = running_part(operator, group="parent")

    assert "Node worker-1 (node1)" not in page
    positions = [page.index(f">{task.task_id}<") for task in (execution, controller, first, second)]
    assert positions == sorted(positions)  # the execution, its controller, then its workers by number
    assert page.count('style="--depth: 1"') == 3 and page.count('style="--depth: 0"') == 2


def test_a_running_task_shows_how_long_it_has_run(operator, nodes):
    task = registry.begin(action=CLOSE, description="close a job", node_id="node1")
    Task.objects.filter(pk=task.pk).update(started_at=timezone.now() - timedelta(minutes=3, seconds=12))

    page = running_part(operator)

    assert "3 m 12 s</time>" in page or "3 m 13 s</time>" in page
    assert 'datetime="PT19' in page


def test_the_running_part_polls_itself_while_the_tab_is_visible(operator, nodes):
    page = operator.get("/console/tasks/", {"group": "parent"}).content.decode()

    assert 'hx-get="/console/tasks/?group=parent"' in page
    assert "every 2s [document.visibilityState === 'visible']" in page
    assert "hx-trigger" not in running_part(operator)  # the poll's answer is the inside only


def test_finished_tasks_show_their_result_or_error(operator, nodes):
    done = registry.begin(action=CLOSE, description="closed fine", node_id="node1")
    registry.finish(done, result={"closed": "job-a"})
    failed = registry.begin(action=CLOSE, description="closed badly", node_id="node1")
    registry.fail(failed, {"type": "status_exception", "reason": "job job-b is running"})

    page = operator.get("/console/tasks/").content.decode()

    assert "{&quot;closed&quot;: &quot;job-a&quot;}" in page
    assert "status_exception: job job-b is running" in page


def test_finished_tasks_are_paged_newest_first(operator, nodes):
    now = timezone.now()
    Task.objects.bulk_create(
        Task(
            action=CLOSE,
            description=f"close {n}",
            node_id="node1",
            started_at=now,
            finished_at=now + timedelta(seconds=n),
        )
        for n in range(60)
    )

    first = operator.get("/console/tasks/").content.decode()
    second = operator.get("/console/tasks/", {"page": 2}).content.decode()

    size = FINISHED_PAGE_SIZE
    assert "close 59<" in first and f"close {60 - size}<" in first and f"close {59 - size}<" not in first
    assert f"close {59 - size}<" in second and f"page 2 of {math.ceil(60 / size)}" in second


def test_the_action_and_node_filters_apply_to_both_lists(operator, nodes):
    execution_family()
    registry.begin(action=CLOSE, description="close running", node_id="node2")
    registry.record(action=CLOSE, description="close finished", result={})

    closes = operator.get("/console/tasks/", {"action": "cluster:admin/test/clo*"}).content.decode()
    on_two = running_part(operator, node="node2")

    assert "close running" in closes and "close finished" in closes and "reindex" not in closes
    assert "close running" in on_two and "reindex worker [2]" in on_two and "reindex ex-1" not in on_two


def test_cancel_flags_the_task_and_its_children_and_is_audited(operator, nodes):
    execution, controller, loops = execution_family()

    response = operator.post(f"/console/tasks/{execution.task_id}/cancel", {"back": "group=parent"})

    assert response.status_code == 302 and response["Location"] == "/console/tasks/?group=parent"
    assert all(
        task.cancelled for task in Task.objects.filter(pk__in=[execution.pk, controller.pk, *(t.pk for t in loops)])
    )
    page = operator.get("/console/tasks/").content.decode()
    assert f"Task {execution.task_id} ({EXECUTION}) is cancelled" in page
    assert "cancelled in the console by operator" in page
    entry = AuditEntry.objects.get(action="cluster:admin/tasks/cancel")
    assert (entry.user, entry.target, entry.outcome) == ("operator", execution.task_id, "success")


def test_an_htmx_cancel_answers_the_running_part_with_the_outcome(operator, nodes):
    task = registry.begin(action=WORKER, description="a loop", cancellable=True, node_id="node1")

    page = operator.post(f"/console/tasks/{task.task_id}/cancel", headers={"HX-Request": "true"}).content.decode()

    assert 'id="task-messages" hx-swap-oob="innerHTML"' in page and "is cancelled" in page
    assert "badge-cancelled" in page and "Cancel…" not in page


def test_a_task_that_cannot_be_cancelled_is_refused_with_why(operator, nodes):
    task = registry.begin(action=CLOSE, description="close a job", node_id="node1")

    page = running_part(operator)
    operator.post(f"/console/tasks/{task.task_id}/cancel")

    assert "not cancellable" in page and f'aria-label="Cancel task {task.task_id}"' not in page
    assert not Task.objects.get(pk=task.pk).cancelled
    assert (
        f"task [{task.task_id}] doesn&#x27;t support cancellation" in operator.get("/console/tasks/").content.decode()
    )
    assert AuditEntry.objects.get(action="cluster:admin/tasks/cancel").status == 409


def test_cancelling_a_finished_or_unknown_task_says_so(operator, nodes):
    done = registry.record(action=WORKER, description="done", result={})
    done.cancellable = True
    done.save()

    operator.post(f"/console/tasks/{done.task_id}/cancel")
    operator.post("/console/tasks/node1:999999/cancel")

    page = operator.get("/console/tasks/").content.decode()
    assert f"task [{done.task_id}] already finished" in page and "task [node1:999999] is not found" in page


def test_the_confirmation_page_says_what_cancelling_does(operator, nodes):
    task = registry.begin(action=WORKER, description="a loop", cancellable=True, node_id="node1")

    page = operator.get(f"/console/tasks/{task.task_id}/cancel", {"back": "node=node1"}).content.decode()

    assert f"Cancel task <code>{task.task_id}</code>?" in page and "cannot be undone" in page
    assert 'name="back" value="node=node1"' in page and not Task.objects.get(pk=task.pk).cancelled


def test_a_monitor_sees_no_cancel_button_and_may_not_cancel(watcher, nodes):
    task = registry.begin(action=WORKER, description="a loop", cancellable=True, node_id="node1")

    page = watcher.get("/console/tasks/").content.decode()
    response = watcher.post(f"/console/tasks/{task.task_id}/cancel")

    assert task.task_id in page and "Cancel…" not in page and "needs the <code>manage</code> privilege" in page
    assert "/admin/" not in page
    assert response.status_code == 403 and not Task.objects.get(pk=task.pk).cancelled


def test_an_operator_sees_the_json_and_admin_links(operator, nodes):
    task = registry.begin(action=CLOSE, description="close a job", node_id="node1")

    page = operator.get("/console/tasks/").content.decode()

    assert f'href="/_tasks/{task.task_id}"' in page and f'href="/admin/tasks/task/{task.pk}/change/"' in page
    assert 'href="/_tasks?detailed=true&amp;group_by=nodes"' in page


def test_a_visitor_is_sent_to_log_in(client, db):
    response = client.get("/console/tasks/")

    assert response.status_code == 302 and response["Location"].startswith("/console/login/?next=/console/tasks/")


def queries_for(client, path, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, params).status_code == 200
    return len(captured)


def grow(families: int) -> None:
    for _ in range(families):
        execution, _, loops = execution_family()
        for loop in loops:
            registry.finish(loop, result={"slices": 3})
        registry.record(action=CLOSE, description="close", result={}, parent=execution)


@pytest.mark.parametrize("params", [{}, {"group": "parent"}, {"action": "cluster:*", "node": "node1"}])
def test_the_page_costs_the_same_queries_for_5_or_50_task_families(operator, nodes, params):
    grow(5)
    few = queries_for(operator, "/console/tasks/", **params)
    grow(45)
    many = queries_for(operator, "/console/tasks/", **params)

    assert few == many <= 10, (few, many)  # 6 of them load and refresh the session and the user
    assert queries_for(operator, "/console/tasks/", **params, page=2) == many


def test_a_malformed_task_id_names_no_task(operator, nodes):
    assert operator.get("/console/tasks/no-such-id/cancel").status_code == 404
    operator.post("/console/tasks/node1:x/cancel")

    assert "task [node1:x] is not found" in operator.get("/console/tasks/").content.decode()
