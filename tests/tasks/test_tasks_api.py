"""The task management API (spec/elasticsearch.md §2, test vectors 1-18 of §5), over HTTP."""

import threading
import time

import httpx
from django.contrib.auth.models import Group

from jobsite import actions
from tasks import registry
from tasks.models import Task
from tasks.nodes import this_node_id
from tests.conftest import hashed
from tests.tasks.conftest import ACTION, work


def finish_later(task, seconds: float, **outcome):
    """Finish `task` from another thread after a while, as its worker would."""

    def run():
        time.sleep(seconds)
        registry.finish(task, **outcome)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def reason(response) -> str:
    return response.json()["error"]["reason"]


# --- list ----------------------------------------------------------------------------------------------------


def test_list_groups_running_tasks_by_node_with_headers_always(api, web_node):
    task = work()

    body = api.get("/_tasks").json()

    node = body["nodes"][this_node_id()]
    assert node["name"] == web_node.name and node["roles"] == ["web"]
    info = node["tasks"][task.task_id]
    assert info["headers"] == {} and info["id"] == task.pk and info["node"] == this_node_id()
    assert "description" not in info and "cancelled" not in info


def test_taskinfo_fields_come_in_elasticsearchs_order(api):
    parent = work(cancellable=True)
    child = work(parent=parent, status={"done": 1})

    info = api.get("/_tasks", params={"detailed": "true", "human": "true"}).json()["nodes"][this_node_id()]["tasks"]

    assert list(info[child.task_id]) == [
        "node", "id", "type", "action", "status", "description", "start_time", "start_time_in_millis",
        "running_time", "running_time_in_nanos", "cancellable", "parent_task_id", "headers",
    ]  # fmt: skip
    assert info[parent.task_id]["cancelled"] is False


def test_human_adds_iso_start_time_and_running_time_twins(api):
    task = work()

    info = api.get("/_tasks", params={"human": ""}).json()["nodes"][this_node_id()]["tasks"][task.task_id]

    assert info["start_time"].endswith("Z") and info["start_time"][:4] == str(task.started_at.year)
    assert info["running_time"][-1] in "sm" or info["running_time"].endswith(("micros", "nanos"))


def test_finished_tasks_are_not_listed(api):
    registry.finish(work())

    assert api.get("/_tasks").json() == {"nodes": {}}


def test_group_by_parents_nests_children_and_promotes_orphans(api):
    parent = work()
    child = work(parent=parent)
    finished_parent = registry.finish(work())
    orphan = work(parent=finished_parent)

    tasks = api.get("/_tasks", params={"group_by": "parents"}).json()["tasks"]

    assert set(tasks) == {parent.task_id, orphan.task_id}
    assert [kid["id"] for kid in tasks[parent.task_id]["children"]] == [child.pk]
    assert "children" not in tasks[orphan.task_id]


def test_group_by_none_is_a_flat_detailed_list(api):
    parent = work()
    work(parent=parent)

    tasks = api.get("/_tasks?group_by=none&detailed").json()["tasks"]

    assert isinstance(tasks, list) and len(tasks) == 2
    assert all(task["description"] == "test work" and "children" not in task for task in tasks)


def test_an_unknown_group_by_is_refused(api):
    response = api.get("/_tasks", params={"group_by": "foo"})

    assert response.status_code == 400
    assert reason(response) == "[group_by] must be one of [nodes], [parents] or [none] but was [foo]"


def test_actions_filter_takes_case_sensitive_wildcards(api):
    wanted = work(action="cluster:admin/jobs/close")
    work(action="cluster:admin/jobs/STOP")

    tasks = api.get("/_tasks", params={"actions": "*jobs/c*,nothing", "group_by": "none"}).json()["tasks"]

    assert [task["id"] for task in tasks] == [wanted.pk]


def test_parent_task_id_filter_lists_only_the_children(api):
    parent = work()
    child = work(parent=parent)

    tasks = api.get("/_tasks", params={"parent_task_id": parent.task_id, "group_by": "none"}).json()["tasks"]

    assert [task["id"] for task in tasks] == [child.pk]
    assert len(api.get("/_tasks", params={"parent_task_id": "-1", "group_by": "none"}).json()["tasks"]) == 2


def test_nodes_filter_selects_by_id_or_name_and_ignores_unknown_nodes(api, web_node):
    task = work()

    assert task.task_id in api.get("/_tasks", params={"nodes": web_node.name}).json()["nodes"][this_node_id()]["tasks"]
    assert api.get("/_tasks", params={"nodes": "nobody"}).json() == {"nodes": {}}


