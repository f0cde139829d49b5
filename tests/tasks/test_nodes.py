"""Nodes that left the cluster are forgotten: after JOBSITE_NODE_FORGET_SECONDS of silence (by every
node's housekeeping), or by hand from the admin (connected nodes refused); the tasks that ran on them keep
their ids, in the `_tasks` API and in the admin."""

import dataclasses
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from jobsite.errors import Conflict
from tasks import registry
from tasks.models import Node, Task
from tasks.nodes import forget_node, forget_silent_nodes
from tests.test_admin import admin_url, make_node

HOUR = 3600


@pytest.fixture
def forget_after_an_hour(settings):
    settings.JOBSITE = dataclasses.replace(settings.JOBSITE, node_forget_seconds=HOUR)


def silent_for(seconds: float, **fields) -> Node:
    return make_node(heartbeat_at=timezone.now() - timedelta(seconds=seconds), **fields)


def test_nodes_silent_past_the_forget_time_are_forgotten_and_the_others_kept(db, forget_after_an_hour):
    long_gone = silent_for(HOUR + 60)
    stopped_long_ago = silent_for(HOUR + 60, stopped_at=timezone.now() - timedelta(seconds=HOUR + 60))
    disconnected = silent_for(600)
    connected = silent_for(1)

    assert forget_silent_nodes(silence_seconds=HOUR) == 2

    assert set(Node.objects.values_list("pk", flat=True)) == {disconnected.pk, connected.pk}
    assert long_gone.pk and stopped_long_ago.pk


def test_a_forget_time_of_zero_keeps_every_node(db):
    silent_for(10 * 365 * 24 * HOUR)

    assert forget_silent_nodes(silence_seconds=0) == 0
    assert Node.objects.count() == 1


def test_a_forget_time_below_the_node_timeout_never_forgets_a_connected_node(db):
    connected = silent_for(5)  # the node timeout is 30 s

    assert forget_silent_nodes(silence_seconds=1) == 0
    assert Node.objects.filter(pk=connected.pk).exists()


def test_forgetting_refuses_a_connected_node(db):
    node = silent_for(1)

    with pytest.raises(Conflict, match="is connected"):
        forget_node(node)
    assert Node.objects.filter(pk=node.pk).exists()


def test_a_forgotten_nodes_tasks_keep_their_ids(api):
    gone = silent_for(2 * HOUR)
    task = registry.begin(action="cluster:admin/tests/work", description="ran there", node_id=gone.node_id)
    registry.finish(task, result={"done": True})

    forget_node(gone)

    assert not Node.objects.filter(pk=gone.pk).exists()
    response = api.get(f"/_tasks/{gone.node_id}:{task.pk}")
    assert response.status_code == 200, response.text
    assert response.json()["task"]["node"] == gone.node_id
    assert response.json()["completed"] is True
    assert Task.objects.get(pk=task.pk).task_id == f"{gone.node_id}:{task.pk}"


# --- the admin action --------------------------------------------------------------------------------------


def forget_from_admin(client, *nodes):
    return client.post(
        admin_url(Node, "changelist"), {"action": "forget", "_selected_action": [n.pk for n in nodes], "index": 0}
    )


def messages_of(response):
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def test_the_admin_forgets_disconnected_nodes_and_refuses_connected_ones(admin_client):
    gone = silent_for(2 * HOUR, name="gone")
    here = silent_for(1, name="here")

    response = forget_from_admin(admin_client, gone, here)

    assert response.status_code == 302
    assert list(Node.objects.values_list("pk", flat=True)) == [here.pk]
    assert messages_of(response) == [
        ("error", f"{here}: node [{here.node_id}] is connected; only a node that left the cluster can be forgotten"),
        ("success", "1 node forgotten."),
    ]


def test_a_task_of_a_forgotten_node_still_opens_in_the_admin(admin_client):
    gone = silent_for(2 * HOUR)
    task = registry.begin(action="cluster:admin/tests/work", description="ran there", node_id=gone.node_id)
    forget_node(gone)

    page = admin_client.get(admin_url(Task, "change", task.pk))
    listing = admin_client.get(admin_url(Task, "changelist"))

    assert page.status_code == 200 and gone.node_id in page.content.decode()
    assert listing.status_code == 200 and gone.node_id in listing.content.decode()