def test_x_opaque_id_is_kept_in_the_waiting_list_task_and_echoed(api):
    response = api.get("/_tasks", params={"wait_for_completion": "true"}, headers={"X-Opaque-Id": "abc-1"})

    assert response.headers["X-Opaque-Id"] == "abc-1"
    waiter = Task.objects.get(action=actions.TASKS_LIST)
    assert waiter.headers == {"X-Opaque-Id": "abc-1"} and waiter.completed and not waiter.cancellable


def test_list_wait_answers_once_the_tasks_finished(api):
    task = work()
    thread = finish_later(task, 0.3)

    response = api.get("/_tasks", params={"actions": ACTION, "wait_for_completion": "true", "timeout": "10s"})
    thread.join()

    assert response.status_code == 200
    assert task.task_id in response.json()["nodes"][this_node_id()]["tasks"]
    assert Task.objects.get(pk=task.pk).completed


def test_list_wait_that_times_out_is_a_200_with_a_node_failure(api):
    task = work()

    response = api.get("/_tasks", params={"actions": "*work*", "wait_for_completion": "true", "timeout": "100ms"})

    assert response.status_code == 200
    failure = response.json()["node_failures"][0]
    assert failure["type"] == "failed_node_exception" and failure["node_id"] == this_node_id()
    assert failure["caused_by"] == {"type": "timeout_exception", "reason": "timed out after [100ms]"}
    assert response.json()["nodes"] == {}
    assert not Task.objects.get(pk=task.pk).completed
    assert Task.objects.get(action=actions.TASKS_LIST).completed


def test_a_wait_longer_than_an_hour_is_refused(api):
    response = api.get("/_tasks", params={"wait_for_completion": "true", "timeout": "2h"})

    assert response.status_code == 400
    assert "longest wait allowed" in reason(response)


# --- one task --------------------------------------------------------------------------------------------------


def test_a_task_id_without_a_colon_is_malformed(api):
    response = api.get("/_tasks/abc")

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "illegal_argument_exception"
    assert reason(response) == "malformed task id abc"


def test_a_task_id_whose_number_is_not_a_long_has_a_number_format_cause(api):
    response = api.get("/_tasks/n:x")

    assert response.status_code == 400
    assert reason(response) == "malformed task id n:x"
    assert response.json()["error"]["caused_by"] == {
        "type": "number_format_exception",
        "reason": 'For input string: "x"',
    }


def test_unset_task_id_is_a_validation_failure(api):
    response = api.get("/_tasks/unset")

    assert response.status_code == 400
    assert reason(response) == "Validation Failed: 1: task id is required;"


def test_a_task_of_a_node_outside_the_cluster_is_not_found(api):
    response = api.get("/_tasks/otherNode:1")

    assert response.status_code == 404
    assert reason(response) == (
        "task [otherNode:1] belongs to the node [otherNode] which isn't part of the cluster "
        "and there is no record of the task"
    )


def test_a_task_that_never_existed_is_not_found(api):
    response = api.get(f"/_tasks/{this_node_id()}:999999")

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "resource_not_found_exception"
    assert reason(response) == f"task [{this_node_id()}:999999] isn't running and hasn't stored its results"


def test_a_running_task_is_not_completed_and_always_detailed(api):
    task = work(status={"phase": "one"})

    body = api.get(f"/_tasks/{task.task_id}").json()

    assert body["completed"] is False
    assert body["task"]["description"] == "test work" and body["task"]["status"] == {"phase": "one"}
    assert "response" not in body


def test_a_finished_task_answers_its_response(api):
    task = registry.finish(work(), result={"stopped": True})

    body = api.get(f"/_tasks/{task.task_id}").json()

    assert body["completed"] is True and body["response"] == {"stopped": True}


def test_a_failed_task_answers_its_error(api):
    task = registry.fail(work(), {"type": "exception", "reason": "broken"})

    body = api.get(f"/_tasks/{task.task_id}").json()

    assert body["completed"] is True and body["error"] == {"type": "exception", "reason": "broken"}


def test_get_wait_answers_the_result_once_finished(api):
    task = work()
    thread = finish_later(task, 0.3, result={"done": 1})

    body = api.get(f"/_tasks/{task.task_id}", params={"wait_for_completion": "true", "timeout": "10s"}).json()
    thread.join()

    assert body["completed"] is True and body["response"] == {"done": 1}


def test_get_wait_that_times_out_is_a_429_timeout_and_the_task_goes_on(api):
    task = work()

    response = api.get(f"/_tasks/{task.task_id}", params={"wait_for_completion": "true", "timeout": "100ms"})

    assert response.status_code == 429
    assert response.headers["X-Timed-Out"] == "true"
    error = response.json()["error"]
    assert error["type"] == "timeout_exception" and error["timed_out"] is True
    assert error["reason"] == "Timed out waiting for completion of task"
    assert not Task.objects.get(pk=task.pk).completed


# --- cancel ------------------------------------------------------------------------------------------------------


def test_cancel_by_id_flags_the_task_and_its_children(api):
    task = work(cancellable=True)
    child = work(action=ACTION + "/part", parent=task)

    response = api.post(f"/_tasks/{task.task_id}/_cancel")

    assert response.status_code == 200
    info = response.json()["nodes"][this_node_id()]["tasks"][task.task_id]
    assert info["cancellable"] is True and info["cancelled"] is True and "description" not in info
    assert Task.objects.get(pk=child.pk).cancelled


def node_failure_cause(response) -> dict:
    body = response.json()
    assert response.status_code == 200 and body["nodes"] == {}
    failure = body["node_failures"][0]
    assert failure["type"] == "failed_node_exception" and failure["reason"] == f"Failed node [{failure['node_id']}]"
    return failure["caused_by"]


def test_cancelling_a_finished_task_is_a_not_found_node_failure(api):
    task = registry.finish(work(cancellable=True))

    assert node_failure_cause(api.post(f"/_tasks/{task.task_id}/_cancel")) == {
        "type": "resource_not_found_exception",
        "reason": f"task [{task.task_id}] is not found",
    }


def test_cancelling_a_non_cancellable_task_is_a_node_failure(api):
    task = work()

    cause = node_failure_cause(api.post(f"/_tasks/{task.task_id}/_cancel"))

    assert cause == {
        "type": "illegal_argument_exception",
        "reason": f"task [{task.task_id}] doesn't support cancellation",
    }
    assert not Task.objects.get(pk=task.pk).cancelled


def test_cancelling_a_task_the_filters_exclude_is_a_node_failure(api):
    task = work(cancellable=True)

    cause = node_failure_cause(api.post(f"/_tasks/{task.task_id}/_cancel", params={"actions": "other*"}))

    assert cause["reason"] == f"task [{task.task_id}] doesn't support this operation"


def test_cancelling_on_an_unknown_node_is_a_no_such_node_failure(api):
    cause = node_failure_cause(api.post("/_tasks/elsewhere:5/_cancel"))

    assert (cause["type"], cause["reason"]) == ("no_such_node_exception", "No such node [elsewhere]")


def test_cancel_by_filter_cancels_the_cancellable_and_skips_the_rest(api):
    cancellable = work(cancellable=True)
    plain = work()

    tasks = api.post("/_tasks/_cancel", params={"actions": ACTION}).json()["nodes"][this_node_id()]["tasks"]

    assert list(tasks) == [cancellable.task_id]
    assert not Task.objects.get(pk=plain.pk).cancelled


def test_cancel_by_parent_cancels_the_children_not_the_parent(api):
    parent = work(cancellable=True)
    child = work(cancellable=True, parent=parent)

    response = api.post("/_tasks/_cancel", params={"parent_task_id": parent.task_id, "group_by": "none"})

    assert [task["id"] for task in response.json()["tasks"]] == [child.pk]
    assert not Task.objects.get(pk=parent.pk).cancelled


def test_cancel_matching_nothing_is_an_empty_answer(api):
    assert api.post("/_tasks/_cancel", params={"actions": "unknown_action"}).json() == {"nodes": {}}


def test_cancel_by_id_with_nodes_is_a_validation_failure(api):
    response = api.post(f"/_tasks/{this_node_id()}:1/_cancel", params={"nodes": "x"})

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "action_request_validation_exception"
    assert reason(response) == "Validation Failed: 1: task id cannot be used together with node ids;"


def test_cancel_wait_answers_once_the_task_and_its_descendants_finished(api):
    task = work(cancellable=True)
    child = work(parent=task)
    threads = [finish_later(task, 0.2), finish_later(child, 0.5)]

    response = api.post(f"/_tasks/{task.task_id}/_cancel", params={"wait_for_completion": "true"})
    for thread in threads:
        thread.join()

    assert response.status_code == 200
    assert Task.objects.get(pk=child.pk).completed


def test_cancel_needs_the_manage_privilege_and_listing_only_monitor(server, django_user_model):
    user = django_user_model.objects.create(username="watcher", password=hashed("watcher-password"))
    user.groups.add(Group.objects.get_or_create(name="monitor")[0])
    auth = ("watcher", "watcher-password")

    listed = httpx.get(f"{server}/_tasks", auth=auth)
    refused = httpx.post(f"{server}/_tasks/_cancel", auth=auth)

    assert listed.status_code == 200
    assert refused.status_code == 403
    assert reason(refused) == (
        "action [cluster:admin/tasks/cancel] is unauthorized for user [watcher], "
        "this action is granted by the cluster privileges [manage]"
    )
